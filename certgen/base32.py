"""Base32 (RFC 4648, upper case, no padding) of a seal, fast: the seal text of every
certificate and card is made with it, and every seal read is decoded with it.

Python 3.11's `base64.b32encode` loops over the input five bytes at a time in Python: 27 us
for a 250-byte seal. Here the whole input is one integer whose 5-bit groups are spread to one
a byte by a fixed number of mask-and-shift steps on the whole integer (each step halves the
blocks of groups still to be spread, so log2(groups) steps), and the bytes 0..31 are
translated to the alphabet: 4 us, the same text (tests/test_base32.py). Decoding runs the
same steps backwards.
"""

from __future__ import annotations

import base64
from functools import lru_cache

#: Longer inputs go to base64 (the same result): the masks, cached per size, stay small.
#: Seals are at most 2 kB (certgen.seal.MAX_COSE).
LIMIT = 1 << 13
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_TEXT = bytes.maketrans(bytes(range(32)), _ALPHABET)
#: Alphabet characters to 0..31, anything else to 0xFF.
_FROM_TEXT = bytes(_ALPHABET.index(c) if c in _ALPHABET else 0xFF for c in range(256))
#: Characters of the last 8-character chunk -> the bytes they carry (RFC 4648: 2, 4, 5, 7 or 8).
_CHUNK_BYTES = {2: 1, 4: 2, 5: 3, 7: 4, 0: 5}


@lru_cache(maxsize=16)
def _steps(levels: int) -> tuple[tuple[int, int, int], ...]:
    """For 2**levels groups of 5 bits packed from bit 0: each step's (shift, low, high) masks.
    Before a step, blocks of `block` groups start at multiples of 8 * block bits, packed 5
    bits a group; the step moves each block's upper half up by 3 bits a group. Masks are
    made by repeating one block's bytes: linear in the size."""
    groups = 1 << levels
    steps = []
    block = groups
    while block > 1:
        half = block // 2
        ones = (1 << (5 * half)) - 1
        low = int.from_bytes(ones.to_bytes(block, "little") * (groups // block), "little")
        steps.append((3 * half, low, low << (5 * half)))
        block = half
    return tuple(steps)


def encode(data: bytes) -> str:
    """`data` in base32, upper case, without '=' padding (as base64.b32encode, padding stripped)."""
    if not data:
        return ""
    if len(data) > LIMIT:
        return base64.b32encode(data).decode("ascii").rstrip("=")
    chunks = -(-len(data) // 5)  # the text is made of 5-byte chunks of 8 characters
    groups = 8 * chunks
    value = int.from_bytes(data, "big") << (8 * (5 * chunks - len(data)))
    for shift, low, high in _steps((groups - 1).bit_length()):
        value = (value & low) | ((value & high) << shift)
    return value.to_bytes(groups, "big").translate(_TO_TEXT)[: -(-8 * len(data) // 5)].decode("ascii")


def decode(text: str) -> bytes:
    """The bytes of unpadded upper-case base32 `text` (as base64.b32decode of it padded).
    Raises ValueError for a character outside the alphabet or an impossible length; unused low
    bits of the last character are ignored, as base64 ignores them (the seal checks them)."""
    if not text:
        return b""
    try:
        values = text.encode("ascii").translate(_FROM_TEXT)
    except UnicodeEncodeError:
        raise ValueError("not a base32 character") from None
    if b"\xff" in values:
        raise ValueError("not a base32 character")
    if len(text) % 8 not in _CHUNK_BYTES:
        raise ValueError(f"impossible base32 length {len(text)}")
    if len(text) > 8 * LIMIT // 5:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    chunks = -(-len(text) // 8)
    groups = 8 * chunks
    value = int.from_bytes(values, "big") << (8 * (groups - len(text)))
    for shift, low, high in reversed(_steps((groups - 1).bit_length())):
        value = (value & low) | ((value >> shift) & high)
    size = 5 * (chunks - 1) + _CHUNK_BYTES[len(text) % 8]
    return value.to_bytes(5 * chunks, "big")[:size]
