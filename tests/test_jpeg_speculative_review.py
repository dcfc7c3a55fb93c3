"""Review of verify/jpeg_speculative.py against libjpeg-turbo's own behaviour: files the kernels
accepted although `cv2.imdecode` (libjpeg-turbo with its SIMD inverse DCT) refuses them or
gives other pixels. Each test builds the smallest file that shows one rule, and asserts the
contract: `decode` gives None or exactly libjpeg's pixels.

The files are written by a small baseline encoder below (one grey component, any quantised
coefficients, any Huffman counts), so that a test can place a value or a table exactly where
libjpeg's behaviour changes."""

import io
import multiprocessing

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.jpeg_writer import BitWriter, canonical_codes, category
from verify import jpeg_speculative as spec

REDUCED = cv2.IMREAD_REDUCED_GRAYSCALE_2
ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,
          7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31,
          39, 46, 53, 60, 61, 54, 47, 55, 62, 63]


def _standard_tables() -> tuple[tuple[list[int], list[int]], ...]:
    """The luma DC and AC tables of ITU-T T.81 K.3, as OpenCV's encoder writes them."""
    data, at, tables = cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))[1].tobytes(), 2, []
    while data[at + 1] != 0xDA:
        length = int.from_bytes(data[at + 2:at + 4], "big")
        segment, i = data[at + 4:at + 2 + length], 0
        while data[at + 1] == 0xC4 and i < len(segment):
            counts = list(segment[i + 1:i + 17])
            tables.append((counts, list(segment[i + 17:i + 17 + sum(counts)])))
            i += 17 + sum(counts)
        at += 2 + length
    return tables[0], tables[1]


DC_TABLE, AC_TABLE = _standard_tables()


@pytest.fixture(scope="module", autouse=True)
def warm_decoder():
    assert spec.warm()


@pytest.fixture
def small_files(monkeypatch):
    monkeypatch.setattr(spec, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(spec, "OVERLAP_MCUS", 256)


def _encode(blocks: list[np.ndarray], width: int, height: int, quant: np.ndarray, dc=DC_TABLE, ac=AC_TABLE,
            tail: bytes = b"\xff\xd9", sampling: tuple[int, ...] = (0x11,)) -> bytes:
    """A baseline JPEG of quantised blocks (natural order, in scan order): grey, or YCbCr with
    the given sampling factors (one quantisation and one pair of Huffman tables for all)."""
    dc_codes, ac_codes, bits = canonical_codes(*dc), canonical_codes(*ac), BitWriter()
    owner = [c for c, factors in enumerate(sampling) for _ in range((factors >> 4) * (factors & 15))]
    preds = [0] * len(sampling)
    for n, block in enumerate(blocks):
        c = owner[n % len(owner)]
        diff, preds[c] = int(block[0]) - preds[c], int(block[0])
        size, value = category(diff)
        bits.put(*dc_codes[size])
        bits.put(value, size)
        zz = [int(block[ZIGZAG[k]]) for k in range(64)]
        last, run = max([k for k in range(1, 64) if zz[k]] or [0]), 0
        for k in range(1, last + 1):
            if zz[k] == 0:
                run += 1
                if run == 16:
                    bits.put(*ac_codes[0xF0])
                    run = 0
                continue
            size, value = category(zz[k])
            bits.put(*ac_codes[run << 4 | size])
            bits.put(value, size)
            run = 0
        if last < 63:
            bits.put(*ac_codes[0])
    dqt = bytes([0]) + bytes(int(quant[ZIGZAG[k]]) for k in range(64))
    out = b"\xff\xd8\xff\xdb" + (len(dqt) + 2).to_bytes(2, "big") + dqt
    out += b"\xff\xc0" + (8 + 3 * len(sampling)).to_bytes(2, "big") + b"\x08" + height.to_bytes(2, "big")
    out += width.to_bytes(2, "big") + bytes([len(sampling)])
    out += b"".join(bytes([c + 1, factors, 0]) for c, factors in enumerate(sampling))
    for kind, (counts, symbols) in ((0x00, dc), (0x10, ac)):
        segment = bytes([kind]) + bytes(counts) + bytes(symbols)
        out += b"\xff\xc4" + (len(segment) + 2).to_bytes(2, "big") + segment
    sos = bytes([len(sampling)]) + b"".join(bytes([c + 1, 0]) for c in range(len(sampling))) + b"\x00\x3f\x00"
    return out + b"\xff\xda" + (len(sos) + 2).to_bytes(2, "big") + sos + bits.flush() + tail


def _libjpeg(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), REDUCED | cv2.IMREAD_IGNORE_ORIENTATION)


def _contract(data: bytes, width: int, height: int) -> spec.Outcome | None:
    """The outcome of a two-span decode (None when not planned), after checking the contract."""
    job = spec.plan(data, REDUCED, width, height)
    if job is None:
        return None
    outcome = spec.explain(job)
    if outcome.pixels is not None:
        expected = _libjpeg(data)
        assert expected is not None, f"libjpeg refuses the file, the decoder gave pixels ({outcome.how})"
        assert np.array_equal(outcome.pixels, expected), f"other pixels than libjpeg's ({outcome.how})"
    return outcome


def _random_blocks(count: int, seed: int, dc: int = 60, ac: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(count):
        block = np.zeros(64, np.int64)
        block[0] = rng.integers(-dc, dc + 1)
        block[[1, 8, 9, 2, 16]] = rng.integers(-ac, ac + 1, 5)
        blocks.append(block)
    return blocks


def test_the_encoder_writes_files_the_decoder_takes_and_joins(small_files):
    """The helper encoder's files are decoded, on two spans, to libjpeg's pixels (so the tests
    below fail for the reason they name, not for the encoder)."""
    data = _encode(_random_blocks(64 * 48, 1), 512, 384, np.ones(64, np.int64))
    outcome = _contract(data, 512, 384)
    assert outcome is not None and outcome.how == "joined"


@pytest.mark.parametrize("where", ["first span", "second span"])
def test_an_inverse_dct_output_beyond_512_is_not_wrapped(small_files, where):
    """libjpeg-turbo's SIMD jsimd_idct_4x4 saturates its outputs (packsswb), the C jpeg_idct_4x4
    wraps them through the range limit table (& 1023): they agree only for outputs in
    -512..511. A block of dequantised DC 1600 and first horizontal AC 4000 (both below
    COEF_LIMIT, intermediates below WORK_LIMIT) gives about 841 at its left edge: libjpeg 255,
    the C table 0. A whole row of such blocks, read by the first span or by the second."""
    quant = np.full(64, 4, np.int64)
    blocks = _random_blocks(64 * 48, 2, dc=25)
    at = 0 if where == "first span" else len(blocks) - 64
    for block in blocks[at:at + 64]:
        block[:] = 0
        block[0], block[1] = 400, 1000
    data = _encode(blocks, 512, 384, quant)
    assert _libjpeg(data)[(at // 64) * 4, 0] == 255
    outcome = _contract(data, 512, 384)
    assert outcome is not None and outcome.pixels is None
    assert outcome.how == ("first_span_out_of_range" if where == "first span" else "second_span_out_of_range")


@pytest.mark.parametrize("table", ["DC", "AC"])
def test_a_huffman_table_with_an_all_ones_code_is_refused_as_libjpeg_does(small_files, table):
    """jpeg_make_d_derived_tbl: after the codes of each length, `code >= 1 << length` is an
    error (no code may be all ones), so a table that fills its code space is refused."""
    dc, ac = DC_TABLE, AC_TABLE
    if table == "DC":
        dc = ([0, 0, 0, 16] + [0] * 12, list(range(16)))  # 16 codes of 4 bits: 1111 is one
    else:
        symbols = [0x00, 0xF0] + [run << 4 | size for run in range(8) for size in range(1, 16)] + list(range(0x81, 0x88))
        ac = ([0] * 6 + [127, 2] + [0] * 8, symbols)  # 127 codes of 7 bits and 2 of 8 fill the space
    data = _encode(_random_blocks(64 * 48, 3), 512, 384, np.ones(64, np.int64), dc=dc, ac=ac)
    assert _libjpeg(data) is None
    assert spec.refusal(data, 512, 384, 0) == "a Huffman table libjpeg refuses"
    assert _contract(data, 512, 384) is None


@pytest.mark.parametrize("tail", [b"", b"\xff", b"\xff\xff", b"\xff\x00", b"\xff\xff\x00"],
                         ids=["nothing", "a lone 0xFF", "fill bytes", "a stuffed 0xFF", "0xFF 0xFF 0x00"])
def test_a_scan_that_runs_into_the_end_of_the_file_is_left_to_libjpeg(small_files, tail):
    """With OpenCV's memory source libjpeg suspends (and imdecode gives None) when it reads
    ahead past the end of the file; the kernels feed zero bits there and had decoded the last
    MCU. A marker after the scan stops libjpeg's reading before the end (0xFF 0xFF 0x00 is a
    data byte to libjpeg, not a marker)."""
    data = _encode(_random_blocks(48, 4), 64, 48, np.ones(64, np.int64), tail=tail)
    assert _libjpeg(data) is None
    outcome = _contract(data, 64, 48)
    assert outcome is not None and outcome.how == "no_eoi_after_the_scan"


def test_a_file_with_a_long_trailer_after_eoi_still_decodes(small_files):
    """A phone's motion photo appends megabytes after EOI: the marker that ends the scan is
    found where the first span stopped reading, not in the file's tail (and the split from the
    image's own EOI, so the spans join)."""
    trailer = bytes(np.random.default_rng(12).integers(0, 255, 100_000, dtype=np.uint8))  # no 0xFF
    data = _encode(_random_blocks(64 * 48, 12), 512, 384, np.ones(64, np.int64), tail=b"\xff\xd9" + trailer)
    outcome = _contract(data, 512, 384)
    assert outcome is not None and outcome.how == "joined" and outcome.pixels is not None


def _pillow_444() -> bytes:
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.normal(128, 60, (256, 320, 3)).astype(np.float32), (0, 0), 2)
    out = io.BytesIO()
    Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(out, "JPEG", quality=90, subsampling=0)
    return out.getvalue()


def test_a_scan_listing_the_components_in_another_order_is_refused(small_files):
    """libjpeg refuses a scan whose components are not in the frame's order (here Cb, Y, Cr
    with the tables left in place, so the entropy data still decodes)."""
    data = bytearray(_pillow_444())
    sos = data.index(b"\xff\xda")
    data[sos + 5:sos + 11] = bytes([2, 0x00, 1, 0x11, 3, 0x11])
    assert _libjpeg(bytes(data)) is None
    assert spec.refusal(bytes(data), 320, 256, 0) == "the scan lists the components in another order than the frame"
    assert _contract(bytes(data), 320, 256) is None


def test_an_undefined_chroma_quantisation_table_is_refused(small_files):
    """libjpeg latches the quantisation table of every component of the scan (chroma too, in a
    grey decode) and refuses a table the file does not define."""
    data = bytearray(_pillow_444())
    sof = data.index(b"\xff\xc0")
    data[sof + 15] = 3  # Cb's Tq
    assert _libjpeg(bytes(data)) is None
    assert spec.refusal(bytes(data), 320, 256, 0) == "a quantisation table of the frame is not defined"
    assert _contract(bytes(data), 320, 256) is None


def test_a_side_beyond_libjpegs_65500_is_refused(small_files):
    """JPEG_MAX_DIMENSION: libjpeg refuses a frame wider or higher than 65,500 pixels."""
    width = 65501
    blocks = _random_blocks(-(-width // 8) * 2, 6, ac=0)
    data = _encode(blocks, width, 16, np.ones(64, np.int64))
    assert _libjpeg(data) is None
    assert spec.refusal(data, width, 16, 0) == "wider or higher than libjpeg decodes (65,500)"
    assert _contract(data, width, 16) is None


def test_random_coefficients_give_libjpegs_pixels_or_none(small_files):
    """Differential check of the inverse DCT against libjpeg-turbo's SIMD one: blocks with
    large random coefficients near the limits (quantisation 1..8), one span and two."""
    decoded = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        quant = rng.integers(1, 9, 64)
        blocks = _random_blocks(64 * 48, 200 + seed, dc=300 // int(quant[0]) + 1, ac=600 // int(quant.max()))
        outcome = _contract(_encode(blocks, 512, 384, quant), 512, 384)
        decoded += outcome is not None and outcome.pixels is not None
    assert decoded >= 6


def _explain_in_child(data: bytes) -> str:
    return spec.explain(spec.plan(data, REDUCED, 512, 384)).how


def test_a_child_forked_during_a_decode_is_not_left_busy_for_ever(small_files):
    """A process forked while another thread holds the one-decode-at-a-time semaphore must not
    inherit it held: no thread in the child would ever release it."""
    data = _encode(_random_blocks(64 * 48, 7), 512, 384, np.ones(64, np.int64))
    assert spec._SPANS.acquire(blocking=False)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.apply(_explain_in_child, (data,)) == "joined"
    finally:
        spec._SPANS.release()


def _sampled(factors: tuple[int, ...], seed: int) -> bytes:
    hmax, vmax = max(f >> 4 for f in factors), max(f & 15 for f in factors)
    mcus = -(-512 // (8 * hmax)) * -(-384 // (8 * vmax))
    per_mcu = sum((f >> 4) * (f & 15) for f in factors)
    return _encode(_random_blocks(mcus * per_mcu, seed), 512, 384, np.ones(64, np.int64), sampling=factors)


def test_an_mcu_of_more_than_ten_blocks_is_refused(small_files):
    """D_MAX_BLOCKS_IN_MCU: libjpeg refuses an MCU of more than 10 blocks (three components
    sampled 2x2: 12)."""
    data = _sampled((0x22, 0x22, 0x22), 8)
    assert _libjpeg(data) is None
    assert spec.refusal(data, 512, 384, 0) == "more than 10 blocks in an MCU"
    assert _contract(data, 512, 384) is None


@pytest.mark.parametrize("factors", [(0x12, 0x11, 0x11), (0x22, 0x21, 0x21), (0x22, 0x12, 0x21), (0x22, 0x22, 0x21)],
                         ids=["4:4:0", "chroma 2x1", "chroma 1x2 and 2x1", "ten blocks"])
def test_uncommon_sampling_factors_give_libjpegs_pixels(small_files, monkeypatch, factors):
    monkeypatch.setattr(spec, "OVERLAP_MCUS", 4096)  # one span: the layout of the blocks is what is checked
    outcome = _contract(_sampled(factors, 9), 512, 384)
    assert outcome is not None and outcome.how == "one_span" and outcome.pixels is not None


def test_tables_defined_again_before_the_scan_are_used_as_libjpeg_uses_them(small_files):
    """The last definition of a table before SOS is the one libjpeg latches: a quantisation
    table redefined after SOF, a Huffman table defined twice (a first, different one before the
    frame)."""
    quant = np.full(64, 2, np.int64)
    data = _encode(_random_blocks(64 * 48, 10), 512, 384, quant)
    sos = data.index(b"\xff\xda")
    other_quant = bytes([0]) + bytes(range(1, 65))
    dqt = b"\xff\xdb" + (len(other_quant) + 2).to_bytes(2, "big") + other_quant
    other_dc = bytes([0x00]) + bytes([0, 0, 0, 0, 12] + [0] * 11) + bytes(range(12))
    dht = b"\xff\xc4" + (len(other_dc) + 2).to_bytes(2, "big") + other_dc
    redefined = data[:2] + dht + data[2:sos] + dqt + data[sos:]
    assert not np.array_equal(_libjpeg(redefined), _libjpeg(data))  # the new quantisation table is used
    outcome = _contract(redefined, 512, 384)
    assert outcome is not None and outcome.pixels is not None and outcome.how == "joined"


@pytest.mark.parametrize(("tail", "two_spans"), [(b"\xff\xff\xff\xd9", "no_eoi_after_the_scan"),
                                               (b"\x12\x34\xff\xd9", "joined"),
                                               (b"\xff\xdc\x00\x04\x01\x80\xff\xd9", "no_eoi_after_the_scan"),
                                               (b"\xff\xfe\x00\x04ab\xff\xd9", "no_eoi_after_the_scan"),
                                               (b"\xff\xd0\xff\xd9", "no_eoi_after_the_scan")],
                         ids=["fill bytes", "extraneous bytes", "DNL", "COM", "RST0"])
def test_what_follows_the_scan_gives_libjpegs_pixels_or_none(small_files, tail, two_spans):
    """libjpeg ignores what follows the last MCU up to EOI (fill bytes, extraneous bytes, a
    DNL): one span gives its pixels; two spans join only where the first marker after the scan
    is EOI (extraneous bytes are read as entropy data, by libjpeg too)."""
    for blocks, size, how in ((_random_blocks(48, 11), (64, 48), "one_span"),
                              (_random_blocks(64 * 48, 11), (512, 384), two_spans)):
        data = _encode(blocks, *size, np.ones(64, np.int64), tail=tail)
        assert _libjpeg(data) is not None
        outcome = _contract(data, *size)
        assert outcome is not None and outcome.how == how


@pytest.mark.parametrize(("seed", "quality"), [(32, 50), (14, 30)], ids=["stopped early", "never met"])
def test_the_second_spans_own_dc_predictor_is_not_range_checked_before_its_correction(small_files, seed, quality):
    """Before it meets the true decode, the second span's DC predictor is a sum of garbage
    differences and may be far beyond COEF_LIMIT; only the corrected one matters (idct_stored
    checks it). Checking the uncorrected one stopped the second span on these files (before the
    join, or before it had noted a start the first span shares)."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(128, 60, (376, 501)).astype(np.float32), (0, 0), 2)
    image = np.clip(base + rng.normal(0, 14, base.shape) + np.linspace(-100, 100, 501), 0, 255).astype(np.uint8)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    outcome = _contract(data, 501, 376)
    assert outcome is not None and outcome.how == "joined"
