"""ReportLab tuned for issuing at volume. Everything that reaches into ReportLab is here.

Measured on a person certificate (design brief §9 machine), each step keeps the PDF valid and
changes nothing a reader sees:

* binary streams instead of ASCII85: ASCII85 was a third of the render time;
* Flate level 1 instead of zlib's default 6: files about 10% larger, 3 ms faster;
* font subsets built once: ReportLab always puts all of ASCII in a font's first subset, so
  documents whose variable text is ASCII (nearly all) have identical subsets; each distinct
  subset is built once per process (`makeSubset` memoised) and compressed once (identical
  large streams are cached). Rendering is about 30% faster.

* text that is plain ASCII (nearly every string ReportLab formats, and whole content streams of
  path operators) is encoded by Python's ASCII codec instead of ReportLab's PDFDocEncoding
  charmap codec, which costs about 20 ns a character: a 13 kB form stream took 0.3 ms.
  The bytes are the same: PDFDocEncoding is ASCII on 0-23 and 32-127, and the codes 24-31
  (which it maps elsewhere) are sent to the original codec.

* text split into font subsets once: ReportLab maps each string to subset codes character by
  character in Python (a microtext line is 200 characters, drawn on every page). Codes depend
  only on the order in which a document first uses each non-ASCII character, and documents are
  drawn in the same order, so a split is reused when the document gave every non-ASCII
  character of the string the same code as before (checked on each use).

* long numeric arrays (the /Widths of each font subset) are written with one call of
  ReportLab's own C number formatter instead of one Python call per number.

ReportLab has no settings for these, so its single compression filter object is replaced by
one with the same interface, each registered font face gets a memoising `makeSubset`, and
`PDFArray.format` gets a fast path for all-number arrays (same numbers, same syntax).
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from typing import Any, BinaryIO

from reportlab import rl_config
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfgen.canvas import Canvas

FLATE_LEVEL = 1
_CACHE_MIN = 2048  # streams below this are cheaper to compress than to look up
_CACHE_ENTRIES = 64
_SPLIT_ENTRIES = 4096


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


def configure() -> None:
    """Apply the settings above (idempotent, once per process)."""
    rl_config.useA85 = 0
    if not isinstance(pdfdoc.PDFZCompress, _CachingFlate):
        pdfdoc.PDFZCompress = _CachingFlate()
    pdfdoc.PDFArray.format = _fast_array_format  # type: ignore[method-assign]
    pdfdoc.pdfdocEnc = _fast_pdfdoc_encode


def memoise_subsets(font_name: str) -> None:
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


def memoise_splits(font_name: str) -> None:
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


def new_canvas(target: BinaryIO, pagesize: tuple[float, float], initial_font: str) -> Canvas:
    """A compressed canvas whose initial font is `initial_font`, not Helvetica, so that no
    unembedded font is referenced anywhere in the file."""
    return Canvas(target, pagesize=pagesize, pageCompression=1, invariant=1, initialFontName=initial_font)
