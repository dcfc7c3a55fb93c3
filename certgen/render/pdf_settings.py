"""The canvas every document is drawn on: compressed, invariant, no unembedded font.

Only ReportLab's public API is used here. The speed-ups that reach into ReportLab (binary
streams, Flate level 1, memoised font subsets and splits, ASCII fast paths) live in
certgen/adapters/reportlab.py and are applied by its `install()`, not by importing this.
"""

from __future__ import annotations

from typing import BinaryIO

from reportlab.pdfgen.canvas import Canvas


def new_canvas(target: BinaryIO, pagesize: tuple[float, float], initial_font: str) -> Canvas:
    """A compressed canvas whose initial font is `initial_font`, not Helvetica, so that no
    unembedded font is referenced anywhere in the file."""
    return Canvas(target, pagesize=pagesize, pageCompression=1, invariant=1, initialFontName=initial_font)
