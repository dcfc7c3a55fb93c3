"""Finished pages placed on another page as form XObjects: print sheets without drawing every card again.

A print sheet shows ten cards, front and back. Drawing them again on the sheet (about 0.3 ms a
person, a tenth of an issuing worker's time) repeats what drawing the card files has just done.
Here each card's page, as the page writer wrote it into the card file (its compressed content
stream, unchanged), becomes a form XObject with the card's own resources (its font subsets,
photo and guilloche form) and the card's box as /BBox; the sheet's pages place them with
`q 1 0 0 1 x y cm /Cn Do Q` and add their crop marks and label. The page content of a card
starts in the default graphics state, which is what a form gets at a `Do` in the page's own
default state, and it is clipped to the card's box, as on the card's page.

Objects that are the same for several cards of a sheet are written once: font subsets with the
same characters (all cards whose text is ASCII share them), the guilloche form, resource
dictionaries. Distinct subsets of one font get distinct tags (ISO 32000-1 9.6.4: "different
subsets in the same PDF file shall have different tags"), as one document's subsets have.

The sheet's bytes follow from the cards' pages alone, so a sheet drawn from the card files
just written and one drawn again from the registry's records on a rerun are the same file
(reruns compare SHA-256). This module reads the page writer's canvas after it wrote a file
(`drawn_pages`): it is the page writer's companion, the one place that reaches into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from reportlab.pdfbase import ttfonts

from ..adapters import reportlab as adapter
from . import page_writer
from .pdf_objects import PdfObjects, array, name, ref, text_string

#: The filter of the content streams the page writer writes (page_writer.PageCanvas._write).
CONTENT_FILTER = b"/Filter /FlateDecode"
_TAG = re.compile(rb"/FontName /([A-Z]{6})\+")
#: Tags given to a second, different subset of a font on one sheet: past any subset index a
#: document's text reaches (256 characters a subset).
_RETAG_FROM = 4096


@dataclass(frozen=True)
class DrawnPages:
    """A document as the page writer wrote it: what placing its pages elsewhere needs."""

    size: tuple[float, float]
    #: Each page's content stream, compressed, as in the file (CONTENT_FILTER).
    contents: tuple[bytes, ...]
    #: (resource name, (font, subset index, code points), finished objects) of each font subset used.
    fonts: tuple[tuple[str, tuple[str, int, tuple[int, ...]], page_writer._SubsetBodies], ...]
    #: (resource name, /BBox, compressed stream, draws text?) of each form the pages draw (not the
    #: signature's appearance).
    forms: tuple[tuple[str, tuple[float, float, float, float], bytes, bool], ...]
    #: (resource name, JPEG bytes, width, height, components) of each image.
    images: tuple[tuple[str, bytes, int, int, int], ...]
    #: The document information entries set while drawing (title, keywords...).
    info: tuple[tuple[str, str], ...]


def drawn_pages(canvas: page_writer.PageCanvas) -> DrawnPages:
    """What `canvas` wrote (after its `save`): the same streams and objects its file holds,
    without the signature field, so a signed card and the same card drawn unsigned give one."""
    c = canvas
    if len(c._contents) != len(c._done):
        raise ValueError("the page writer's canvas has not written its file yet")
    fonts = []
    for font, number in c._fonts.items():
        for index, subset in enumerate(adapter.font_subsets(font, c._text)):
            key = (font, index, tuple(subset))
            fonts.append((f"F{number}+{index}", key, page_writer._subset_bodies(font, index, subset)))
    signature = None if c._signature is None else c._signature[1]
    forms = []
    for i, form in enumerate(c._forms.values(), 1):
        if form.name != signature:
            stream = page_writer._form_stream(form)
            forms.append((f"X{i}", form.bbox, stream, _draws_text(stream, form.code)))
    return DrawnPages(c._pagesize, tuple(c._contents), tuple(fonts), tuple(forms), tuple(c._images.values()),
                      tuple(c._info.items()))


_text_forms: dict[bytes, bool] = {}


def _draws_text(stream: bytes, code: list[str]) -> bool:
    """Whether a form's operators set a font (the page writer's text: `/F1+0 7 Tf`); looked up
    by its compressed stream, the same object for every document (page_writer._form_stream)."""
    found = _text_forms.get(stream)
    if found is None:
        if len(_text_forms) >= 64:
            _text_forms.clear()
        found = _text_forms[stream] = any(" Tf " in op for op in code)
    return found


class _Objects:
    """The sheet's objects, each distinct one written once."""

    def __init__(self, pdf: PdfObjects) -> None:
        self.pdf = pdf
        self._fonts: dict[tuple[str, int, tuple[int, ...]], int] = {}
        self._tags: set[tuple[str, bytes]] = set()
        self._dicts: dict[bytes, int] = {}
        self._forms: dict[tuple[tuple[float, ...], bytes, int | None], int] = {}
        self._images: dict[tuple[bytes, int, int, int], int] = {}
        self._resources: dict[int, int] = {}  # id(DrawnPages) -> its resource dictionary
        self.images: list[bytes] = []  # each distinct image once, for the /ID

    def resources(self, drawn: DrawnPages, more: bytes = b"") -> int:
        """The resource dictionary of `drawn`'s pages (one for all of them, as in its file),
        with `more` XObject entries (the sheet's own page: the placed cards)."""
        if not more and id(drawn) in self._resources:
            return self._resources[id(drawn)]
        fonts = self._dict(b"<< " + b" ".join(name(r) + b" " + ref(self._font(r, k, bodies))
                                            for r, k, bodies in drawn.fonts)
                           + b" >>")
        xobjects = [name(r) + b" " + ref(self._form(bbox, stream, fonts if text else None))
                    for r, bbox, stream, text in drawn.forms]
        xobjects += [name(r) + b" " + ref(self._image(data, w, h, components)) for r, data, w, h, components in drawn.images]
        body = b"<< /Font " + ref(fonts) + b" /XObject << " + b" ".join(xobjects) + more + b" >> >>"
        number = self._dict(body)
        if not more:
            self._resources[id(drawn)] = number
        return number

    def _dict(self, body: bytes) -> int:
        found = self._dicts.get(body)
        if found is None:
            found = self._dicts[body] = self.pdf.add(body)
        return found

    def _font(self, resource: str, key: tuple[str, int, tuple[int, ...]], bodies: page_writer._SubsetBodies) -> int:
        found = self._fonts.get(key)
        if found is not None:
            return found
        descriptor, font = bodies.descriptor, bodies.font
        tag = _TAG.search(descriptor)
        if tag is not None:
            if (key[0], tag.group(1)) in self._tags:  # another subset of this font has the tag
                new = ttfonts.SUBSETN(_RETAG_FROM + len(self._fonts))
                old_name, new_name = b"/" + tag.group(1) + b"+", b"/" + new + b"+"
                descriptor, font = descriptor.replace(old_name, new_name), font.replace(old_name, new_name)
                tag = _TAG.search(descriptor)
            self._tags.add((key[0], tag.group(1)))  # type: ignore[union-attr]
        pdf = self.pdf
        program = pdf.add_stream(bodies.program_entries, bodies.program)
        described = pdf.add(descriptor % ref(program))
        to_unicode = pdf.add_stream(b"/Filter /FlateDecode", bodies.to_unicode)
        found = self._fonts[key] = pdf.add(font % (name(resource), ref(described), ref(to_unicode)))
        return found

    def _form(self, bbox: tuple[float, ...], stream: bytes, fonts: int | None) -> int:
        """A form of a placed page (the guilloche): with the fonts of that page if it draws text,
        else with none, so every card shows the one copy."""
        key = (bbox, stream, fonts)
        found = self._forms.get(key)
        if found is None:
            resources = b"<< >>" if fonts is None else b"<< /Font " + ref(fonts) + b" >>"
            found = self._forms[key] = self.pdf.add_stream(
                b"/Type /XObject /Subtype /Form /FormType 1 /BBox " + array(bbox) + b" /Matrix [1 0 0 1 0 0]"
                b" /Resources " + resources + b" /Filter /FlateDecode", stream)
        return found

    def _image(self, data: bytes, width: int, height: int, components: int) -> int:
        key = (data, width, height, components)
        found = self._images.get(key)
        if found is None:
            space = b"/DeviceRGB" if components == 3 else b"/DeviceGray"
            found = self._images[key] = self.pdf.add_stream(
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
                b"/Filter /DCTDecode" % (width, height, space), data)
            self.images.append(data)
        return found


def write_placed(sheet: DrawnPages, placed: Sequence[Sequence[tuple[str, DrawnPages, int]]]) -> bytes:
    """The file of `sheet`'s pages (drawn on the page writer: the marks, the label and a `Do`
    of each placed page's resource name), page i placing `placed[i]`: (resource name, document,
    page index) each, as a form XObject of that page's content stream and its resources."""
    if len(placed) != len(sheet.contents):
        raise ValueError(f"{len(placed)} lists of placed pages for {len(sheet.contents)} pages")
    pdf = PdfObjects()
    catalog, pages = pdf.reserve(), pdf.reserve()
    page_numbers = [pdf.reserve() for _ in sheet.contents]
    objects = _Objects(pdf)
    width, height = sheet.size
    identity = [b"%d" % len(sheet.contents)]
    for number, content, on_page in zip(page_numbers, sheet.contents, placed):
        forms = []
        for resource, drawn, index in on_page:
            w, h = drawn.size
            stream = drawn.contents[index]
            identity.append(stream)
            form = pdf.add_stream(b"/Type /XObject /Subtype /Form /FormType 1 /BBox " + array([0, 0, w, h])
                                  + b" /Matrix [1 0 0 1 0 0] /Resources " + ref(objects.resources(drawn)) + b" "
                                  + CONTENT_FILTER, stream)
            forms.append(b" " + name(resource) + b" " + ref(form))
        resources = objects.resources(sheet, b"".join(forms))
        identity.append(content)
        stream_number = pdf.add_stream(CONTENT_FILTER, content)
        pdf.put(number, b"<< /Type /Page /Parent " + ref(pages) + b" /MediaBox " + array([0, 0, width, height])
                + b" /Resources " + ref(resources) + b" /Contents " + ref(stream_number) + b" >>")
    pdf.put(pages, b"<< /Type /Pages /Kids [" + b" ".join(ref(n) for n in page_numbers) + b"] /Count %d >>"
            % len(page_numbers))
    pdf.put(catalog, b"<< /Type /Catalog /Pages " + ref(pages) + b" /PageMode /UseNone >>")
    info_body = (b"<< " + b" ".join(name(k) + b" " + text_string(v) for k, v in sorted(sheet.info))
                 + b" /Producer (certgen page writer) /Trapped /False >>")
    info = pdf.add(info_body)
    # the /ID: fonts and forms follow from the content streams; photos and information added in
    return pdf.write(catalog, info, b"".join([*identity, *objects.images, info_body]))
