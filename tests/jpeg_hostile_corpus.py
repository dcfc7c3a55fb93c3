"""The hostile-file corpus of tests/test_jpeg_speculative_hostile.py: real encoders' files
(OpenCV, Pillow), files a small baseline encoder writes that those never do (extreme
coefficients, full or odd Huffman tables, runs past the 63rd coefficient), and their mutations
(bit flips, inserted and deleted bytes, truncation, injected markers, fill bytes, damaged
header fields, junk after EOI, splices and stuffed bytes at the split)."""

from __future__ import annotations

from io import BytesIO

import cv2
import numpy as np
from PIL import Image

from tests.jpeg_writer import BitWriter, canonical_codes, category, segment
from verify import jpeg_speculative, scan

ZIGZAG = np.array([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
                   20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                   58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])


def noisy_image(rng: np.random.Generator, height: int, width: int, colour: bool = False) -> np.ndarray:
    """Smooth noise with edges: Huffman codes of a photo's statistics (they resynchronise)."""
    base = cv2.GaussianBlur(rng.normal(128, 70, (height, width)), (0, 0), 1.5)
    base += np.where(np.arange(width) % 37 < 5, 60, 0)
    grey = base.clip(0, 255).astype(np.uint8)
    if not colour:
        return grey
    return np.dstack([grey, np.roll(grey, 9, axis=0), 255 - grey])


def flat_table(symbols: list[int], length: int = 0) -> tuple[list[int], list[int]]:
    """A valid table giving every symbol a code of one length (at least `length`), with a code
    point to spare."""
    length = max(1, len(symbols).bit_length(), length)
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return counts, list(symbols)


def ac_tokens(block: np.ndarray) -> list[tuple[int, int]]:
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
            dc, tokens = int(block[0]), ac_tokens(np.asarray(block))
        streams.append((dc if dc_diffs else dc - pred, tokens))
        pred = pred + dc if dc_diffs else dc
    dc_symbols = sorted({category(d)[0] for d, _ in streams})
    ac_symbols = sorted({(run << 4) | category(v)[0] for _, t in streams for run, v in t})
    dc_table = dc_table or flat_table(dc_symbols)
    ac_table = ac_table or flat_table(ac_symbols or [0])
    dc_codes, ac_codes = canonical_codes(*dc_table), canonical_codes(*ac_table)
    writer = BitWriter()
    for diff, tokens in streams:
        size, bits = category(diff)
        writer.put(*dc_codes[size])
        writer.put(bits, size)
        for run, value in tokens:
            size, bits = category(value)
            writer.put(*ac_codes[(run << 4) | size])
            writer.put(bits, size)
    precision = int(quant.max() > 255)
    dqt = bytes([precision << 4]) + b"".join(int(q).to_bytes(1 + precision, "big") for q in quant)
    dht = b"".join(bytes([kind]) + bytes(counts) + bytes(symbols) for kind, (counts, symbols)
                   in ((0x00, dc_table), (0x10, ac_table)))
    frame = bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([1, 1, sampling, 0])
    scan_header = bytes([1, 1, 0x00, 0, 63, 0])
    return (b"\xff\xd8" + segment(0xDB, dqt) + segment(sof, frame) + segment(0xC4, dht) + extra
            + segment(0xDA, scan_header) + writer.flush() + b"\xff\xd9")


def quantised_blocks(image: np.ndarray, quant: np.ndarray) -> list[np.ndarray]:
    """Quantised zigzag blocks of a greyscale image (its sides multiples of 8)."""
    out = []
    for y in range(0, image.shape[0], 8):
        for x in range(0, image.shape[1], 8):
            natural = cv2.dct(image[y:y + 8, x:x + 8].astype(np.float32) - 128).ravel()
            out.append(np.round(natural[ZIGZAG] / quant).astype(np.int64))
    return out


# -- the contract ----------------------------------------------------------------------------------


def grey_file(seed: int = 1, height: int = 64, width: int = 96, quality: int = 90) -> bytes:
    image = noisy_image(np.random.default_rng(seed), height, width)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


# -- defects found, one test each -----------------------------------------------------------------


def opencv_jpeg(image: np.ndarray, *params: int) -> bytes:
    return cv2.imencode(".jpg", image, list(params))[1].tobytes()


def pillow_jpeg(image: np.ndarray, **options) -> bytes:
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def header_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of the header segments up to SOS."""
    out, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        end = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        out.append((data[at + 1], at, end))
        if data[at + 1] == 0xDA:
            break
        at = end
    return out


def scan_start(data: bytes) -> int:
    return header_segments(data)[-1][2]


def with_16bit_dqt(data: bytes) -> bytes:
    """The same file with every 8-bit quantisation table written with 16-bit precision."""
    out, at = bytearray(), 0
    for marker, start, end in header_segments(data):
        if marker != 0xDB:
            continue
        body, tables, i = data[start + 4:end], bytearray(), 0
        while i < len(body):
            precision, size = body[i] >> 4, 128 if body[i] >> 4 else 64
            values = body[i + 1:i + 1 + size]
            tables += bytes([0x10 | (body[i] & 15)]) + (values if precision else b"".join(bytes([0, v]) for v in values))
            i += 1 + size
        out += data[at:start] + segment(0xDB, bytes(tables))
        at = end
    return bytes(out + data[at:])


def with_segment(data: bytes, segment: bytes, before: int = 0xDA) -> bytes:
    at = next(start for marker, start, _ in header_segments(data) if marker == before)
    return data[:at] + segment + data[at:]


def extreme_blocks(rng: np.random.Generator, count: int, peak: int) -> list[np.ndarray]:
    """Quantised blocks with values up to `peak` at random places: dequantised (quant 1) they
    reach the coefficient limit and the inverse transform's intermediate one from both sides."""
    out = []
    for _ in range(count):
        block = np.zeros(64, np.int64)
        block[0] = rng.integers(-min(peak, 1000), min(peak, 1000) + 1)
        places = rng.choice(np.arange(1, 64), rng.integers(1, 12), replace=False)
        block[places] = rng.choice([-1, 1], len(places)) * rng.choice([peak, peak - 1, peak // 2, 1, 3, 700],
                                                                       len(places))
        out.append(block)
    return out


def bases() -> list[tuple[str, bytes]]:
    """Valid files of every kind the decoder takes (and a few it refuses), small enough that
    a thousand mutations decode in seconds."""
    rng = np.random.default_rng(2026)
    out = []
    for height, width, quality in ((64, 96, 10), (75, 133, 35), (120, 161, 60), (97, 203, 85), (80, 88, 100),
                                   (161, 83, 95)):
        out.append((f"cv2 grey {width}x{height} q{quality}",
                    opencv_jpeg(noisy_image(rng, height, width), cv2.IMWRITE_JPEG_QUALITY, quality)))
    out.append(("cv2 grey optimized", opencv_jpeg(noisy_image(rng, 90, 150), cv2.IMWRITE_JPEG_QUALITY, 75,
                                          cv2.IMWRITE_JPEG_OPTIMIZE, 1)))
    for name, factor in (("420", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420), ("422", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422),
                         ("444", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444), ("440", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440),
                         ("411", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)):
        out.append((f"cv2 colour {name}", opencv_jpeg(noisy_image(rng, 83, 141, colour=True), cv2.IMWRITE_JPEG_QUALITY, 80,
                                               cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor)))
    out.append(("cv2 colour optimized", opencv_jpeg(noisy_image(rng, 96, 128, colour=True), cv2.IMWRITE_JPEG_OPTIMIZE, 1)))
    out.append(("cv2 restart interval", opencv_jpeg(noisy_image(rng, 64, 96), cv2.IMWRITE_JPEG_RST_INTERVAL, 4)))
    for subsampling in (0, 1, 2):
        out.append((f"pil colour subsampling {subsampling}",
                    pillow_jpeg(noisy_image(rng, 77, 119, colour=True), quality=int(rng.integers(10, 101)), subsampling=subsampling)))
    out.append(("pil grey optimize", pillow_jpeg(noisy_image(rng, 99, 101), quality=90, optimize=True)))
    out.append(("pil progressive", pillow_jpeg(noisy_image(rng, 64, 64), progressive=True)))
    out.append(("pil 16-bit tables", pillow_jpeg(noisy_image(rng, 72, 104), qtables=[[1 + i * 9 for i in range(64)]])))
    out.append(("dqt rewritten 16-bit", with_16bit_dqt(opencv_jpeg(noisy_image(rng, 70, 90, colour=True), cv2.IMWRITE_JPEG_QUALITY, 70))))
    out.append(("sof1", opencv_jpeg(noisy_image(rng, 66, 99), cv2.IMWRITE_JPEG_QUALITY, 90).replace(b"\xff\xc0", b"\xff\xc1", 1)))
    out.append(("dri 0", with_segment(opencv_jpeg(noisy_image(rng, 80, 96), cv2.IMWRITE_JPEG_QUALITY, 92),
                                       segment(0xDD, b"\x00\x00"))))
    for peak, quant in ((4095, 1), (2047, 2), (32767, 1)):
        out.append((f"extreme coefficients {peak}x{quant}",
                    encode(extreme_blocks(rng, 96, peak), 96, 64, quant=np.full(64, quant))))
    # DC drift: differences of +-2047 and +32767 far past 16 bits; a DC quantiser of 0 keeps
    # every block in range (any other passes a block outside it before the DC wraps)
    for step in (2047, 32767):
        out.append((f"dc drift {step}", encode([[("dc", step), (0, 1), (0, 0)]] * 60 + [[("dc", -step), (0, 0)]] * 36,
                                               96, 64, dc_diffs=True, quant=np.array([0] + [3] * 63))))
    # runs past the 63rd coefficient: libjpeg writes those to the last one (its natural order's
    # 16 extra entries)
    past = [[("dc", 5), (15, 0), (15, 0), (15, 0), (15, 3)], [("dc", 1), (15, 0), (15, 0), (15, 0), (15, 0)],
            [("dc", -4), (15, 0), (15, 0), (15, 0), (12, 7), (0, 9), (0, 0)], [("dc", 0)] + [(0, 1)] * 63]
    out.append(("runs past 63", encode(past * 24, 96, 64, dc_diffs=True)))
    out.append(("16-bit quant 40000", encode(quantised_blocks(noisy_image(rng, 64, 96), np.full(64, 8)), 96, 64,
                                               quant=np.array([8] * 63 + [40000]))))
    # codes longer than the kernels' 12-bit lookup: every symbol through the slow path
    blocks = quantised_blocks(noisy_image(rng, 64, 96), np.full(64, 6))
    out.append(("codes of 13 and 16 bits", encode(blocks, 96, 64, quant=np.full(64, 6), dc_table=flat_table(list(range(12)), 13),
                                                 ac_table=flat_table(sorted({(r << 4) | category(v)[0] for b in blocks
                                                                        for r, v in ac_tokens(b)}), 16))))
    out.append(("grey sampling 2x2", opencv_jpeg(noisy_image(rng, 64, 96), cv2.IMWRITE_JPEG_QUALITY, 90)))
    sof = out[-1][1].find(b"\xff\xc0")
    out[-1] = (out[-1][0], out[-1][1][:sof + 11] + b"\x22" + out[-1][1][sof + 12:])
    return out


MARKERS = [b"\xff\xd0", b"\xff\xd7", b"\xff\xd9", b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", b"\xff\xd8",
            b"\xff\xff", b"\xff\x01", b"\xff\xc4\x00\x02", b"\xff"]


def split_point(data: bytes) -> int:
    """Where plan would split the file (the middle of the entropy data when it is refused)."""
    scan_at = scan_start(data)
    job = None
    try:
        header = scan.probe(data)
        job = jpeg_speculative._plan(data, header.width, header.height, 0)
    except (ValueError, IndexError):
        pass
    return job.split_at if job is not None else (scan_at + len(data)) // 2


def mutants(rng: np.random.Generator, data: bytes, count: int) -> list[tuple[str, bytes]]:
    """`count` random mutations of one valid file, each named for a failure message."""
    scan_at, split = scan_start(data), split_point(data)
    body = len(data) - 2 - scan_at  # entropy bytes (before EOI)
    header_fields = [(m, a, e) for m, a, e in header_segments(data) if m in (0xC0, 0xC1, 0xC4, 0xDB, 0xDA, 0xDD)]
    out = []

    def entropy_at() -> int:
        return scan_at + int(rng.integers(0, max(body, 1)))

    def near_split() -> int:
        return int(np.clip(split + rng.integers(-12, 13), scan_at, len(data) - 2))

    for _ in range(count):
        kind = int(rng.integers(0, 14))
        b = bytearray(data)
        if kind == 0:
            places = [entropy_at() for _ in range(int(rng.integers(1, 5)))]
            for at in places:
                b[at] ^= 1 << int(rng.integers(0, 8))
            name = f"bit flips at {places}"
        elif kind == 1:
            at = int(rng.integers(2, len(b)))
            b[at] ^= 1 << int(rng.integers(0, 8))
            name = f"bit flip at {at}"
        elif kind == 2:
            at, extra = entropy_at(), rng.integers(0, 256, int(rng.integers(1, 4)), dtype=np.uint8).tobytes()
            b[at:at] = extra
            name = f"insert {extra.hex()} at {at}"
        elif kind == 3:
            at, n = entropy_at(), int(rng.integers(1, 4))
            del b[at:at + n]
            name = f"delete {n} at {at}"
        elif kind == 4:
            at = int(rng.integers(2, len(b)))
            del b[at:]
            name = f"truncated at {at}"
        elif kind == 5:
            at, marker = entropy_at(), MARKERS[int(rng.integers(0, len(MARKERS)))]
            b[at:at] = marker
            name = f"marker {marker.hex()} at {at}"
        elif kind == 6:
            fill = b"\xff" * int(rng.integers(1, 4))
            at = len(b) - 2 if rng.integers(0, 2) else entropy_at()
            b[at:at] = fill
            name = f"fill {len(fill)} at {at}"
        elif kind == 7 and header_fields:
            marker, start, end = header_fields[int(rng.integers(0, len(header_fields)))]
            at = int(rng.integers(start + 2, end))
            value = int(rng.choice([0, 0xFF, 1, b[at] + 1 & 255, b[at] - 1 & 255, int(rng.integers(0, 256))]))
            b[at] = value
            name = f"segment {marker:#x} byte {at} = {value}"
        elif kind == 8:
            junk = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
            b += junk if rng.integers(0, 2) else junk + b"\xff\xd9"
            name = f"{len(junk)} bytes after EOI"
        elif kind == 9:
            places = [near_split() for _ in range(int(rng.integers(1, 3)))]
            for at in places:
                b[at] ^= 1 << int(rng.integers(0, 8))
            name = f"bit flips near the split {split}: {places}"
        elif kind == 10:
            at = near_split()
            insert = [b"\xff\x00", b"\xff\xd9", b"\xff\xd0", b"\x00", b"\xff\xff\x00"][int(rng.integers(0, 5))]
            b[at:at] = insert
            name = f"{insert.hex()} near the split {split} at {at}"
        elif kind == 11:
            at = near_split()
            del b[at:]
            if rng.integers(0, 2):
                b += b"\xff\xd9"
            name = f"ends near the split {split} at {at}"
        elif kind == 12:
            garbage = rng.integers(0, 255, len(data) - split + int(rng.integers(-40, 40)), dtype=np.uint8)
            garbage[garbage == 0xFF] = 0xFE
            b[split:] = garbage.tobytes() + b"\xff\xd9"
            name = f"garbage from the split {split}"
        else:
            del b[-2:]
            name = "no EOI"
        out.append((name, bytes(b)))
    return out


def corpus(per_base: int = 40, seed: int = 15) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    out = []
    for name, data in bases():
        out.append((name, data))
        out.extend((f"{name}: {mutation}", mutated) for mutation, mutated in mutants(rng, data, per_base))
    return out


def spliced(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Two files of one encoder and tables, the first's entropy data up to its split followed by
    the second's from a byte near its own: the second span decodes another image's chain."""
    out = []
    for quality in (50, 90, 100):
        first, second = (opencv_jpeg(noisy_image(rng, 96, 160), cv2.IMWRITE_JPEG_QUALITY, quality) for _ in range(2))
        for shift in range(-6, 7, 3):
            out.append((f"spliced q{quality} {shift}", first[:split_point(first)] + second[split_point(second) + shift:]))
    return out


def ending_at_the_split(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Files whose entropy data ends exactly at (or next to) the split, junk before EOI after."""
    out = []
    data = opencv_jpeg(noisy_image(rng, 64, 96), cv2.IMWRITE_JPEG_QUALITY, 85)
    body = data[scan_start(data):-2]
    # the split is scan_at + int(total * FIRST_SHARE): junk makes the total what puts it there
    total = int(len(body) / jpeg_speculative.FIRST_SHARE)
    for extra in range(total - len(body) - 4, total - len(body) + 5):
        junk = bytes(rng.integers(1, 255, extra, dtype=np.uint8))
        out.append((f"ends at the split, {extra} junk bytes", data[:-2] + junk + b"\xff\xd9"))
        out.append((f"ends at the split, no EOI, {extra} junk bytes", data[:-2] + junk))
    return out


def stuffed_at_the_split(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Files whose nominal split falls on the 0xFF or the 0x00 of a stuffed pair."""
    out: dict[str, bytes] = {}
    for attempt in range(400):
        data = opencv_jpeg(noisy_image(rng, 64, 96), cv2.IMWRITE_JPEG_QUALITY, 100)
        scan_at = scan_start(data)
        nominal = scan_at + max(1, int((len(data) - 2 - scan_at) * jpeg_speculative.FIRST_SHARE))
        if data[nominal - 1] == 0xFF:
            out.setdefault("split on the 0x00 of a stuffed 0xFF", data)
        if data[nominal] == 0xFF:
            out.setdefault("split on a stuffed 0xFF", data)
        if len(out) == 2:
            break
    return list(out.items())



def full_corpus() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(42)
    return corpus() + spliced(rng) + ending_at_the_split(rng) + stuffed_at_the_split(rng)
