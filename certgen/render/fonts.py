"""Fonts: registering the template's TrueType fonts once, measuring text, fitting it in a box.

Fonts are embedded (subset) in every PDF, so any name prints as typed, as long as the font
or one of its fallback fonts (Chinese, Japanese, Korean letters: certgen/render/fallback.py)
has a glyph for each character: `missing_glyphs` tells the intake which names cannot print.
Text is normalised to NFC first, so that "e" + combining acute prints as one "é" glyph.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from ..adapters import reportlab as adapter
from . import fallback

ROLES = ("regular", "bold", "italic", "title")


@dataclass(frozen=True)
class FontSet:
    """ReportLab names of the registered fonts, by role."""

    regular: str
    bold: str
    italic: str
    title: str

    def width(self, text: str, font: str, size: float) -> float:
        return pdfmetrics.stringWidth(text, font, size)

    def prepare(self, *records: object) -> None:
        """Switch the fallback fonts on if these records' text has CJK letters; call before
        measuring or drawing it (certgen/render/fallback.py)."""
        values = (getattr(r, f.name) for r in records for f in fields(r))  # type: ignore[arg-type]
        fallback.prepare(self.names, (v for v in values if isinstance(v, str)))

    @property
    def names(self) -> tuple[str, ...]:
        """Distinct ReportLab font names (roles may share a file)."""
        return tuple(dict.fromkeys((self.regular, self.bold, self.italic, self.title)))


def register(paths: Mapping[str, Path], fallbacks: Sequence[Path] = ()) -> FontSet:
    """Register the fonts (once per process per file) and name them by role; `fallbacks` print
    the CJK letters the role fonts lack (certgen/render/fallback.py). Patches nothing: the
    fonts are tuned when certgen.adapters.reportlab is installed (explicitly, at start-up)."""
    names = {role: _register_one(str(paths[role])) for role in ROLES}
    for name in set(names.values()):
        adapter.tune_font(name)
        fallback.install(name, fallbacks, _register_one)
    return FontSet(**names)


@lru_cache(maxsize=None)
def _register_one(path: str) -> str:
    name = "cg-" + Path(path).stem
    pdfmetrics.registerFont(TTFont(name, path))
    return name


def normalise(text: str) -> str:
    """NFC, single spaces, no control characters: what gets printed and stored."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in "\t\r\n" else c for c in text)
    return " ".join(text.split())


def missing_glyphs(text: str, font: str) -> list[str]:
    """Characters of `text` that neither `font` nor its fallback fonts can draw."""
    face = pdfmetrics.getFont(font).face  # type: ignore[attr-defined]
    cmap = face.charToGlyph
    return sorted({c for c in text if ord(c) not in cmap and not c.isspace()
                   and not fallback.printable_by_fallback(ord(c), font)})


def fit_size(text: str, font: str, max_width: float, size: float, min_size: float) -> float | None:
    """The largest size from `size` down to `min_size` at which `text` fits on one line."""
    width = pdfmetrics.stringWidth(text, font, size)
    if width <= max_width:
        return size
    fitted = size * max_width / width
    return fitted if fitted >= min_size else None


def wrap(text: str, font: str, size: float, max_width: float) -> list[str]:
    """Greedy word wrap; a word longer than the line is broken by characters. ASCII text
    (the templates' paragraphs, wrapped again for every document) is wrapped once per process;
    other text is not cached, as its widths change when the CJK fallback fonts are switched on."""
    if text.isascii():
        return list(_wrap_ascii(text, font, size, max_width))
    return _wrap(text, font, size, max_width)


@lru_cache(maxsize=1024)
def _wrap_ascii(text: str, font: str, size: float, max_width: float) -> tuple[str, ...]:
    return tuple(_wrap(text, font, size, max_width))


def _wrap(text: str, font: str, size: float, max_width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if pdfmetrics.stringWidth(candidate, font, size) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while pdfmetrics.stringWidth(word, font, size) > max_width:
            cut = len(word)
            while cut > 1 and pdfmetrics.stringWidth(word[:cut], font, size) > max_width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


def fit_lines(text: str, font: str, max_width: float, size: float, min_size: float,
              max_lines: int) -> tuple[float, list[str]] | None:
    """Shrink first, then wrap: the largest size at which `text` fits in `max_lines` lines."""
    one = fit_size(text, font, max_width, size, min_size if max_lines == 1 else size)
    if one is not None:
        return one, [text]
    if max_lines == 1:
        return None
    step = 0.5
    current = size
    while current >= min_size - 1e-9:
        lines = wrap(text, font, current, max_width)
        if len(lines) <= max_lines:
            return current, lines
        current -= step
    return None
