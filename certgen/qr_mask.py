"""Choose a QR symbol's mask the way libzint (inside zxing-cpp's writer) does, but fast.

libzint scores all eight masks with plain C loops over the whole symbol: about 90% of the
0.75 ms an automatic `create_barcode` takes. Here the symbol is encoded once with mask 0,
the mask is taken off the data modules, and the eight candidate symbols are scored at once,
one bit a mask in a byte a module (libzint's own trick), with numpy. The rules are those of
zint's backend/qr.c `qr_evaluate`, as applied by `qr_apply_bitmask`:

- the whole symbol is scored: function patterns, version information and the candidate's
  own format information (error correction M);
- N1: a row or column run of 5 or more modules of one colour costs its length minus 2;
- N2: every 2x2 block of one colour costs 3;
- N3: every 1011101 in a row or column with 4 light modules before it or after it (outside
  the symbol counts as light) costs 40, counted once;
- N4: 10 for each whole 5% the dark share is away from 50%;
- the lowest score wins, the lower mask on a tie.

tests/test_barcode_mask.py checks the choice against the automatic one on thousands of texts.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Centres of the alignment patterns for versions 2..40 (ISO/IEC 18004 Annex E).
_ALIGN: tuple[tuple[int, ...], ...] = (
    (6, 18), (6, 22), (6, 26), (6, 30), (6, 34),
    (6, 22, 38), (6, 24, 42), (6, 26, 46), (6, 28, 50), (6, 30, 54), (6, 32, 58), (6, 34, 62),
    (6, 26, 46, 66), (6, 26, 48, 70), (6, 26, 50, 74), (6, 30, 54, 78), (6, 30, 56, 82),
    (6, 30, 58, 86), (6, 34, 62, 90),
    (6, 28, 50, 72, 94), (6, 26, 50, 74, 98), (6, 30, 54, 78, 102), (6, 28, 54, 80, 106),
    (6, 32, 58, 84, 110), (6, 30, 58, 86, 114), (6, 34, 62, 90, 118),
    (6, 26, 50, 74, 98, 122), (6, 30, 54, 78, 102, 126), (6, 26, 52, 78, 104, 130),
    (6, 30, 56, 82, 108, 134), (6, 34, 60, 86, 112, 138), (6, 30, 58, 86, 114, 142),
    (6, 34, 62, 90, 118, 146),
    (6, 30, 54, 78, 102, 126, 150), (6, 24, 50, 76, 102, 128, 154), (6, 28, 54, 80, 106, 132, 158),
    (6, 32, 58, 84, 110, 136, 162), (6, 26, 54, 82, 110, 138, 166), (6, 30, 58, 86, 114, 142, 170),
)

#: _BITS[v, k]: bit k of the byte v, to count each mask's modules from one histogram.
_BITS = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(np.int64)


def format_bits(mask: int) -> int:
    """The 15 format bits for error correction M (indicator 00) and `mask`: BCH(15, 5), XOR 0x5412."""
    data = mask & 7
    rem = data << 10
    for shift in range(4, -1, -1):
        if rem & (1 << (shift + 10)):
            rem ^= 0x537 << shift
    return ((data << 10) | rem) ^ 0x5412


def _format_positions(size: int) -> list[tuple[int, int, int]]:
    """(row, column, bit) of both copies of the format information, as libzint places them."""
    pos = [(i, 8, i) for i in range(6)]
    pos += [(8, size - 1 - i, i) for i in range(8)]
    pos += [(8, 5 - i, i + 9) for i in range(6)]
    pos += [(size - 7 + i, 8, i + 8) for i in range(7)]
    pos += [(7, 8, 6), (8, 8, 7), (8, 7, 8)]
    return pos


class Layout:
    """Per version: which modules are data, and the constants that turn a mask-0 symbol into
    the eight candidates packed one bit a mask."""

    def __init__(self, version: int) -> None:
        size = 17 + 4 * version
        func = np.zeros((size, size), dtype=bool)
        func[6, :] = func[:, 6] = True  # timing patterns
        func[:9, :9] = func[:9, size - 8 :] = func[size - 8 :, :9] = True  # finders, separators, format
        if version >= 2:
            centres = _ALIGN[version - 2]
            for r in centres:
                for c in centres:
                    if not (r < 9 and c < 9 or r < 9 and c > size - 9 or r > size - 9 and c < 9):
                        func[r - 2 : r + 3, c - 2 : c + 3] = True
        if version >= 7:
            func[size - 11 : size - 8, :6] = func[:6, size - 11 : size - 8] = True
        y, x = np.mgrid[0:size, 0:size]
        conditions = (
            (y + x) % 2 == 0,
            y % 2 == 0,
            x % 3 == 0,
            (y + x) % 3 == 0,
            (y // 2 + x // 3) % 2 == 0,
            (y * x) % 6 == 0,
            ((y * x) % 2 + (y * x) % 3) % 2 == 0,
            ((y + x) % 2 + (y * x) % 3) % 2 == 0,
        )
        maskbits = np.zeros((size, size), dtype=np.uint8)
        for k, cond in enumerate(conditions):
            maskbits |= ((cond & ~func) << k).astype(np.uint8)
        keep = np.full((size, size), 0xFF, dtype=np.uint8)
        xor = maskbits ^ np.where(maskbits & 1, 0xFF, 0).astype(np.uint8)  # off mask 0, on mask k
        for r, c, bit in _format_positions(size):
            keep[r, c] = 0
            xor[r, c] = sum(((format_bits(k) >> bit) & 1) << k for k in range(8))
        self.version = version
        self.size = size
        self.keep = keep
        self.xor = xor


@lru_cache(maxsize=40)
def layout(version: int) -> Layout:
    """The cached layout of `version` (1..40)."""
    if not 1 <= version <= 40:
        raise ValueError(f"QR version {version} is not 1..40")
    return Layout(version)


def candidates(dark0: np.ndarray, lay: Layout) -> np.ndarray:
    """The eight masked symbols as one byte a module, bit k = module of mask k, from the
    symbol encoded with mask 0."""
    return (dark0.view(np.uint8) * np.uint8(0xFF) & lay.keep) ^ lay.xor


def _counts(packed: np.ndarray) -> np.ndarray:
    """A histogram of the bytes; `@ _BITS` turns it into counts for each mask."""
    return np.bincount(packed.ravel(), minlength=256)


def penalties(c: np.ndarray) -> np.ndarray:
    """libzint's penalty of each of the eight packed candidates (int64[8])."""
    size = c.shape[0]
    a = np.concatenate((c, c.T))  # the rows, then the columns as rows
    # N1: a run of L >= 5 costs L - 2 = (L - 4 windows of five alike) + 2 for the run's first window.
    diff = a[:, :-1] ^ a[:, 1:]  # diff[x]: module x differs from x + 1
    same = ~diff
    same2 = same[:, :-1] & same[:, 1:]
    w5 = same2[:, : size - 4] & same2[:, 2 : size - 2]  # modules x .. x + 4 alike
    hist = _counts(w5) + 2 * (_counts(w5[:, 0]) + _counts(w5[:, 1:] & diff[:, : size - 5]))
    # N3: 1011101 with four light modules (or the edge) before or after, counted once.
    p = np.zeros((a.shape[0], size + 8), dtype=np.uint8)
    p[:, 4 : size + 4] = a
    light = ~p
    light2 = light[:, :-1] & light[:, 1:]
    light4 = light2[:, :-2] & light2[:, 2:]  # light4[x]: modules x .. x + 3 light
    m = size - 6  # the pattern starts at x = 0 .. size - 7, at x + 4 in p
    hit = p[:, 4 : 4 + m] & light[:, 5 : 5 + m] & p[:, 6 : 6 + m] & p[:, 7 : 7 + m] & p[:, 8 : 8 + m]
    hit &= light[:, 9 : 9 + m] & p[:, 10 : 10 + m] & (light4[:, :m] | light4[:, 11 : 11 + m])
    hist += 40 * _counts(hit)
    # N2: every 2x2 block of one colour.
    top = c[:-1, :-1]
    hist += 3 * _counts(~((top ^ c[1:, :-1]) | (top ^ c[:-1, 1:]) | (top ^ c[1:, 1:])))
    score = hist @ _BITS
    # N4: the dark share, computed as libzint does (double, truncated).
    percentage = (100.0 * (_counts(c) @ _BITS)) / (size * size)
    score += 10 * (np.abs(percentage - 50.0) / 5.0).astype(np.int64)
    return score


def best_mask(dark0: np.ndarray) -> int:
    """The mask libzint would choose for the symbol whose mask-0 rendering is `dark0`."""
    size = dark0.shape[0]
    lay = layout((size - 17) // 4)
    return int(np.argmin(penalties(candidates(dark0, lay))))  # argmin: the lower mask on a tie
