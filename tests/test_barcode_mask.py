"""The QR mask chosen in numpy (certgen.qr_mask) gives the very symbol libzint chooses itself:
codes issued before the change must redraw byte for byte."""

from __future__ import annotations

import base64
import random

import numpy as np
import pytest
import zxingcpp

from certgen import barcode, qr_mask

PREFIX = "https://verify.example.go.id/s/"


def _automatic(text: str) -> np.ndarray:
    """The old path: libzint scores the masks."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def _texts() -> list[str]:
    """3,000 seal-like texts (address + base32 of 1..700 bytes) and 400 others: digits only,
    byte mode (non-ASCII), mixed, long ones up to barcode.MAX_TEXT, and four-byte
    characters that reach version 40."""
    rng = random.Random(20261130)
    texts = []
    for i in range(3000):
        n = rng.randint(1, 60) if i % 3 == 0 else rng.randint(1, 700)
        texts.append(PREFIX + base64.b32encode(rng.randbytes(n)).decode().rstrip("="))
    for _ in range(100):
        texts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 2000))))
    for _ in range(100):
        texts.append("".join(rng.choice("aé€ßZ09 ./") for _ in range(rng.randint(1, 600))))
    for _ in range(100):
        texts.append("".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 2000))))
    for _ in range(100):
        texts.append(PREFIX + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(rng.randint(1, 1900))))
    for _ in range(60):  # four UTF-8 bytes a character: up to version 40
        texts.append("".join(rng.choice("\U0001F600\U0001F4DC") for _ in range(rng.randint(400, 583))))
    return texts


def test_same_symbol_as_libzint_automatic_mask():
    versions: set[int] = set()
    mismatches = []
    masks: set[int] = set()
    for text in _texts():
        new = barcode.qr_matrix(text)
        old = _automatic(text)
        versions.add(new.version)
        masks.add(qr_mask.best_mask(barcode._encode(text, 0)) if len(masks) < 8 else 0)
        if new.dark.shape != old.shape or not np.array_equal(new.dark, old):
            mismatches.append(text)
    assert mismatches == []
    assert set(range(1, 41)) <= versions  # every version, the seals' 8..16 included
    assert masks == set(range(8))  # every mask was chosen somewhere


def test_format_bits_are_the_standard_table():
    # ISO/IEC 18004 Table C.1, error correction M: masks 0..7
    assert [qr_mask.format_bits(k) for k in range(8)] == [
        0x5412, 0x5125, 0x5E7C, 0x5B4B, 0x45F9, 0x40CE, 0x4F97, 0x4AA0]


def test_candidate_zero_is_the_mask_zero_symbol():
    text = PREFIX + "A" * 300
    dark0 = barcode._encode(text, 0)
    c = qr_mask.candidates(dark0, qr_mask.layout(barcode.qr_matrix(text).version))
    assert np.array_equal((c & 1) > 0, dark0)
    for k in range(1, 8):
        assert np.array_equal((c >> k & 1) > 0, barcode._encode(text, k))


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="QR version 41 is not 1..40"):
        qr_mask.layout(41)


def test_falls_back_to_libzint_when_the_fast_path_fails(monkeypatch):
    text = PREFIX + "B" * 200
    expected = _automatic(text)

    def broken(packed):
        raise AssertionError("unexpected")

    monkeypatch.setattr(barcode, "penalties", broken)
    assert np.array_equal(barcode.qr_matrix(text).dark, expected)


def test_text_too_long_for_qr_is_still_a_barcode_error():
    with pytest.raises(barcode.BarcodeError, match="cannot be encoded"):
        barcode.qr_matrix("\U0001F600" * 600)
