"""Choose a QR symbol's mask the way libzint (inside zxing-cpp's writer) does, but fast.

libzint scores all eight masks with plain C loops over the whole symbol: about 90% of the
0.75 ms an automatic `create_barcode` takes. Here the symbol is encoded once with mask 0,
the mask is taken off the data modules, and the eight candidate symbols are scored at once
with numpy. The rules are those of zint's backend/qr.c `qr_evaluate`, as applied by
`qr_apply_bitmask`:

- the whole symbol is scored: function patterns, version information and the candidate's
  own format information (error correction M);
- N1: a row or column run of 5 or more modules of one colour costs its length minus 2;
- N2: every 2x2 block of one colour costs 3;
- N3: every 1011101 in a row or column with 4 light modules before it or after it (outside
  the symbol counts as light) costs 40, counted once;
- N4: 10 for each whole 5% the dark share is away from 50%;
- the lowest score wins, the lower mask on a tie.

The scoring is bit-sliced: a 64-bit word holds one module position of 64 lines (rows, or
columns read as rows) of one candidate, so comparing a module with its neighbour along the
line is one operation on whole words, and the counts are popcounts. The words of all eight
candidates and both directions lie in one flat array, each line padded with light modules
(the outside of the symbol for N3); what a window reads across a line's end is given weight
0 when the counts are summed. About 25 numpy calls on ~1,100 words (version 11) instead of
the 60 calls and six histograms of one byte a module (bit k = mask k) it replaces: 0.10 ->
0.03 ms a code (docs/benchmarks.md).

tests/test_barcode_mask.py checks the choice against the automatic one on thousands of
texts, and the eight scores against the byte-a-module scorer this replaced.
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

#: Little-endian 64-bit words: bit b of a word is lane b, on any host.
_WORD = np.dtype("<u8")
#: Light modules before and after each line: N3 counts the outside of the symbol as light.
_PAD = 4


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
    the eight candidates and score them."""

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
        # Module planes, True = dark: a candidate is (mask-0 symbol & keep) ^ flip[k], i.e. mask
        # 0 taken off and mask k put on the data modules, the format modules replaced by k's.
        keep = np.ones((size, size), dtype=bool)
        flip = np.zeros((8, size, size), dtype=bool)
        for k, cond in enumerate(conditions):
            flip[k] = (cond ^ conditions[0]) & ~func
        for r, c, bit in _format_positions(size):
            keep[r, c] = False
            for k in range(8):
                flip[k, r, c] = bool((format_bits(k) >> bit) & 1)
        self.version = version
        self.size = size
        rows, columns, bits = zip(*_format_positions(size))
        self.format_at = (np.array(rows), np.array(columns))
        self.format_mask0 = (format_bits(0) >> np.array(bits)) & 1 == 1
        self.keep = keep
        self.flip = flip
        self._slice(keep, flip)

    def _slice(self, keep: np.ndarray, flip: np.ndarray) -> None:
        """The same planes as words (`_lanes`), and what the scoring sums with."""
        size = self.size
        self.words = words = (size + 63) // 64  # words a position and direction
        self.stride = stride = size + 2 * _PAD  # positions a line
        self.line = line = 2 * words * stride  # words a candidate
        self.keep_words = np.ascontiguousarray(_lanes(keep, stride))
        sliced = np.stack([_lanes(f, stride) for f in flip])  # (8, 2, words, stride)
        # the lanes beyond the symbol alternate along the line: no runs, blocks or patterns
        spare = np.zeros((stride, 64 * words), dtype=bool)
        spare[_PAD + 1 : _PAD + size : 2, size:] = True
        spare_words = np.packbits(spare, axis=-1, bitorder="little").view(_WORD).T
        sliced |= spare_words
        self.flip_words = sliced
        self.spare_dark = int(np.bitwise_count(spare_words).sum())
        # weights[f, t]: what feature f at word t of a candidate adds (0 where a window leaves the line)
        t = np.arange(line)
        x = t % stride - _PAD  # the module a window starts at
        row = t // (words * stride) == 0  # rows (not columns read as rows)
        x3 = (t + _PAD) % stride - _PAD  # N3 is stored _PAD words early
        weights = np.zeros((5, line, 1))
        weights[0, :, 0] = np.where((x >= 0) & (x <= size - 5), 3, 0)  # 5 alike
        weights[1, :, 0] = np.where((x >= 0) & (x <= size - 6), -2, 0)  # 6 alike
        weights[2, :, 0] = np.where((x3 >= 0) & (x3 <= size - 7), 40, 0)  # 1011101 with light beside
        weights[3, :, 0] = np.where((x >= 0) & (x <= size - 2) & row, 3, 0)  # 2x2 block
        weights[4, :, 0] = np.where((x >= 0) & (x < size), 1, 0)  # dark (twice: rows and columns)
        self.weights = weights
        # N4 by dark count, as libzint computes it (double, truncated)
        dark = np.arange(size * size + 1)
        self.balance = (10 * (np.abs(100.0 * dark / (size * size) - 50.0) / 5.0).astype(np.int64)).astype(np.uint8)


def _lanes(modules: np.ndarray, stride: int) -> np.ndarray:
    """(size, size) booleans as words (2, words, stride): [0, j, _PAD + x] holds module (r, x)
    of rows r = 64 j .. 64 j + 63 as bits r % 64; [1, j, _PAD + x] the same for columns."""
    size = modules.shape[0]
    words = (size + 63) // 64
    bits = np.zeros((2, stride, 64 * words), dtype=bool)
    bits[0, _PAD : _PAD + size, :size] = modules.T
    bits[1, _PAD : _PAD + size, :size] = modules
    return np.packbits(bits, axis=-1, bitorder="little").view(_WORD).transpose(0, 2, 1)


@lru_cache(maxsize=40)
def layout(version: int) -> Layout:
    """The cached layout of `version` (1..40)."""
    if not 1 <= version <= 40:
        raise ValueError(f"QR version {version} is not 1..40")
    return Layout(version)


def is_mask0_m(dark0: np.ndarray, lay: Layout) -> bool:
    """Whether both copies of the symbol's format information say error correction M, mask 0:
    what the candidates are made from (else the writer did not encode what was asked)."""
    return bool(np.array_equal(dark0[lay.format_at], lay.format_mask0))


def masked(dark0: np.ndarray, lay: Layout, mask: int) -> np.ndarray:
    """The symbol with `mask` (booleans), from the symbol encoded with mask 0."""
    return (dark0 & lay.keep) ^ lay.flip[mask]


def penalties(dark0: np.ndarray, lay: Layout) -> np.ndarray:
    """libzint's penalty of each of the eight candidates (int64[8]) of the mask-0 symbol `dark0`."""
    words, stride, line = lay.words, lay.stride, lay.line
    n = 8 * line
    p = np.zeros(n + 16, dtype=_WORD)  # the candidates, then light words for windows to read past the end
    lines = p[:n].reshape(8, 2, words, stride)
    np.bitwise_xor(_lanes(dark0, stride) & lay.keep_words, lay.flip_words, out=lines)
    f = np.zeros((5, n), dtype=_WORD)  # one word of lanes a feature and position
    d = p[:-1] ^ p[1:]  # d[t]: t and t + 1 differ
    d3 = d[:-1] | d[1:]  # a change among t .. t + 2
    # N1: a run of L >= 5 costs L - 2 = 3 (windows of 5 alike) - 2 (windows of 6 alike)
    alike5 = ~(d3[: n + 1] | d3[2 : n + 3])
    f[0] = alike5[:n]
    np.bitwise_and(alike5[:n], alike5[1 : n + 1], out=f[1])
    # N3 at t = u + _PAD, stored at u: dark at t, a change after t and after t + 1, none within
    # t+2..t+4, a change after t + 4 and after t + 5 (1011101), and no dark module in t-4..t-1
    # or in t+7..t+10 (the padding is light)
    o = p[:-1] | p[1:]
    dark4 = o[:-2] | o[2:]  # a dark module among t .. t + 3
    alt = d[:-1] & d[1:]
    hit = p[_PAD : n + _PAD] & alt[_PAD : n + _PAD] & alt[_PAD + 4 : n + _PAD + 4]
    np.bitwise_and(hit, ~(d3[_PAD + 2 : n + _PAD + 2] | (dark4[:n] & dark4[_PAD + 7 : n + _PAD + 7])), out=f[2])
    # N2: rows only; the next row is the next lane (bit 0 of the next word after bit 63)
    below = lines >> 1
    if words > 1:
        below[:, :, :-1] |= lines[:, :, 1:] << 63
    v = (lines ^ below).reshape(n)
    np.invert(d[: n - 1] | v[:-1] | v[1:], out=f[3][: n - 1])
    f[4] = p[:n]
    sums = np.matmul(np.bitwise_count(f).reshape(5, 8, line), lay.weights)[..., 0].astype(np.int64)
    # N4: each module was counted twice (rows and columns), with the alternating spare lanes
    return sums[:4].sum(axis=0) + lay.balance[sums[4] // 2 - lay.spare_dark]


def best_mask(dark0: np.ndarray) -> int:
    """The mask libzint would choose for the symbol whose mask-0 rendering is `dark0`."""
    size = dark0.shape[0]
    return int(np.argmin(penalties(dark0, layout((size - 17) // 4))))  # argmin: the lower mask on a tie
