"""Fallback fonts for letters the template's fonts lack (Chinese, Japanese, Korean names).

ReportLab draws a TrueType string by splitting it into the font's subsets (`splitString`) and
naming each subset's PDF font (`getSubsetInternalName`), and measures it with `stringWidth`.
Those three methods of a template font are wrapped here, so every drawing and fitting call
falls back without knowing it. The wrappers cost about 3% of issuing time, so they are put in
place (`prepare`) only in a process about to draw a CJK letter, and the fallback fonts are
parsed only then (70 ms for Droid Sans Fallback). With them, a run of characters the font
lacks but a fallback font has is split by the fallback font, its subsets numbered from
`SUBSET_STEP * (i + 1)` for fallback i and named by it (the fallback font is embedded, as a
subset, only in documents that use it); widths add up run by run. A string the font covers
takes the original path after one check: an `isascii()` for nearly every string, a cached
answer for the others.

The rebinding is done through certgen/adapters/reportlab.py: with a ReportLab version it was
not tested with, nothing is rebound and no letter counts as printable by a fallback font, so
the intake refuses such names (naming the letters) instead of printing them wrongly.

Only scripts that need neither shaping nor reordering fall back: Han, kana, Hangul syllables,
Bopomofo and CJK symbols. Arabic, Hebrew, Indic or Thai letters would print wrongly without a
shaping engine and the bidirectional algorithm, so they stay refused at intake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from reportlab.pdfbase import pdfmetrics

from ..adapters import reportlab as adapter
from ..adapters import usable

SUBSET_STEP = 1 << 16  # far above any subset number of one font (256 characters each)
_CACHE_ENTRIES = 4096
#: Unicode blocks a fallback font may print (no shaping, left to right).
FALLBACK_BLOCKS = (
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),    # CJK symbols and punctuation
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3100, 0x312F),    # Bopomofo
    (0x3130, 0x318F),    # Hangul compatibility jamo (standalone letters)
    (0x31A0, 0x31FF),    # Bopomofo extended, Katakana phonetic extensions
    (0x3200, 0x33FF),    # enclosed CJK letters, CJK compatibility
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xAC00, 0xD7AF),    # Hangul syllables
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF00, 0xFFEF),    # half- and full-width forms
    (0x20000, 0x2FA1F),  # CJK extensions B to F, compatibility supplement
)


def may_fall_back(code: int) -> bool:
    return any(low <= code <= high for low, high in FALLBACK_BLOCKS)


def fallbacks_of(font_name: str) -> Sequence[Any]:
    """The fallback fonts of `font_name`, loaded on first use (none when `install` was not called)."""
    loader = getattr(pdfmetrics.getFont(font_name), "_certgen_fallbacks", None)
    return loader() if loader is not None and usable("reportlab") else ()


def printable_by_fallback(code: int, font_name: str) -> bool:
    return may_fall_back(code) and any(code in f.face.charToGlyph for f in fallbacks_of(font_name))


def install(font_name: str, fallback_paths: Sequence[Path], register: Callable[[str], str]) -> None:
    """Prepare the wrappers of the font's splitting, naming and measuring (idempotent);
    `register(path) -> font name` registers a fallback font file, called on first need only
    (parsing Droid Sans Fallback takes 70 ms: only batches with a CJK name pay it)."""
    font = pdfmetrics.getFont(font_name)
    if getattr(font, "_certgen_fallbacks", None) is not None:
        return
    paths = tuple(str(p) for p in fallback_paths)
    loaded: list[Any] = []

    def fallbacks() -> Sequence[Any]:
        if len(loaded) < len(paths):
            loaded[:] = [pdfmetrics.getFont(register(p)) for p in paths]
        return loaded

    font._certgen_fallbacks = fallbacks
    font._certgen_activate = None
    if not paths:
        return
    cmap = font.face.charToGlyph
    font._certgen_cmap = cmap
    ascii_covered = all(code in cmap for code in range(32, 127))
    owners: dict[int, int] = {}
    covered_cache: dict[str, bool] = {}

    def owner(code: int) -> int:
        """-1 for the font itself (also for what no font has: the intake refuses it), else the fallback's index."""
        found = owners.get(code)
        if found is None:
            found = -1
            if code not in cmap and may_fall_back(code):
                found = next((i for i, f in enumerate(fallbacks()) if code in f.face.charToGlyph), -1)
            owners[code] = found
        return found

    def covered(text: str) -> bool:
        if ascii_covered and text.isascii():
            return True
        answer = covered_cache.get(text)
        if answer is None:
            if len(covered_cache) >= _CACHE_ENTRIES:
                covered_cache.clear()
            answer = covered_cache[text] = all(owner(ord(c)) < 0 for c in text)
        return answer

    def runs(text: str) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for char in text:
            index = owner(ord(char))
            if out and out[-1][0] == index:
                out[-1] = (index, out[-1][1] + char)
            else:
                out.append((index, char))
        return out

    # the font's own methods as they are when fallback is switched on (memoised by the adapter by then)
    split, name, width = adapter.font_methods(font_name)

    def split_string(text: Any, doc: Any, encoding: str = "utf-8") -> Any:
        if type(text) is not str or covered(text):
            return split(text, doc, encoding)
        parts = []
        for index, run in runs(text):
            if index < 0:
                parts.extend(split(run, doc, encoding))
            else:
                base = SUBSET_STEP * (index + 1)
                parts.extend((base + subset, data) for subset, data in loaded[index].splitString(run, doc, encoding))
        return parts

    def subset_name(subset: int, doc: Any) -> str:
        if subset >= SUBSET_STEP:
            index, number = divmod(subset, SUBSET_STEP)
            return loaded[index - 1].getSubsetInternalName(number, doc)
        return name(subset, doc)

    def string_width(text: Any, size: float, encoding: str = "utf8") -> float:
        if type(text) is not str or covered(text):
            return width(text, size, encoding)
        return sum((width if index < 0 else loaded[index].stringWidth)(run, size, encoding)
                   for index, run in runs(text))

    def activate() -> None:
        nonlocal split, name, width
        split, name, width = adapter.font_methods(font_name)
        if adapter.rebind(font_name, splitString=split_string, getSubsetInternalName=subset_name,
                          stringWidth=string_width):
            font._certgen_activate = None

    font._certgen_activate = activate


def prepare(font_names: Iterable[str], texts: Iterable[str]) -> None:
    """Switch fallback on for the fonts that will draw a CJK letter of `texts` (once per
    process and font: until then the fonts run ReportLab's own methods, with no wrapper cost)."""
    joined = "".join(texts)
    if joined.isascii():
        return
    for name in set(font_names):
        font = pdfmetrics.getFont(name)
        activate = getattr(font, "_certgen_activate", None)
        if activate is not None and any(ord(c) not in font._certgen_cmap and may_fall_back(ord(c)) for c in joined):
            activate()
