"""Hostile files against verify.jpeg_speculative's contract.

The contract: after `warm()`, for any bytes `verify.scan.probe` accepts, `decode(plan(...))`
(when `plan` takes the file) gives None or exactly libjpeg's pixels (`cv2.imdecode` with
IMREAD_REDUCED_GRAYSCALE_2), and never raises, crashes, reads or writes out of bounds or hangs.
Checked here on mutations of real encoders' files (OpenCV, Pillow, and a small baseline encoder
below that writes what those never do: extreme coefficients, full or odd Huffman tables, runs
past the 63rd coefficient), with the split threshold and the overlap made small so that files
of a few kilobytes take the two-span path and its join; once more in a child process whose
kernels are compiled with NUMBA_BOUNDSCHECK=1; and from several threads and a forked child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from io import BytesIO

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("numba")

from verify import jpeg_speculative, scan  # noqa: E402

FLAG = cv2.IMREAD_REDUCED_GRAYSCALE_2
ZIGZAG = np.array([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
                   20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                   58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    assert jpeg_speculative.warm()


@pytest.fixture
def split_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files through the two-span path, joining after a few MCUs past the middle."""
    monkeypatch.setattr(jpeg_speculative, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(jpeg_speculative, "OVERLAP_MCUS", 6)


# -- images and encoders -------------------------------------------------------------------------

def _photo(rng: np.random.Generator, height: int, width: int, colour: bool = False) -> np.ndarray:
    """Smooth noise with edges: Huffman codes of a photo's statistics (they resynchronise)."""
    base = cv2.GaussianBlur(rng.normal(128, 70, (height, width)), (0, 0), 1.5)
    base += np.where(np.arange(width) % 37 < 5, 60, 0)
    grey = base.clip(0, 255).astype(np.uint8)
    if not colour:
        return grey
    return np.dstack([grey, np.roll(grey, 9, axis=0), 255 - grey])


def _canonical(counts: list[int], symbols: list[int]) -> dict[int, tuple[int, int]]:
    """symbol -> (code, length) of a DHT's canonical code (no validity check: tests write invalid
    tables on purpose)."""
    out, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            out.setdefault(symbols[k], (code, length))
            code, k = code + 1, k + 1
        code <<= 1
    return out


def _flat(symbols: list[int]) -> tuple[list[int], list[int]]:
    """A valid table giving every symbol a code of one length, with a code point to spare."""
    length = max(1, len(symbols).bit_length())
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return counts, list(symbols)


def _category(value: int) -> tuple[int, int]:
    size = abs(value).bit_length()
    return size, (value if value >= 0 else value + (1 << size) - 1)


def _tokens(block: np.ndarray) -> list[tuple[int, int]]:
    """(run, value) AC tokens of a block in zigzag order; (0, 0) is EOB, (15, 0) ZRL."""
    out, run = [], 0
    last = max((k for k in range(1, 64) if block[k]), default=0)
    for k in range(1, last + 1):
        if block[k] == 0:
            run += 1
            continue
        while run > 15:
            out.append((15, 0))
            run -= 16
        out.append((run, int(block[k])))
        run = 0
    if last < 63:
        out.append((0, 0))
    return out


def encode(blocks: list, width: int, height: int, *, quant: np.ndarray | None = None, sof: int = 0xC0,
           dc_table: tuple[list[int], list[int]] | None = None,
           ac_table: tuple[list[int], list[int]] | None = None, extra: bytes = b"", dc_diffs: bool = False,
           sampling: int = 0x11) -> bytes:
    """A greyscale baseline JPEG from quantised blocks (raster order, zigzag order, absolute DC;
    with `dc_diffs` the DC entries are the coded differences). A block may also be a list of
    explicit (run, value) AC tokens after a ("dc", value) head, to write what no encoder would."""
    quant = np.ones(64, np.int64) if quant is None else quant
    streams = []
    pred = 0
    for block in blocks:
        if isinstance(block, list):
            dc, tokens = block[0][1], block[1:]
        else:
            dc, tokens = int(block[0]), _tokens(np.asarray(block))
        streams.append((dc if dc_diffs else dc - pred, tokens))
        pred = pred + dc if dc_diffs else dc
    dc_symbols = sorted({_category(d)[0] for d, _ in streams})
    ac_symbols = sorted({(run << 4) | _category(v)[0] for _, t in streams for run, v in t})
    dc_table = dc_table or _flat(dc_symbols)
    ac_table = ac_table or _flat(ac_symbols or [0])
    dc_codes, ac_codes = _canonical(*dc_table), _canonical(*ac_table)
    acc, nbits, out = 0, 0, bytearray()

    def put(value: int, length: int) -> None:
        nonlocal acc, nbits
        acc, nbits = (acc << length) | (value & ((1 << length) - 1)), nbits + length
        while nbits >= 8:
            byte = (acc >> (nbits - 8)) & 255
            out.append(byte)
            if byte == 0xFF:
                out.append(0)
            nbits -= 8

    for diff, tokens in streams:
        size, bits = _category(diff)
        put(*dc_codes[size])
        put(bits, size)
        for run, value in tokens:
            size, bits = _category(value)
            put(*ac_codes[(run << 4) | size])
            put(bits, size)
    if nbits:
        put((1 << (8 - nbits)) - 1, 8 - nbits)
    precision = int(quant.max() > 255)
    dqt = bytes([precision << 4]) + b"".join(int(q).to_bytes(1 + precision, "big") for q in quant)
    dht = b"".join(bytes([kind]) + bytes(counts) + bytes(symbols) for kind, (counts, symbols)
                   in ((0x00, dc_table), (0x10, ac_table)))
    frame = bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([1, 1, sampling, 0])
    scan_header = bytes([1, 1, 0x00, 0, 63, 0])
    return (b"\xff\xd8" + _segment(0xDB, dqt) + _segment(sof, frame) + _segment(0xC4, dht) + extra
            + _segment(0xDA, scan_header) + bytes(out) + b"\xff\xd9")


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def _coefficients(image: np.ndarray, quant: np.ndarray) -> list[np.ndarray]:
    """Quantised zigzag blocks of a greyscale image (its sides multiples of 8)."""
    out = []
    for y in range(0, image.shape[0], 8):
        for x in range(0, image.shape[1], 8):
            natural = cv2.dct(image[y:y + 8, x:x + 8].astype(np.float32) - 128).ravel()
            out.append(np.round(natural[ZIGZAG] / quant).astype(np.int64))
    return out


# -- the contract ----------------------------------------------------------------------------------

def libjpeg(data: bytes) -> np.ndarray | None:
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), FLAG)
    except cv2.error:
        return None


def check(data: bytes) -> str:
    """The contract on one file: 'probe' (refused before any decoder), 'refused' (plan gives
    None), 'fallback' (decode gives None) or 'decoded' (and then libjpeg's pixels exactly)."""
    try:
        header = scan.probe(data)
    except scan.ImageError:
        return "probe"
    job = jpeg_speculative.plan(data, FLAG, header.width, header.height)
    if job is None:
        return "refused"
    got = jpeg_speculative.decode(job)
    if got is None:
        return "fallback"
    expected = libjpeg(data)
    assert expected is not None, "decoded a file libjpeg refuses"
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} pixels differ from libjpeg's"
    return "decoded"


def _run_child(code: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Python code in a child process (a crash there is a failed assertion here, not a dead
    test run)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _grey_file(seed: int = 1, height: int = 64, width: int = 96, quality: int = 90) -> bytes:
    image = _photo(np.random.default_rng(seed), height, width)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


# -- defects found, one test each -----------------------------------------------------------------

def test_a_huffman_table_with_more_codes_than_fit_is_refused_without_writing_past_the_table() -> None:
    """Found here: 3+ codes of length 1 made build_table write its lookup entries past the
    table before noticing the overflow (heap corruption, 'free(): invalid next size', the
    process aborted) from `plan`, on a file probe accepts. An AC table in slot 3 is the last
    row of the lookup array: its overrun leaves the allocation."""
    for count in (3, 255):
        segment = bytes([0x13, count] + [0] * 15) + bytes(range(count))
        data = _grey_file()
        hostile = data[:2] + _segment(0xC4, segment) + data[2:]
        assert scan.probe(hostile).width == 96
        child = _run_child(f"""
            from verify import jpeg_speculative
            assert jpeg_speculative.warm()
            data = bytes.fromhex("{hostile.hex()}")
            for _ in range(20):
                assert jpeg_speculative.refusal(data, 96, 64, 0) == "a Huffman table libjpeg refuses"
            print("ok")
            """)
        assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr[-2000:]


def test_a_complete_huffman_code_is_refused_as_libjpeg_refuses_it(split_small, monkeypatch) -> None:
    """Found here: libjpeg refuses a table whose codes of some length use the all-ones code
    (jpeg_make_d_derived_tbl: 'code >= 1 << si'); build_table accepted it (`>`), so a file
    libjpeg does not decode at all was decoded."""
    monkeypatch.setattr(jpeg_speculative, "OVERLAP_MCUS", 4096)  # one span: no join to miss
    quant = np.full(64, 4)
    blocks = _coefficients(_photo(np.random.default_rng(3), 64, 96), quant)
    sizes = sorted({_category(int(b[0]) - int(p[0]))[0] for b, p in zip(blocks, [np.zeros(64, int)] + blocks)})
    length = (len(sizes) - 1).bit_length()
    counts = [0] * 16
    counts[length - 1] = 1 << length  # every code of that length, the all-ones one too
    symbols = sizes + [s for s in range(16) if s not in sizes][:(1 << length) - len(sizes)]
    data = encode(blocks, 96, 64, quant=quant, dc_table=(counts, symbols))
    assert libjpeg(data) is None
    assert jpeg_speculative.refusal(data, 96, 64, 0) == "a Huffman table libjpeg refuses"
    assert check(data) == "refused"
    counts[length - 1] -= 1  # the same without the all-ones code: decoded, libjpeg's pixels
    assert check(encode(blocks, 96, 64, quant=quant, dc_table=(counts, symbols[:-1] if symbols[-1] not in sizes
                                                                else symbols))) == "decoded"


def test_a_chroma_component_without_its_quantisation_table_is_refused(split_small, monkeypatch) -> None:
    """Found here: libjpeg refuses a scan whose components name an undefined quantisation table
    (latch_quant_tables, JERR_NO_QUANT_TABLE), chroma ones too, though a greyscale decode never
    uses their pixels; only the luma table was checked, so such a file was decoded."""
    monkeypatch.setattr(jpeg_speculative, "OVERLAP_MCUS", 4096)  # one span: no join to miss
    image = _photo(np.random.default_rng(5), 96, 130, colour=True)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    assert check(data) == "decoded"
    sof = data.find(b"\xff\xc0")
    for component, table in ((1, 2), (2, 3), (1, 9)):
        hostile = bytearray(data)
        hostile[sof + 12 + 3 * component] = table
        assert libjpeg(bytes(hostile)) is None
        assert jpeg_speculative.refusal(bytes(hostile), 130, 96, 0) == "a component's quantisation table is not defined"
        assert check(bytes(hostile)) == "refused"
