"""certgen.base32 gives the very text of base64.b32encode (padding stripped): seal texts of
codes issued before it must be drawn again byte for byte; and decodes as base64.b32decode."""

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


def _reference_decode(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def test_decoding_gives_back_the_bytes_as_base64_does():
    rng = random.Random(20261201)
    for length in [*range(0, 41), *(rng.randint(0, MAX_COSE + 100) for _ in range(1000))]:
        data = rng.randbytes(length)
        assert base32.decode(base32.encode(data)) == data == _reference_decode(base32.encode(data))


def test_decoding_ignores_unused_bits_of_the_last_character_as_base64_does():
    """parse_seal_text refuses such texts itself (one seal, one text); the decoder must not
    differ from base64 on them either."""
    rng = random.Random(7)
    for length in range(1, 30):
        text = base32.encode(rng.randbytes(length))
        for last in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
            altered = text[:-1] + last
            assert base32.decode(altered) == _reference_decode(altered)


@pytest.mark.parametrize("text, reason", [("MZXW6YT1", "not a base32 character"), ("mzxw6", "not a base32 character"),
                                           ("MZ W6", "not a base32 character"), ("MZX\u00c9", "not a base32 character"),
                                           ("M", "impossible base32 length 1"), ("MZX", "impossible base32 length 3"),
                                           ("MZXW6Y", "impossible base32 length 6")])
def test_decoding_refuses_what_base64_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        base32.decode(text)
    with pytest.raises(ValueError):  # binascii.Error is a ValueError
        base64.b32decode(text + "=" * (-len(text) % 8))


def test_inputs_beyond_the_limit_give_the_same_text_through_base64():
    data = random.Random(3).randbytes(base32.LIMIT + 7)
    text = base32.encode(data)
    assert text == _reference(data) and base32.decode(text) == data
    assert base32._steps.cache_info().currsize <= 16
