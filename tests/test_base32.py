"""certgen.base32 gives the very text of base64.b32encode (padding stripped): seal texts of
codes issued before it must be drawn again byte for byte."""

import base64
import random

import pytest

from certgen import base32
from certgen.seal import MAX_COSE


def _reference(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


@pytest.mark.parametrize("length", range(0, 41))
def test_every_short_length_and_each_padding(length):
    rng = random.Random(length)
    for data in (bytes(length), b"\xff" * length, rng.randbytes(length)):
        assert base32.encode(data) == _reference(data)


def test_random_inputs_up_to_the_largest_seal_and_beyond():
    rng = random.Random(20261130)
    for _ in range(2000):
        data = rng.randbytes(rng.randint(0, MAX_COSE + 100))
        assert base32.encode(data) == _reference(data)


def test_single_bits_land_where_the_standard_puts_them():
    # the RFC 4648 test vectors, then one set bit at every position of 10 bytes
    vectors = {b"f": "MY", b"fo": "MZXQ", b"foo": "MZXW6", b"foob": "MZXW6YQ", b"fooba": "MZXW6YTB",
               b"foobar": "MZXW6YTBOI"}
    assert {k: base32.encode(k) for k in vectors} == vectors
    for bit in range(80):
        data = (1 << bit).to_bytes(10, "big")
        assert base32.encode(data) == _reference(data)
