"""Every reach into ReportLab's internals, for speed and for signature fields (one module).

Measured on a person certificate (docs/benchmarks.md), each change keeps the PDF valid and
changes nothing a reader sees (tests/test_adapters.py renders the same documents through the
stock path and compares every decoded object):

* binary streams instead of ASCII85 (`rl_config.useA85`): ASCII85 was a third of render time;
* Flate level 1 instead of zlib's default 6, and large identical streams (font subsets)
  compressed once: ReportLab's single filter object `pdfdoc.PDFZCompress` is replaced;
* font subsets built once: ReportLab puts all of ASCII in a font's first subset, so documents
  whose variable text is ASCII have identical subsets; `face.makeSubset` is memoised per font;
* plain ASCII text encoded by Python's ASCII codec instead of ReportLab's PDFDocEncoding
  charmap codec (about 20 ns a character): `pdfdocEnc` is replaced in `pdfdoc` and in every
  ReportLab module that imported it by name (same bytes: PDFDocEncoding is ASCII on 0-23 and
  32-127; strings with codes 24-31 go to the original);
* a string's split into font-subset codes reused (`font.splitString` memoised) when the
  document gave every non-ASCII character of it the same code as before (checked on each use);
* long all-number arrays (each subset's /Widths) formatted by one call of ReportLab's own C
  number formatter (`PDFArray.format`).

And for signing in place (certgen/render/signature_field.py): the canvas's document
(`Canvas._doc`), annotations added by name (`Canvas._addAnnotation`), raw PDF objects, and
catalog entries the catalog class does not know (`__NoDefault__`). The CJK fallback fonts
(certgen/render/fallback.py) replace three methods of a font object through `rebind`.

`install()` applies the process-wide patches when the installed ReportLab is one of
`TESTED_VERSIONS`; the signature field and fallback font helpers work with a tested version
whether or not it was called. With another version (or `CERTGEN_ADAPTERS=off`) nothing is
patched, signatures go through pyHanko's incremental update, fallback fonts are off (the intake
then refuses CJK letters the template fonts lack, by name), and `install` warns once.
"""

from __future__ import annotations

import re
import sys
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from reportlab import rl_config
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from . import ACTIVE, TESTED, override, untested_versions, usable, warn_once

#: The versions this module was tested with; any other gets stock ReportLab.
TESTED_VERSIONS = TESTED["reportlab"]
FLATE_LEVEL = 1
_CACHE_MIN = 2048  # streams below this are cheaper to compress than to look up
_CACHE_ENTRIES = 64
_SPLIT_ENTRIES = 4096
_tuned_fonts: set[str] = set()  # fonts registered so far: tuned by install() or on registration


def install(tested: dict[str, frozenset[str]] | None = None) -> bool:
    """Apply the fast path if this ReportLab was tested (idempotent); else warn once and leave
    ReportLab stock. Returns whether the fast path is active. `tested` replaces
    `TESTED_VERSIONS` (tests of the stock path)."""
    if tested is not None:
        override("reportlab", tested)
    if ACTIVE.reportlab:
        return True
    versions = untested_versions("reportlab")
    if versions:
        warn_once("reportlab", f"certgen: {', '.join(versions)} is not a version certgen's ReportLab adapter was "
                               f"tested with: using stock ReportLab (slower; CJK fallback fonts off; signatures by "
                               f"pyHanko's incremental update). See docs/adapters.md.")
        return False
    rl_config.useA85 = 0
    if not isinstance(pdfdoc.PDFZCompress, _CachingFlate):
        pdfdoc.PDFZCompress = _CachingFlate()
    pdfdoc.PDFArray.format = _fast_array_format  # type: ignore[method-assign]
    _replace_everywhere("pdfdocEnc", _pdfdoc_encode, _fast_pdfdoc_encode)
    ACTIVE.reportlab = True
    for name in _tuned_fonts:
        _tune(name)
    return True


def _replace_everywhere(name: str, original: Any, replacement: Any) -> list[str]:
    """Rebind `name` in every loaded ReportLab module holding `original` (modules that did
    `from reportlab.pdfbase.pdfdoc import name`); modules loaded later import the new one."""
    changed = []
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("reportlab") and getattr(module, name, None) is original:
            setattr(module, name, replacement)
            changed.append(module_name)
    return changed


def modules_with_stock(name: str) -> list[str]:
    """ReportLab modules still holding the stock `pdfdocEnc` (or other patched name): a canary."""
    original = {"pdfdocEnc": _pdfdoc_encode}[name]
    return [m for m, module in list(sys.modules.items())
            if m.startswith("reportlab") and getattr(module, name, None) is original]


# -- streams and text -----------------------------------------------------------------------

class _CachingFlate(pdfdoc.PDFStreamFilterZCompress):
    """Flate at level 1; large identical streams (font subsets) compressed once."""

    def __init__(self) -> None:
        self._cache: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()

    def encode(self, text: str | bytes) -> bytes:  # type: ignore[override]
        data = text.encode("utf8") if isinstance(text, str) else text
        if len(data) < _CACHE_MIN:
            return zlib.compress(data, FLATE_LEVEL)
        key = hash(data)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == data:
            self._cache.move_to_end(key)
            return hit[1]
        packed = zlib.compress(data, FLATE_LEVEL)
        self._cache[key] = (data, packed)
        if len(self._cache) > _CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return packed


_NOT_IDENTITY = re.compile("[\x18-\x1f]")  # ASCII codes PDFDocEncoding does not map to themselves
_pdfdoc_encode = pdfdoc.pdfdocEnc


def _fast_pdfdoc_encode(x: Any) -> Any:
    if type(x) is str and x.isascii() and _NOT_IDENTITY.search(x) is None:
        return x.encode("ascii")
    return _pdfdoc_encode(x)


_NUMBERS = (int, float)
_array_format = pdfdoc.PDFArray.format


def _fast_array_format(self: pdfdoc.PDFArray, document: Any, IND: bytes = b"\n ") -> bytes:
    sequence = self.sequence
    if len(sequence) > 16 and all(type(e) in _NUMBERS for e in sequence):
        return b"[" + fp_str(*sequence).encode("ascii") + b"]"
    return _array_format(self, document, IND)


# -- fonts ----------------------------------------------------------------------------------

def tune_font(font_name: str) -> None:
    """Memoise the font's subsets and string splits (now if the fast path is on, else when
    `install` turns it on). Called by certgen.render.fonts for each registered font."""
    _tuned_fonts.add(font_name)
    if ACTIVE.reportlab:
        _tune(font_name)


def _tune(font_name: str) -> None:
    _memoise_subsets(font_name)
    _memoise_splits(font_name)


def _memoise_subsets(font_name: str) -> None:
    """Give the font's face a `makeSubset` that builds each distinct subset once."""
    face = pdfmetrics.getFont(font_name).face  # type: ignore[attr-defined]
    if getattr(face, "_certgen_memo", None) is not None:
        return
    original = face.makeSubset
    memo: OrderedDict[tuple[int, ...], Any] = OrderedDict()

    def make_subset(subset: list[int]) -> Any:
        key = tuple(subset)
        if key not in memo:
            memo[key] = original(subset)
            if len(memo) > _CACHE_ENTRIES:
                memo.popitem(last=False)
        return memo[key]

    face.makeSubset = make_subset
    face._certgen_memo = memo


_ASCII_FIXED = range(32, 127)  # codes ReportLab fixes for every document (ttfAsciiReadable)


def _memoise_splits(font_name: str) -> None:
    """Give the font a `splitString` that reuses earlier splits of the same string (see above)."""
    font = pdfmetrics.getFont(font_name)
    if getattr(font, "_certgen_splits", None) is not None or not font._asciiReadable:
        return  # without ttfAsciiReadable even ASCII codes vary by document
    original = font.splitString
    states = font.state
    memo: dict[str, tuple[Any, tuple[tuple[int, int | None], ...]]] = {}

    def split_string(text: Any, doc: Any, encoding: str = "utf-8") -> Any:
        if type(text) is not str:
            return original(text, doc, encoding)
        hit = memo.get(text)
        if hit is not None:
            state = states.get(doc)
            if state is not None:
                assignments = state.assignments
                for char, code in hit[1]:
                    if assignments.get(char) != code:
                        break
                else:
                    return hit[0]
        result = original(text, doc, encoding)
        assignments = states[doc].assignments
        needed = tuple((c, assignments.get(c)) for c in {32 if ord(ch) == 0xA0 else ord(ch) for ch in text}
                       if c not in _ASCII_FIXED)
        if len(memo) >= _SPLIT_ENTRIES:
            memo.clear()
        memo[text] = (result, needed)
        return result

    font.splitString = split_string
    font._certgen_splits = memo


def rebind(font_name: str, **methods: Callable[..., Any]) -> bool:
    """Replace methods of a registered TrueType font object (`splitString`,
    `getSubsetInternalName`, `stringWidth`, with ReportLab's signatures); refused (False) with
    a ReportLab version this adapter was not tested with."""
    if not usable("reportlab"):
        return False
    font = pdfmetrics.getFont(font_name)
    for name, method in methods.items():
        if name not in ("splitString", "getSubsetInternalName", "stringWidth"):
            raise ValueError(f"no rebinding of {name}")
        setattr(font, name, method)
    return True


def font_methods(font_name: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The font's current (splitString, getSubsetInternalName, stringWidth)."""
    font = pdfmetrics.getFont(font_name)
    return font.splitString, font.getSubsetInternalName, font.stringWidth


# -- raw objects in the canvas's document (signature fields) ----------------------------------

class RawObject(pdfdoc.PDFObject):
    """A PDF object whose bytes a function writes (the signature dictionary with placeholders)."""

    def __init__(self, write: Callable[[Callable[[str], bytes]], bytes]) -> None:
        self._write = write

    def format(self, document: Any) -> bytes:  # type: ignore[override]
        return self._write(lambda text: pdfdoc.PDFString(text).format(document))


def _document(c: Canvas) -> Any:
    if not usable("reportlab"):
        raise RuntimeError("signature fields are drawn only with the tested ReportLab (certgen.adapters.reportlab)")
    return c._doc


def add_object(c: Canvas, obj: Any, name: str) -> Any:
    """Add `obj` to the canvas's document under `name`; returns a reference to it."""
    _document(c).Reference(obj, name)
    return pdfdoc.PDFObjectReference(name)


def this_page(c: Canvas) -> Any:
    """A reference to the page being drawn."""
    return _document(c).thisPageRef()


def add_widget(c: Canvas, widget: pdfdoc.PDFDictionary, name: str) -> Any:
    """Put an annotation on the current page under `name`; returns a reference to it."""
    doc = _document(c)
    c._addAnnotation(widget, name)
    return doc.refAnnotation(name)


def set_catalog(c: Canvas, entries: dict[str, Any]) -> None:
    """Set entries of the document catalog, also keys ReportLab's catalog class does not know
    (it writes only the keys listed in its `__NoDefault__`)."""
    catalog = _document(c).Catalog
    known = list(type(catalog).__NoDefault__)
    for key, value in entries.items():
        setattr(catalog, key, value)
    catalog.__NoDefault__ = [*known, *(k for k in entries if k not in known)]


# -- font subsets and photos for the page writer (certgen/render/page_writer.py) -------------

class TextState:
    """The subset codes of one document drawn without a ReportLab document: the page writer
    passes this object where ReportLab passes its document, so each font assigns codes to
    characters exactly as it does in a ReportLab document (ASCII at its own codes, others
    from 1 in order of first use, 256 codes a subset)."""

    __slots__ = ("__weakref__",)


_fresh_states: dict[str, Any] = {}


def start_font(font_name: str, state: TextState) -> None:
    """Give the font its state for this document: a copy of a fresh one made once per process
    (ReportLab builds each from the font's character map, about 0.1 ms a font and document)."""
    font = pdfmetrics.getFont(font_name)
    if font.state.get(state) is not None:  # type: ignore[attr-defined]
        return
    fresh = _fresh_states.get(font_name)
    if fresh is None or fresh[0] is not font:
        fresh = _fresh_states[font_name] = (font, font._assignState(TextState()))  # type: ignore[attr-defined]
    made = fresh[1]
    new = object.__new__(type(made))
    new.__dict__.update(made.__dict__)
    new.assignments, new.subsets = dict(made.assignments), [list(s) for s in made.subsets]
    font.state[state] = new  # type: ignore[attr-defined]


_LONG_TEXT = 40
_replays: OrderedDict[tuple[str, str, Any], tuple[Any, tuple[int, list[list[int]], dict[int, int]]]] = OrderedDict()


def split_text(font_name: str, text: str, state: TextState) -> list[tuple[int, bytes]]:
    """[(subset, codes)] of `text` in the font's subsets for this document (`splitString`).

    A long non-ASCII text drawn from the same font state as before (the microtext, drawn
    first on every page) is not split again: its result and the state it left (codes given
    to its new characters) are replayed. `splitString`'s own memo (`_memoise_splits`) cannot
    help there, as the characters get their codes in this very call."""
    font = pdfmetrics.getFont(font_name)
    if len(text) < _LONG_TEXT or text.isascii():
        return font.splitString(text, state)
    found = font.state.get(state)  # type: ignore[attr-defined]
    key = (font_name, text, None if found is None else (found.nextCode, tuple(map(tuple, found.subsets))))
    hit = _replays.get(key)
    if hit is not None:
        result, (next_code, subsets, assignments) = hit
        after = font._assignState(state)  # type: ignore[attr-defined]
        after.nextCode, after.subsets, after.assignments = next_code, [list(s) for s in subsets], dict(assignments)
        return result
    result = font.splitString(text, state)
    after = font.state[state]  # type: ignore[attr-defined]
    _replays[key] = (result, (after.nextCode, [list(s) for s in after.subsets], dict(after.assignments)))
    if len(_replays) > _CACHE_ENTRIES:
        _replays.popitem(last=False)
    return result


def font_subsets(font_name: str, state: TextState) -> list[list[int]]:
    """The font's subsets used so far in this document: each a list of Unicode code points by code."""
    found = pdfmetrics.getFont(font_name).state.get(state)  # type: ignore[attr-defined]
    return [] if found is None else [list(s) for s in found.subsets]


class FontStateCopy:
    """A font's codes in one document at one moment (`splitString`'s per-document `State`):
    taken before and after a fixed part of a page is drawn, compared and put back when the
    part is replayed (certgen/render/fixed_parts.py)."""

    __slots__ = ("next_code", "subsets", "assignments")

    def __init__(self, next_code: int, subsets: list[list[int]], assignments: dict[int, int]) -> None:
        self.next_code, self.subsets, self.assignments = next_code, subsets, assignments


def font_state(font_name: str, state: TextState) -> FontStateCopy | None:
    """A copy of the font's codes in this document; None before its first use in it."""
    found = pdfmetrics.getFont(font_name).state.get(state)  # type: ignore[attr-defined]
    if found is None:
        return None
    return FontStateCopy(found.nextCode, [list(s) for s in found.subsets], dict(found.assignments))


def font_state_is(font_name: str, state: TextState, copy: FontStateCopy | None) -> bool:
    """Whether the font's codes in this document are those of `copy` (None: not used yet)."""
    found = pdfmetrics.getFont(font_name).state.get(state)  # type: ignore[attr-defined]
    if found is None or copy is None:
        return found is None and copy is None
    return found.nextCode == copy.next_code and found.subsets == copy.subsets


def set_font_state(font_name: str, state: TextState, copy: FontStateCopy) -> None:
    """Give the font the codes of `copy` in this document (it was started: `start_font`)."""
    found = pdfmetrics.getFont(font_name).state[state]  # type: ignore[attr-defined]
    found.nextCode, found.subsets, found.assignments = (copy.next_code, [list(s) for s in copy.subsets],
                                                        dict(copy.assignments))


@dataclass(frozen=True)
class SubsetParts:
    """What a PDF needs of one font subset (as ReportLab writes it: TrueType, symbolic)."""

    base_font: str  # e.g. AAAAAA+NotoSans-Regular
    program: bytes  # the subset font file (FontFile2), uncompressed
    to_unicode: bytes  # the ToUnicode CMap, uncompressed
    widths: tuple[int, ...]  # by code, from 0
    descriptor: dict[str, Any]  # Ascent, CapHeight, Descent, Flags, FontBBox, ItalicAngle, StemV, MissingWidth


def subset_parts(font_name: str, index: int, subset: list[int]) -> SubsetParts:
    """The font program, widths and CMap of subset `index` (`subset`: code points by code),
    built by ReportLab's own TrueType subsetter (memoised by `tune_font`)."""
    from reportlab.pdfbase import ttfonts

    face = pdfmetrics.getFont(font_name).face  # type: ignore[attr-defined]
    base = b"".join((ttfonts.SUBSETN(index), b"+", face.name, face.subfontNameX)).decode("latin-1")
    flags = (face.flags & ~ttfonts.FF_NONSYMBOLIC) | ttfonts.FF_SYMBOLIC
    return SubsetParts(
        base_font=base, program=face.makeSubset(subset),
        to_unicode=ttfonts.makeToUnicodeCMap(base, subset).encode("latin-1"),
        widths=tuple(int(face.getCharWidth(c)) for c in subset),
        descriptor={"Ascent": face.ascent, "CapHeight": face.capHeight, "Descent": face.descent, "Flags": flags,
                    "FontBBox": list(face.bbox), "ItalicAngle": face.italicAngle, "StemV": face.stemV,
                    "MissingWidth": face.defaultWidth})


def jpeg_info(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, components) of a JPEG file as ReportLab reads it to embed it unchanged
    (DCTDecode), or None when ReportLab would not take it as a JPEG."""
    import io

    from reportlab.pdfbase import pdfutils

    try:
        width, height, components = pdfutils.readJPEGInfo(io.BytesIO(data))[:3]
    except Exception:  # ReportLab's reader raises plain errors on anything it does not parse
        return None
    return int(width), int(height), int(components)
