"""Seal text -> QR matrix -> vector drawing. Knows nothing of COSE; the seal knows nothing of QR.

The encoder is zxing-cpp's writer (libzint inside): it splits the text into the cheapest
modes by itself (the address in byte mode, the base32 in alphanumeric mode). Measured here
on a 348-character seal: 0.7 ms for version 11 at error correction M; segno 3 ms with a fixed
mask (13 ms choosing the mask), qrcode 4 ms (19 ms). Nine tenths of libzint's time went on
scoring the eight masks, so the symbol is encoded with mask 0 and certgen.qr_mask scores the
eight candidates in numpy by libzint's own rules: the same symbol (tested on every version);
libzint's own choice remains the fallback. Printed codes are read back in the tests with
zbar, an independent decoder. The code is drawn as one filled vector path of horizontal runs:
sharp at any print resolution, a few kilobytes in the PDF, computed once per code however
often it is drawn (docs/benchmarks.md has what each step costs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import zxingcpp

from .qr_mask import is_mask0_m, layout, masked, penalties

ERROR_LEVEL = "M"
QUIET_ZONE = 4  # modules of white border the QR standard asks for
MAX_TEXT = 2000


class BarcodeError(ValueError):
    """The text cannot be put in a QR code."""


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol without its quiet zone: `dark[r, c]` from the top left."""

    version: int
    size: int
    dark: np.ndarray = field(repr=False, compare=False)
    #: PDF path operators of the dark runs, in module units, origin at the lower left.
    runs: str = field(repr=False, compare=False)


def qr_matrix(text: str) -> QrMatrix:
    """Encode `text` at error correction M."""
    if not text or len(text) > MAX_TEXT:
        raise BarcodeError(f"barcode text must have 1 to {MAX_TEXT} characters, not {len(text)}")
    dark = _fast_matrix(text)
    if dark is None:
        dark = _encode(text, None)
    size = dark.shape[0]
    return QrMatrix((size - 17) // 4, size, dark, _runs(dark))


def _encode(text: str, mask: int | None) -> np.ndarray:
    """zxing-cpp's symbol as booleans; `mask` None lets libzint choose it (slow: ~90% of the time)."""
    kwargs = {} if mask is None else {"data_mask": mask}
    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ERROR_LEVEL, **kwargs)
    except Exception as exc:  # zxing-cpp raises plain exceptions for data that does not fit
        raise BarcodeError(f"barcode text of {len(text)} characters cannot be encoded: {exc}") from None
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def _fast_matrix(text: str) -> np.ndarray | None:
    """The automatic symbol, with the mask chosen by qr_mask (libzint's rule, in numpy): one
    encoding with mask 0, the eight candidates scored, the best one made from it (the same
    modules as an encoding with that mask: tests/test_barcode_mask.py). None when anything is
    unexpected (a symbol whose format information is not level M, mask 0 included), so that the
    caller falls back to libzint's own choice."""
    try:
        dark0 = _encode(text, 0)
        size = dark0.shape[0]
        if dark0.ndim != 2 or size != dark0.shape[1] or (size - 17) % 4:
            return None
        lay = layout((size - 17) // 4)
        if not is_mask0_m(dark0, lay):  # another mask or level than asked: libzint's own choice
            return None
        mask = int(np.argmin(penalties(dark0, lay)))  # argmin: the lower mask on a tie, as libzint
        return dark0 if mask == 0 else masked(dark0, lay, mask)
    except Exception:  # the BarcodeError of a text that does not fit is raised again by the fallback
        return None


def _runs(dark: np.ndarray) -> str:
    """One `x y w 1 re` per horizontal run of dark modules (y counted from the bottom)."""
    size = dark.shape[0]
    padded = np.zeros((size, size + 2), dtype=bool)
    padded[:, 1:-1] = dark
    # in each row a run's start and end alternate, so the changes in row-major order pair up
    changes = np.flatnonzero(padded[:, 1:] ^ padded[:, :-1])
    if not len(changes):
        return ""
    starts = changes[0::2]
    # each run's text as three words of a table of texts (NUL-padded), the NULs dropped: the
    # same text as "%d %d %d 1 re" per run, in a third of the time of rows of bytes (and 1/15
    # of the % formatting)
    lines = np.empty((len(starts), 3), dtype=_WORD)
    lines[:, 0] = _corners(size)[starts]
    widths = changes[1::2] - starts
    lines[:, 1] = _WIDTHS[0][widths]
    lines[:, 2] = _WIDTHS[1][widths]
    return lines.tobytes().translate(None, b"\0")[:-1].decode("ascii")


def _table(texts: list[str], width: int) -> np.ndarray:
    """`texts` NUL-padded to `width` bytes each, as rows of a byte array."""
    return np.frombuffer(b"".join(t.encode("ascii").ljust(width, b"\0") for t in texts),
                         dtype=np.uint8).reshape(len(texts), width)


_MAX_SIZE = 177  # version 40
_WORD = np.dtype("<u8")
_NUMBERS = _table(["%d " % i for i in range(_MAX_SIZE + 1)], 4)
#: "w 1 re\n" for every width, as two words
_WIDTHS = tuple(np.ascontiguousarray(w) for w in
                _table(["%d 1 re\n" % i for i in range(_MAX_SIZE + 1)], 16).view(_WORD).T)


@lru_cache(maxsize=8)
def _corners(size: int) -> np.ndarray:
    """"x y " (one word) of a run starting at change index r * (size + 1) + x in a symbol of
    `size`, y counted from the bottom."""
    rows, columns = np.divmod(np.arange(size * (size + 1)), size + 1)
    texts = np.concatenate((_NUMBERS[columns], _NUMBERS[size - 1 - rows]), axis=1)
    return np.ascontiguousarray(texts).view(_WORD).ravel()


def qr_operators(matrix: QrMatrix, x: float, y: float, module: float) -> str:
    """PDF operators filling the dark modules; (x, y) is the lower left corner of the symbol
    without its quiet zone, `module` the module size in points."""
    return f"q {module:.4f} 0 0 {module:.4f} {x:.3f} {y:.3f} cm\n{matrix.runs}\nf Q"


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
