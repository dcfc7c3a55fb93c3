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


@pytest.mark.parametrize("text", [PREFIX + "A" * 300, "1", "x" * 200, "\U0001F600" * 580],
                         ids=["seal", "version 1", "version 10", "version 40"])
def test_each_candidate_is_the_symbol_encoded_with_its_mask(text):
    dark0 = barcode._encode(text, 0)
    lay = qr_mask.layout((dark0.shape[0] - 17) // 4)
    for k in range(8):
        assert np.array_equal(qr_mask.masked(dark0, lay, k), barcode._encode(text, k))


def _byte_scores(dark0: np.ndarray) -> np.ndarray:
    """The scorer qr_mask's bit-sliced one replaced (checked against libzint's choices on these
    texts before): the eight candidates one byte a module, bit k = mask k, scored by histograms."""
    size = dark0.shape[0]
    lay = qr_mask.layout((size - 17) // 4)
    c = np.stack([qr_mask.masked(dark0, lay, k) for k in range(8)])
    c = (c.astype(np.uint8) << np.arange(8, dtype=np.uint8)[:, None, None]).sum(axis=0, dtype=np.uint8)
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1

    def counts(x):
        return np.bincount(x.ravel(), minlength=256) @ bits

    a = np.concatenate((c, c.T))
    diff = a[:, :-1] ^ a[:, 1:]
    same = ~diff
    same2 = same[:, :-1] & same[:, 1:]
    w5 = same2[:, : size - 4] & same2[:, 2 : size - 2]
    hist = counts(w5) + 2 * (counts(w5[:, 0]) + counts(w5[:, 1:] & diff[:, : size - 5]))
    p = np.zeros((a.shape[0], size + 8), dtype=np.uint8)
    p[:, 4 : size + 4] = a
    light = ~p
    light2 = light[:, :-1] & light[:, 1:]
    light4 = light2[:, :-2] & light2[:, 2:]
    m = size - 6
    hit = p[:, 4 : 4 + m] & light[:, 5 : 5 + m] & p[:, 6 : 6 + m] & p[:, 7 : 7 + m] & p[:, 8 : 8 + m]
    hit &= light[:, 9 : 9 + m] & p[:, 10 : 10 + m] & (light4[:, :m] | light4[:, 11 : 11 + m])
    hist += 40 * counts(hit)
    top = c[:-1, :-1]
    hist += 3 * counts(~((top ^ c[1:, :-1]) | (top ^ c[:-1, 1:]) | (top ^ c[1:, 1:])))
    percentage = (100.0 * counts(c)) / (size * size)
    return hist + 10 * (np.abs(percentage - 50.0) / 5.0).astype(np.int64)


def test_the_eight_scores_are_those_of_the_byte_scorer():
    """Not only the winner: every candidate's score, on every version."""
    different = []
    for text in _texts()[::3]:
        dark0 = barcode._encode(text, 0)
        scores = qr_mask.penalties(dark0, qr_mask.layout((dark0.shape[0] - 17) // 4))
        if not np.array_equal(scores, _byte_scores(dark0)):
            different.append(text)
    assert different == []


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="QR version 41 is not 1..40"):
        qr_mask.layout(41)


def test_falls_back_to_libzint_when_the_fast_path_fails(monkeypatch):
    text = PREFIX + "B" * 200
    expected = _automatic(text)

    def broken(dark0, lay):
        raise AssertionError("unexpected")

    monkeypatch.setattr(barcode, "penalties", broken)
    assert np.array_equal(barcode.qr_matrix(text).dark, expected)


def test_text_too_long_for_qr_is_still_a_barcode_error():
    with pytest.raises(barcode.BarcodeError, match="cannot be encoded"):
        barcode.qr_matrix("\U0001F600" * 600)


@pytest.mark.parametrize("level", ["ignored mask", "L", "Q", "H"])
def test_a_symbol_encoded_otherwise_than_asked_falls_back_to_libzint(monkeypatch, level):
    """The fast path takes mask 0 off the symbol libzint gives for `data_mask=0` at level M.
    If a writer gave anything else (the mask option ignored, another error correction level),
    its format information says so, and the code is libzint's own choice, not a symbol whose
    data are masked twice or labelled with the wrong level."""
    text = PREFIX + base64.b32encode(random.Random(1).randbytes(150)).decode().rstrip("=")
    expected = _automatic(text)
    assert barcode._fast_matrix(text) is not None
    encode = barcode._encode

    def writer(text: str, mask: int | None) -> np.ndarray:
        if mask is None:
            return encode(text, None)
        if level == "ignored mask":
            return encode(text, None)
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=level, data_mask=mask)
        return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128

    monkeypatch.setattr(barcode, "_encode", writer)
    if level == "ignored mask":
        assert not np.array_equal(expected, encode(text, 0))  # libzint's own mask is not 0
    assert barcode._fast_matrix(text) is None
    assert np.array_equal(barcode.qr_matrix(text).dark, expected)
