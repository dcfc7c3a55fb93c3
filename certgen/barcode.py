"""Seal text -> QR matrix -> vector drawing. Knows nothing of COSE; the seal knows nothing of QR.

The address part of the seal text goes in a byte-mode segment and the base32 part in an
alphanumeric segment (mixed mode): a typical person seal is QR version 11 at error correction
M instead of 14 as one byte-mode segment. The mask is fixed (pattern 2) rather than chosen by
penalty score: that costs 3 ms instead of 13 ms a code, and every decoder reads any mask
(the tests read every printed code back with zbar). The code is drawn as one filled vector
path of horizontal runs: sharp at any print resolution, tiny in the PDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import segno
from segno import consts

ERROR_LEVEL = "m"
FIXED_MASK = 2
QUIET_ZONE = 4  # modules of white border the QR standard asks for
_DARK_RUN = re.compile(r"1+")
_SPLIT = re.compile(r"^(.*/v/)([0-9A-Z $%*+\-./:]+)$", re.DOTALL)


class BarcodeError(ValueError):
    """The text does not fit in a QR code."""


@dataclass(frozen=True)
class QrMatrix:
    """Dark modules of a QR code, row by row from the top, without the quiet zone."""

    version: int
    size: int
    rows: tuple[tuple[bool, ...], ...]


def qr_matrix(text: str) -> QrMatrix:
    """Encode `text` at error correction M, in mixed mode when it is a seal address."""
    match = _SPLIT.match(text)
    content: object = [(match.group(1), consts.MODE_BYTE), (match.group(2), consts.MODE_ALPHANUMERIC)] if match else text
    try:
        code = segno.make(content, error=ERROR_LEVEL, boost_error=False, mask=FIXED_MASK, micro=False)
    except segno.DataOverflowError as exc:
        raise BarcodeError(f"barcode text of {len(text)} characters does not fit in a QR code: {exc}") from None
    rows = tuple(tuple(bool(v) for v in row) for row in code.matrix)
    return QrMatrix(int(code.version), len(rows), rows)


def qr_operators(matrix: QrMatrix, x: float, y: float, module: float) -> str:
    """PDF operators filling the dark modules; (x, y) is the lower left corner of the symbol
    without its quiet zone, `module` the module size in points. Runs are written in module
    units under one transformation: a third of the bytes of point coordinates."""
    return f"q {module:.4f} 0 0 {module:.4f} {x:.3f} {y:.3f} cm\n{_runs(matrix)}\nf Q"


@lru_cache(maxsize=8)
def _runs(matrix: QrMatrix) -> str:
    """One `re` per horizontal run of dark modules, in module units (cached: a certificate
    and its card draw the same code)."""
    n = matrix.size
    ops = []
    for r, row in enumerate(matrix.rows):
        line = "".join("1" if v else "0" for v in row)
        yy = n - 1 - r
        ops.extend(f"{m.start()} {yy} {m.end() - m.start()} 1 re" for m in _DARK_RUN.finditer(line))
    return "\n".join(ops)


def draw_qr(canvas: object, matrix: QrMatrix, x: float, y: float, size: float, colour: str = "#000000") -> float:
    """Draw the symbol so that it, with its quiet zone, fills the square (x, y, size, size).
    Returns the module size in points."""
    module = size / (matrix.size + 2 * QUIET_ZONE)
    c = canvas  # a reportlab Canvas
    c.saveState()  # type: ignore[attr-defined]
    c.setFillColorRGB(1, 1, 1)  # type: ignore[attr-defined]
    c.rect(x, y, size, size, stroke=0, fill=1)  # type: ignore[attr-defined]
    c.setFillColor(colour)  # type: ignore[attr-defined]
    c.addLiteral(qr_operators(matrix, x + QUIET_ZONE * module, y + QUIET_ZONE * module, module))  # type: ignore[attr-defined]
    c.restoreState()  # type: ignore[attr-defined]
    return module
