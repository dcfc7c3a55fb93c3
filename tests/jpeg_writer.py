"""Pieces of a baseline JPEG writer for the decoder's tests (tests/test_jpeg_speculative_hostile.py
and tests/test_jpeg_speculative_review.py each build exact, and deliberately invalid, files with
them): canonical Huffman codes, value categories, the stuffed bit stream, marker segments."""

from __future__ import annotations


def canonical_codes(counts: list[int], symbols: list[int]) -> dict[int, tuple[int, int]]:
    """symbol -> (code, length) of a DHT's canonical code (no validity check: tests write invalid
    tables on purpose; a symbol listed twice keeps its first code)."""
    out, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            out.setdefault(symbols[k], (code, length))
            code, k = code + 1, k + 1
        code <<= 1
    return out


def category(value: int) -> tuple[int, int]:
    """(size, bits) of a coefficient as JPEG codes it: the bit length of its magnitude, and the
    value itself or, negative, its ones' complement in that many bits."""
    size = abs(value).bit_length()
    return size, (value if value >= 0 else value + (1 << size) - 1)


class BitWriter:
    """Entropy-coded data: bits most significant first, a 0x00 stuffed after every 0xFF byte,
    the last byte padded with ones."""

    def __init__(self) -> None:
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value: int, length: int) -> None:
        self.acc, self.n = (self.acc << length) | (value & ((1 << length) - 1)), self.n + length
        while self.n >= 8:
            byte = (self.acc >> (self.n - 8)) & 255
            self.out += b"\xff\x00" if byte == 0xFF else bytes([byte])
            self.n -= 8
        self.acc &= (1 << self.n) - 1

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def segment(marker: int, body: bytes) -> bytes:
    """A marker segment: 0xFF, the marker, the length (counting itself), the body."""
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body
