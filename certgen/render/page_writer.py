"""The page writer: draws a certificate with the same drawing code, without a ReportLab document.

ReportLab builds a tree of Python objects for every document and formats it (dictionaries,
font subsets, widths arrays, a ToUnicode CMap and a font program per font and document, the
guilloche form, the photo): about three quarters of issuing time. The page writer is a
drop-in for the part of ReportLab's `Canvas` that certgen/render/document.py calls: the same
`draw_*` functions run against it unchanged and it records PDF operators as strings. What is
the same for every document of a batch is built once per process as finished, compressed PDF
objects: each font subset (keyed by the characters it holds: documents with ASCII-only
variable text share one), the guilloche and other forms. Per document it writes the
variable content stream, the photo (a JPEG copied unchanged, as ReportLab does), the
signature field with its placeholders (signed in place by `certgen.sign.PdfSealer.complete`)
and the cross-reference table (certgen/render/pdf_objects.py). A canvas keeps each page's
content stream as written, and `render(keep=...)` hands the canvas back: a print sheet places
the card file's pages as form XObjects instead of drawing the cards again (placed_pages.py).

Parts of a page that are the same for every person of a layout (the letterhead, microtext,
back text...) are marked by the layouts with `fixed(c, key, draw)`: recorded once per process
and replayed without drawing (certgen/render/fixed_parts.py; `fixed_parts.page_content` builds
each page's content bytes: compressed whole, the same file as drawn without parts, or switched
on, spliced from parts compressed once, deflate_splice.py).

Text is encoded by the fonts' own `splitString` (through certgen/adapters/reportlab.py), so
each character gets the code ReportLab would give it, and the font programs are ReportLab's
own subsets. Anything this writer does not draw (an image emblem, a PNG photo, CJK fallback
fonts, a call it does not know) raises `Unsupported` before anything is written, and the
document is drawn by ReportLab instead (`certgen.render.document`); so is everything when
the ReportLab adapter is not installed (`CERTGEN_ADAPTERS=off`, an untested ReportLab).
tests/test_page_writer.py checks that both give the same text, pixels and signatures.
"""

from __future__ import annotations

import io
import math
import os
import zlib
from collections import OrderedDict
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Callable

from reportlab.lib.boxstuff import aspectRatioFix
from reportlab.lib.colors import Color, CMYKColor, toColor
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics

from ..adapters import ACTIVE
from ..adapters import reportlab as adapter
from ..pdf_signature import SignatureField
from . import fallback, fixed_parts
from .pdf_settings import new_canvas
from .pdf_objects import PdfObjects, array, literal, name, ref, text_string
from . import signature_field
from .signature_field import _signature_dictionary

#: Switch for tests and benchmarks: False draws every document with ReportLab.
ENABLED = True
_CACHE_ENTRIES = 64
_OPERATOR_ENTRIES = 8192
#: Operators of printable ASCII strings, by (font number, font, size, leading, x, y, text).
_ascii_operators: dict[tuple[Any, ...], str] = {}
#: Flate level of what is compressed once per process (font subsets, forms): the smallest
#: files for the time of one compression; content streams, per document, at pdf_objects'.
ONCE_LEVEL = 9
_PATH_OPS = {(0, 0): "n", (1, 0): "S", (0, 1): "f*", (1, 1): "B*"}  # ReportLab's (even-odd fill)


class Unsupported(Exception):
    """The page writer does not draw this document (ReportLab does); the message says why."""


def usable() -> bool:
    """The page writer may be used: switched on and the ReportLab adapter installed."""
    return ENABLED and ACTIVE.reportlab and not ACTIVE.switched_off


def render(pagesize: tuple[float, float], initial_font: str, draw: Callable[[Any], None], *records: Any,
           keep: list[PageCanvas] | None = None) -> bytes:
    """The PDF `draw(canvas)` draws (ending with `canvas.save()`): on the page writer when it
    is usable and draws everything asked, else on a ReportLab canvas. `records` (dataclasses):
    text printed, checked for letters only a CJK fallback font has. `keep` gets the page
    writer's canvas, if it drew the file (certgen/render/placed_pages.py places its pages)."""
    if usable() and not needs_fallback(getattr(r, f.name) for r in records for f in fields(r)):
        buffer = io.BytesIO()
        try:
            canvas = PageCanvas(buffer, pagesize, initial_font)
            draw(canvas)
            if keep is not None:
                keep.append(canvas)
            return buffer.getvalue()
        except Unsupported:
            pass  # drawn by ReportLab below, from the start
    buffer = io.BytesIO()
    draw(new_canvas(buffer, pagesize, initial_font))
    return buffer.getvalue()


def add_signature_field(c: Any, spec: SignatureField, font: str) -> None:
    """The signature field on the page being drawn, on either canvas."""
    if isinstance(c, PageCanvas):
        c.add_signature_field(spec, font)
    else:
        signature_field.add_signature_field(c, spec, font)


def fixed(c: Any, key: Any, draw: Callable[[Any], Any]) -> Any:
    """Draw a part of the page that is the same for every person drawn with `key` (which holds
    everything `draw` reads: texts, positions, `fixed_parts.token` of templates and fonts): on
    the page writer recorded once per process and replayed, compressed once
    (certgen/render/fixed_parts.py); on a ReportLab canvas simply drawn. Returns `draw`'s result."""
    if isinstance(c, PageCanvas):
        return fixed_parts.fixed_on(c, key, draw)
    return draw(c)


def needs_fallback(texts: Any) -> bool:
    """Whether any of `texts` has a letter printed by a CJK fallback font (ReportLab draws those)."""
    return any(not t.isascii() and any(fallback.may_fall_back(ord(c)) for c in t) for t in texts if isinstance(t, str))


class _Form:
    __slots__ = ("name", "bbox", "code")

    def __init__(self, name_: str, bbox: tuple[float, float, float, float]) -> None:
        self.name, self.bbox, self.code = name_, bbox, []


class PageCanvas:
    """A document's pages, drawn like on a ReportLab `Canvas` (the methods certgen's layouts
    call); `save` writes the file to `target`."""

    def __init__(self, target: BinaryIO, pagesize: tuple[float, float], initial_font: str) -> None:
        self._target = target
        self._pagesize = pagesize
        self._text = adapter.TextState()
        self._code: list[str] = []
        self._page: list[str] | None = None
        self._font, self._size, self._leading = initial_font, 12.0, 14.4
        self._stack: list[tuple[str, float, float]] = []
        self._fonts: dict[str, int] = {}  # font name -> number in resource names (F1, F2...)
        self._forms: dict[str, _Form] = {}
        self._form: _Form | None = None
        self._images: dict[str, tuple[str, bytes, int, int, int]] = {}  # path -> (resource, data, w, h, components)
        self._info: dict[str, str] = {}
        self._signature: tuple[SignatureField, str, int] | None = None  # spec, appearance form, page index
        self._initial_font = initial_font
        self._done: list[list[str]] = []  # operators of the finished pages
        self._contents: list[bytes] = []  # their content streams as written (placed_pages.py reuses them)

    def __getattr__(self, attribute: str) -> Any:
        """Any other Canvas method or internal (e.g. `_doc`): this document is ReportLab's."""
        if attribute.startswith("__"):  # copy, pickle and the like probe for these
            raise AttributeError(attribute)
        raise Unsupported(f"Canvas.{attribute} is not drawn by the page writer")

    # -- document information --------------------------------------------------------------
    def setTitle(self, text: str) -> None:
        self._info["Title"] = text

    def setAuthor(self, text: str) -> None:
        self._info["Author"] = text

    def setSubject(self, text: str) -> None:
        self._info["Subject"] = text

    def setKeywords(self, text: str) -> None:
        self._info["Keywords"] = text

    # -- graphics state ----------------------------------------------------------------------
    def saveState(self) -> None:
        self._stack.append((self._font, self._size, self._leading))
        self._code.append("q")

    def restoreState(self) -> None:
        self._font, self._size, self._leading = self._stack.pop()
        self._code.append("Q")

    def translate(self, dx: float, dy: float) -> None:
        self._code.append(f"1 0 0 1 {fp_str(dx, dy)} cm")

    def scale(self, x: float, y: float) -> None:
        self._code.append(f"{fp_str(x)} 0 0 {fp_str(y)} 0 0 cm")

    def rotate(self, theta: float) -> None:
        c, s = math.cos(theta * math.pi / 180), math.sin(theta * math.pi / 180)
        self._code.append(f"{fp_str(c, s, -s, c)} 0 0 cm")

    def setFillColor(self, colour: Any) -> None:
        self._code.append(f"{_rgb(colour)} rg")

    def setStrokeColor(self, colour: Any) -> None:
        self._code.append(f"{_rgb(colour)} RG")

    def setFillColorRGB(self, r: float, g: float, b: float) -> None:
        self._code.append(f"{fp_str(r, g, b)} rg")

    def setStrokeColorRGB(self, r: float, g: float, b: float) -> None:
        self._code.append(f"{fp_str(r, g, b)} RG")

    def setLineWidth(self, width: float) -> None:
        self._code.append(f"{fp_str(width)} w")

    def setDash(self, array_: Any = (), phase: float = 0) -> None:
        if isinstance(array_, (int, float)):
            array_, phase = (array_, phase), 0
        self._code.append(f"[{fp_str(*array_) if array_ else ''}] {fp_str(phase)} d")

    def setFont(self, font: str, size: float, leading: float | None = None) -> None:
        self._font, self._size, self._leading = font, size, size * 1.2 if leading is None else leading

    # -- paths -------------------------------------------------------------------------------
    def rect(self, x: float, y: float, width: float, height: float, stroke: int = 1, fill: int = 0) -> None:
        self._code.append(f"n {fp_str(x, y, width, height)} re {_PATH_OPS[bool(stroke), bool(fill)]}")

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self._code.append(f"n {fp_str(x1, y1)} m {fp_str(x2, y2)} l S")

    def addLiteral(self, operators: str) -> None:
        self._code.append(operators)

    # -- text --------------------------------------------------------------------------------
    def stringWidth(self, text: str, font: str | None = None, size: float | None = None) -> float:
        return pdfmetrics.stringWidth(text, font or self._font, self._size if size is None else size)

    def drawString(self, x: float, y: float, text: str) -> None:
        """As ReportLab writes it (`BT Tm Tf TL Tj T* ET`): text extraction sees the same lines.
        Printable ASCII has the same codes in every document (ReportLab's `ttfAsciiReadable`)
        and changes no font state, so its operators are formatted once per process."""
        font = self._font
        number = self._fonts.get(font)
        if number is None:
            number = self._fonts[font] = len(self._fonts) + 1
            adapter.start_font(font, self._text)  # the font's state in this document, even if all text is cached
        if text.isascii() and text.isprintable():
            key = (number, font, self._size, self._leading, x, y, text)
            found = _ascii_operators.get(key)
            if found is None:
                if len(_ascii_operators) >= _OPERATOR_ENTRIES:
                    _ascii_operators.clear()
                found = _ascii_operators[key] = self._text_operators(number, x, y, text)
            self._code.append(found)
            return
        self._code.append(self._text_operators(number, x, y, text))

    def _text_operators(self, number: int, x: float, y: float, text: str) -> str:
        parts = [f"BT 1 0 0 1 {fp_str(x, y)} Tm"]
        size = f"{fp_str(self._size)} Tf {fp_str(self._leading)} TL"
        for subset, codes in adapter.split_text(self._font, text, self._text):
            if subset >= 256 * 256:  # a CJK fallback font's subset (certgen/render/fallback.py)
                raise Unsupported("text printed by a fallback font")
            parts.append(f"/F{number}+{subset} {size} {literal(codes).decode('latin-1')} Tj")
        parts.append("T* ET")
        return " ".join(parts)

    def drawCentredString(self, x: float, y: float, text: str) -> None:
        self.drawString(x - _width(text, self._font, self._size) / 2, y, text)

    def drawRightString(self, x: float, y: float, text: str) -> None:
        self.drawString(x - _width(text, self._font, self._size), y, text)

    # -- forms and images --------------------------------------------------------------------
    def hasForm(self, name_: str) -> bool:
        return name_ in self._forms

    def beginForm(self, name_: str, lowerx: float = 0, lowery: float = 0, upperx: float | None = None,
                  uppery: float | None = None) -> None:
        if self._form is not None or name_ in self._forms:
            raise Unsupported(f"form {name_} nested or drawn twice")
        width, height = self._pagesize
        self._form = _Form(name_, (lowerx, lowery, width if upperx is None else upperx,
                                   height if uppery is None else uppery))
        self._page, self._code = self._code, self._form.code

    def endForm(self) -> None:
        if self._form is None or self._page is None:
            raise Unsupported("endForm without beginForm")
        self._forms[self._form.name] = self._form
        self._code, self._page, self._form = self._page, None, None

    def doForm(self, name_: str) -> None:
        if name_ not in self._forms:
            raise Unsupported(f"form {name_} not defined")
        self._code.append(f"/X{list(self._forms).index(name_) + 1} Do")

    def drawImage(self, image: Any, x: float, y: float, width: float | None = None, height: float | None = None,
                  mask: Any = None, preserveAspectRatio: bool = False, anchor: str = "c", **_: Any) -> tuple[int, int]:
        if not isinstance(image, (str, Path)) or mask is not None or _:
            raise Unsupported("only JPEG files are drawn without ReportLab")
        path = str(image)
        found = self._images.get(path)
        if found is None:
            data, info = _jpeg(path)
            found = self._images[path] = (f"Im{len(self._images) + 1}", data, *info)
        resource, _data, image_w, image_h, _components = found
        x, y, width, height, _scaled = aspectRatioFix(preserveAspectRatio, anchor, x, y, width, height, image_w,
                                                      image_h)
        self._code.append(f"q 1 0 0 1 {fp_str(x, y)} cm {fp_str(width)} 0 0 {fp_str(height)} 0 0 cm /{resource} Do Q")
        return image_w, image_h

    # -- the signature field -----------------------------------------------------------------
    def add_signature_field(self, spec: SignatureField, font: str, font_size: float = 7.0) -> None:
        """The field, its appearance and the signature dictionary with the placeholders that
        `certgen.sign.PdfSealer.complete` fills (as certgen/render/signature_field.py draws
        them on a ReportLab canvas)."""
        appearance = "certgen-signature"
        signature_field.draw_appearance(self, appearance, spec, font, font_size)  # type: ignore[arg-type]
        self._signature = (spec, appearance, len(self._done))

    # -- output ------------------------------------------------------------------------------
    def showPage(self) -> None:
        """End the page; the next starts with a fresh graphics state (as in ReportLab)."""
        if self._page is not None or self._form is not None or self._stack:
            raise Unsupported("showPage inside a form or with a saved graphics state")
        self._done.append(self._code)
        self._code = []
        self._font, self._size, self._leading = self._initial_font, 12.0, 14.4

    def save(self) -> None:
        if self._code or not self._done:  # as ReportLab: an empty document has one empty page
            self.showPage()
        self._target.write(self._write())

    def _write(self) -> bytes:
        pdf = PdfObjects()
        catalog, pages = pdf.reserve(), pdf.reserve()
        page_numbers = [pdf.reserve() for _ in self._done]
        fonts = pdf.add(b"<< " + b" ".join(self._font_objects(pdf)) + b" >>")
        xobjects = []
        form_numbers = {}
        for i, form in enumerate(self._forms.values(), 1):
            number = form_numbers[form.name] = pdf.add_stream(_form_entries(form, fonts), _form_stream(form))
            xobjects.append(b"/X%d %s" % (i, ref(number)))
        for resource, data, width, height, components in self._images.values():
            space = b"/DeviceRGB" if components == 3 else b"/DeviceGray"
            number = pdf.add_stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                                    b"/BitsPerComponent 8 /Filter /DCTDecode" % (width, height, space), data)
            xobjects.append(name(resource) + b" " + ref(number))
        resources = pdf.add(b"<< /Font " + ref(fonts) + b" /XObject << " + b" ".join(xobjects) + b" >> >>")
        width, height = self._pagesize
        catalog_entries = [b"/Type /Catalog /Pages", ref(pages), b"/PageMode /UseNone"]
        annotations: dict[int, bytes] = {}
        if self._signature is not None:
            spec, appearance, index = self._signature
            widget = _signature_objects(pdf, spec, page_numbers[index], form_numbers[appearance], catalog_entries)
            annotations[index] = b" /Annots [" + ref(widget) + b"]"
        identity = [b"%d %d" % (len(self._done), len(self._images))]
        for index, (number, code) in enumerate(zip(page_numbers, self._done)):
            data = fixed_parts.page_content(code)
            identity.append(data)
            content = pdf.add_stream(b"/Filter /FlateDecode", data)
            self._contents.append(data)
            pdf.put(number, b"<< /Type /Page /Parent " + ref(pages) + b" /MediaBox " + array([0, 0, width, height])
                    + b" /Resources " + ref(resources) + b" /Contents " + ref(content)
                    + annotations.get(index, b"") + b" >>")
        pdf.put(pages, b"<< /Type /Pages /Kids [" + b" ".join(ref(n) for n in page_numbers) + b"] /Count %d >>"
                % len(page_numbers))
        pdf.put(catalog, b"<< " + b" ".join(catalog_entries) + b" >>")
        info_body = (b"<< " + b" ".join(name(k) + b" " + text_string(v) for k, v in sorted(self._info.items()))
                     + b" /Producer (certgen page writer) /Trapped /False >>")
        info = pdf.add(info_body)
        # the /ID: fonts and forms follow from the content streams; photos, information and
        # the signature's own entries are added in
        identity += [data for _, data, *_ in self._images.values()]
        identity += [info_body, repr(self._signature).encode("utf-8")]
        return pdf.write(catalog, info, b"".join(identity))

    def _font_objects(self, pdf: PdfObjects) -> list[bytes]:
        entries = []
        for font, number in self._fonts.items():
            for index, subset in enumerate(adapter.font_subsets(font, self._text)):
                bodies = _subset_bodies(font, index, subset)
                program = pdf.add_stream(bodies.program_entries, bodies.program)
                descriptor = pdf.add(bodies.descriptor % ref(program))
                to_unicode = pdf.add_stream(b"/Filter /FlateDecode", bodies.to_unicode)
                resource = f"F{number}+{index}"
                entries.append(name(resource) + b" " + ref(pdf.add(bodies.font % (name(resource), ref(descriptor),
                                                                                   ref(to_unicode)))))
        return entries


def _signature_objects(pdf: PdfObjects, spec: SignatureField, page: int, appearance: int,
                       catalog_entries: list[bytes]) -> int:
    """The signature dictionary and the widget (returned); the catalog's AcroForm, extensions
    and text entries go to `catalog_entries`. The same objects as signature_field.py writes."""
    value = pdf.add(_signature_dictionary(spec)(text_string))
    x1, y1, x2, y2 = spec.box
    widget = pdf.add(b"<< /Type /Annot /Subtype /Widget /FT /Sig /T " + text_string(spec.name) + b" /F 132 /Rect "
                     + array([x1, y1, x2, y2]) + b" /P " + ref(page) + b" /AP << /N " + ref(appearance)
                     + b" >> /V " + ref(value) + b" >>")
    extensions = [b"/ESIC << /Type /DeveloperExtensions /BaseVersion /1.7 /ExtensionLevel 1 >>"]
    if spec.iso32002:
        extensions.append(b"/ISO_ [<< /Type /DeveloperExtensions /BaseVersion /2.0 /ExtensionLevel 32002 /URL "
                          b"(https://www.iso.org/standard/45875.html) /ExtensionRevision (:2022) >>]")
        catalog_entries.append(b"/Version /2.0")
    catalog_entries += [b"/AcroForm << /Fields [" + ref(widget) + b"] /SigFlags 3 >>",
                        b"/Extensions << " + b" ".join(extensions) + b" >>"]
    for key, text in spec.catalog_text.items():
        catalog_entries.append(name(key.lstrip("/")) + b" " + text_string(text))
    return widget


_photos: OrderedDict[tuple[Any, ...], tuple[bytes, tuple[int, int, int]]] = OrderedDict()
_PHOTO_ENTRIES = 16


def _jpeg(path: str) -> tuple[bytes, tuple[int, int, int]]:
    """A JPEG's bytes and (width, height, components), read once for the certificate, the
    card and the print sheet of a person (kept while the file's identity and time are the same)."""
    if not path.lower().endswith((".jpg", ".jpeg")):
        raise Unsupported(f"{path}: not a JPEG file")
    try:
        status = os.stat(path)
        key = (path, status.st_ino, status.st_size, status.st_mtime_ns)
        found = _photos.get(key)
        data = Path(path).read_bytes() if found is None else b""
    except OSError as exc:  # ReportLab fails on it in its own words, as before
        raise Unsupported(f"{path}: {exc}") from None
    if found is None:
        info = adapter.jpeg_info(data)
        if info is None or info[2] not in (1, 3):
            raise Unsupported(f"{path}: not a grey or RGB JPEG")
        found = _photos[key] = (data, info)
        if len(_photos) > _PHOTO_ENTRIES:
            _photos.popitem(last=False)
    return found


def _width(text: str, font: str, size: float) -> float:
    if text.isascii():  # widths of other text change when the CJK fallback fonts are switched on
        return _ascii_width(text, font, size)
    return pdfmetrics.stringWidth(text, font, size)


@lru_cache(maxsize=4096)
def _ascii_width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


_colours: dict[tuple[type, Any], str] = {}


def _rgb(colour: Any) -> str:
    """`r g b` of a colour, formatted once per process for each colour (a hashable value)."""
    key = (type(colour), colour)
    found = _colours.get(key)
    if found is None:
        if len(_colours) >= 256:
            _colours.clear()
        found = _colours[key] = _rgb_text(colour) if isinstance(colour, str) else _rgb_value(colour)
    return found


def _rgb_value(colour: Any) -> str:
    c = toColor(colour)
    if isinstance(c, CMYKColor) or not isinstance(c, Color) or getattr(c, "alpha", 1) != 1:
        raise Unsupported(f"colour {colour!r}")
    return fp_str(c.red, c.green, c.blue)


@lru_cache(maxsize=64)
def _rgb_text(colour: str) -> str:
    return _rgb_value(toColor(colour))


def _form_entries(form: _Form, fonts: int) -> bytes:
    return (b"/Type /XObject /Subtype /Form /FormType 1 /BBox " + array(form.bbox) + b" /Matrix [1 0 0 1 0 0]"
            b" /Resources << /Font " + ref(fonts) + b" >> /Filter /FlateDecode")


_streams: OrderedDict[tuple[str, ...], bytes] = OrderedDict()


def _form_stream(form: _Form) -> bytes:
    """The compressed operators of a form; forms drawn the same in every document (the
    guilloche) are compressed once per process."""
    key = tuple(form.code)
    found = _streams.get(key)
    if found is None:
        found = _streams[key] = zlib.compress("\n".join(form.code).encode("latin-1"), ONCE_LEVEL)
        if len(_streams) > _CACHE_ENTRIES:
            _streams.popitem(last=False)
    return found


class _SubsetBodies:
    """Finished objects of one font subset; `%s` marks where per-file references go."""

    __slots__ = ("program_entries", "program", "descriptor", "to_unicode", "font")

    def __init__(self, font: str, index: int, subset: list[int]) -> None:
        parts = adapter.subset_parts(font, index, subset)
        d = parts.descriptor
        self.program_entries = b"/Filter /FlateDecode /Length1 %d" % len(parts.program)
        self.program = zlib.compress(parts.program, ONCE_LEVEL)
        base = name(parts.base_font)
        self.descriptor = (b"<< /Type /FontDescriptor /FontName " + base + b" /Flags %d /FontBBox " % d["Flags"]
                           + array(d["FontBBox"]) + b" /ItalicAngle " + array([d["ItalicAngle"]])[1:-1]
                           + b" /Ascent %d /Descent %d /CapHeight %d /StemV %d /MissingWidth %d /FontFile2 %%s >>"
                           % (d["Ascent"], d["Descent"], d["CapHeight"], d["StemV"], d["MissingWidth"]))
        self.to_unicode = zlib.compress(parts.to_unicode, ONCE_LEVEL)
        self.font = (b"<< /Type /Font /Subtype /TrueType /Name %s /BaseFont " + base
                     + b" /FirstChar 0 /LastChar %d /Widths " % (len(subset) - 1) + array(parts.widths)
                     + b" /FontDescriptor %s /ToUnicode %s >>")


_subsets: OrderedDict[tuple[str, int, tuple[int, ...]], _SubsetBodies] = OrderedDict()


def _subset_bodies(font: str, index: int, subset: list[int]) -> _SubsetBodies:
    """A subset's objects, built once per process for each distinct set of characters."""
    key = (font, index, tuple(subset))
    found = _subsets.get(key)
    if found is None:
        found = _subsets[key] = _SubsetBodies(font, index, subset)
        if len(_subsets) > _CACHE_ENTRIES:
            _subsets.popitem(last=False)
    else:
        _subsets.move_to_end(key)
    return found
