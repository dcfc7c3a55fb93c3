"""A JPEG with restart markers, decoded greyscale in horizontal stripes on several threads.

A baseline JPEG's entropy-coded data has no index: libjpeg must Huffman-decode every block to
find where the next begins, on one core, whatever the output size (docs/benchmarks.md). A
file that carries restart markers (a DRI segment, then RST0..RST7 between intervals of MCUs)
is the exception: at each marker the decoder's state is reset, so the data between two
markers decodes on its own. Where a marker also falls on an MCU-row boundary, the file splits
there into stripes that are each a valid JPEG: the same tables, the frame's height set to the
stripe's rows, that stripe's entropy data with its markers renumbered from RST0. Each stripe is
decoded by OpenCV (libjpeg-turbo; `cv2.imdecode` releases the GIL) on its own thread and the
rows are stacked: pixel for pixel what decoding the whole file gives.

The boundary is fenced: `plan` accepts only what it can prove splits exactly, and returns None
for everything else (progressive or arithmetic coding, no DRI, a restart interval that never
meets a row boundary, any marker missing, extra or out of sequence, fill bytes, a second scan,
sampling factors other than 1 and 2, a luma plane that is not the largest, an RGB or Adobe
file, dimensions other than those `verify.scan.probe` checked). The caller then decodes the
whole file as before. Grey output only: colour upsampling (libjpeg's "fancy" filter) reads
across the stripe boundary and would not be exact. EXIF is not carried into the stripes, so the
result is the stored pixels (`cv2.IMREAD_IGNORE_ORIENTATION`), which verify.scan reads anyway.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

#: How many stripes (and threads, the caller's included). More than the cores buys nothing.
STRIPES = 2
#: Below this many bytes of entropy data a split costs more than it saves (a thread hand-off
#: and the marker scan against a few milliseconds of decoding).
MIN_SPLIT_BYTES = 256 * 1024
#: Entropy-coded data has a 0xFF in about 1 byte of 256 (each one stuffed or a marker); a file
#: with more than 1 in 16 is refused before its positions are indexed (8 bytes each).
MAX_FF_SHARE = 16
#: Header segments before the scan: a real file has a dozen; a hostile one may not loop on.
MAX_SEGMENTS = 64
#: The greyscale flags this module reproduces, with their DCT scaling factor.
FLAGS = {cv2.IMREAD_GRAYSCALE: 1, cv2.IMREAD_REDUCED_GRAYSCALE_2: 2, cv2.IMREAD_REDUCED_GRAYSCALE_4: 4,
         cv2.IMREAD_REDUCED_GRAYSCALE_8: 8}

_KEPT = {0xC4, 0xDB}  # DHT, DQT: tables the stripes need
_SKIPPED = set(range(0xE0, 0xF0)) | {0xFE}  # APPn, COM: not needed for pixels (EXIF left out on purpose)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Plan:
    """How one file splits: `stripes` are complete JPEG files, `rows` their heights in the
    output of a decode at scaling `factor`."""
    stripes: tuple[np.ndarray, ...]  # uint8 arrays (no copy when handed to OpenCV)
    rows: tuple[int, ...]
    width: int
    factor: int


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    height_at: int  # offset of the SOF's 2-byte height in the header bytes
    mcus_per_row: int
    mcu_rows: int
    mcu_height: int


def _segments(data: bytes):
    """(marker, start, end) of each header segment after SOI up to and including SOS; raises
    ValueError on anything malformed."""
    at = 2
    for _ in range(MAX_SEGMENTS):
        if at + 4 > len(data) or data[at] != 0xFF:
            raise ValueError("no marker where a segment should start")
        marker, length = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
        if length < 2 or at + 2 + length > len(data):
            raise ValueError("segment length out of range")
        yield marker, at, at + 2 + length
        if marker == 0xDA:
            return
        at += 2 + length
    raise ValueError("too many segments")


def _frame(sof: bytes, sos: bytes, header_length: int) -> _Frame:
    """Geometry of a baseline frame whose one scan holds every component; ValueError otherwise."""
    if len(sof) < 10 or sof[4] != 8:
        raise ValueError("not an 8-bit frame")
    height, width, count = int.from_bytes(sof[5:7], "big"), int.from_bytes(sof[7:9], "big"), sof[9]
    if count not in (1, 3) or len(sof) != 10 + 3 * count or not height or not width:
        raise ValueError("frame components")
    ids = [sof[10 + 3 * i] for i in range(count)]
    sampling = [(sof[11 + 3 * i] >> 4, sof[11 + 3 * i] & 15) for i in range(count)]
    if any(h not in (1, 2) or v not in (1, 2) for h, v in sampling):
        raise ValueError("sampling factors")
    hmax, vmax = max(h for h, _ in sampling), max(v for _, v in sampling)
    if count == 3 and (ids != [1, 2, 3] or sampling[0] != (hmax, vmax)):
        raise ValueError("not a YCbCr frame with full-resolution luma")
    if len(sos) < 6 or sos[4] != count or len(sos) != 8 + 2 * count:
        raise ValueError("the scan does not hold every component")
    if sorted(sos[5 + 2 * i] for i in range(count)) != sorted(ids) or sos[-3:] != b"\x00\x3f\x00":
        raise ValueError("not a sequential scan of the frame's components")
    block_w, block_h = (8, 8) if count == 1 else (8 * hmax, 8 * vmax)
    return _Frame(width, height, header_length, -(-width // block_w), -(-height // block_h), block_h)


def plan(data: bytes, flag: int, width: int, height: int, stripes: int = STRIPES) -> Plan | None:
    """The stripes of a JPEG `verify.scan.probe` accepted as `width` x `height`, for a decode
    with `flag` (one of FLAGS); None when the file does not provably split (then decode it
    whole). Never raises for hostile bytes."""
    try:
        return _plan(data, flag, width, height, stripes)
    except (ValueError, IndexError):
        return None


def refusal(data: bytes, flag: int, width: int, height: int, stripes: int = STRIPES) -> str | None:
    """Why `plan` gives None for this file (None when it splits): for tests and diagnosis."""
    try:
        _plan(data, flag, width, height, stripes)
    except ValueError as exc:
        return str(exc)
    except IndexError:
        return "malformed"
    return None


def _plan(data: bytes, flag: int, width: int, height: int, stripes: int) -> Plan:
    if flag not in FLAGS or stripes < 2:
        raise ValueError("not a greyscale decode in stripes")
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    header = bytearray(b"\xff\xd8")
    sof = sos = None
    interval = 0
    scan_at = 0
    for marker, start, end in _segments(data):
        if marker == 0xEE and data[start + 4:start + 9] == b"Adobe":
            raise ValueError("an Adobe colour transform")
        if marker in _SKIPPED:  # not copied: an EXIF segment may be 64 KiB
            continue
        segment = data[start:end]
        if marker == 0xC0:
            if sof is not None:
                raise ValueError("two frames")
            sof, sof_at = segment, len(header)
        elif marker == 0xDD:
            if end - start != 6:
                raise ValueError("DRI length")
            interval = int.from_bytes(segment[4:6], "big")
        elif marker == 0xDA:
            sos, scan_at = segment, end
        elif marker not in _KEPT:
            raise ValueError(f"marker {marker:#x}: not a baseline Huffman file")
        header += segment
    if sof is None or sos is None:
        raise ValueError("no baseline frame")
    if interval == 0:
        raise ValueError("no restart interval")
    frame = _frame(sof, sos, sof_at + 5)
    if (frame.width, frame.height) != (width, height):
        raise ValueError("the frame is not the size the header check saw")
    total = frame.mcus_per_row * frame.mcu_rows
    intervals = -(-total // interval)
    ends, eoi = _restart_markers(data, scan_at, intervals)
    if eoi - scan_at < MIN_SPLIT_BYTES:
        raise ValueError("too small to gain from a split")
    # interval k (0-based) ends at MCU (k + 1) * interval; a cut there falls between MCU rows
    # when that is a whole number of rows. Choose the cuts nearest to equal byte shares.
    step = math.lcm(interval, frame.mcus_per_row) // interval  # intervals per aligned cut
    candidates = np.arange(step, intervals, step)  # number of intervals before the cut
    if len(candidates) < stripes - 1:
        raise ValueError("the restart interval does not meet a row boundary often enough")
    offsets = ends[candidates - 1]  # the RST marker ending the last interval before the cut
    cuts: list[int] = []
    for i in range(1, stripes):
        target = scan_at + (eoi - scan_at) * i // stripes
        best = int(candidates[np.argmin(np.abs(offsets - target))])
        if cuts and best <= cuts[-1]:
            raise ValueError("too few row boundaries for the stripes")
        cuts.append(best)
    bounds = [0, *cuts, intervals]
    factor = FLAGS[flag]
    out: list[bytes] = []
    rows: list[int] = []
    for first, last in zip(bounds, bounds[1:]):
        row0 = first * interval // frame.mcus_per_row
        row1 = last * interval // frame.mcus_per_row if last < intervals else frame.mcu_rows
        pixels0 = row0 * frame.mcu_height
        pixels1 = min(row1 * frame.mcu_height, frame.height)
        begin = scan_at if first == 0 else int(ends[first - 1]) + 2
        stop = int(ends[last - 1]) if last < intervals else eoi
        out.append(_stripe(header, frame, pixels1 - pixels0, data, begin, stop, ends[first:last - 1] - begin))
        rows.append(-(-pixels1 // factor) - -(-pixels0 // factor))
    return Plan(tuple(out), tuple(rows), -(-frame.width // factor), factor)


def _restart_markers(data: bytes, scan_at: int, intervals: int) -> tuple[np.ndarray, int]:
    """Offsets of the RST markers in the entropy data, checked to be exactly `intervals` - 1 of
    them numbered 0, 1, ..., 7, 0, ... and followed by EOI with no other marker or fill byte;
    and the offset of that EOI. ValueError otherwise."""
    body = np.frombuffer(data, np.uint8, offset=scan_at)
    is_ff = body[:-1] == 0xFF
    if np.count_nonzero(is_ff) > len(body) // MAX_FF_SHARE:  # bounds the index arrays below
        raise ValueError("too many 0xFF bytes for entropy-coded data")
    ff = np.flatnonzero(is_ff)
    following = body[ff + 1]
    marks = following != 0
    ff, following = ff[marks], following[marks]
    stops = np.flatnonzero((following < 0xD0) | (following > 0xD7))
    if not len(stops) or following[stops[0]] != 0xD9:
        raise ValueError("the scan does not end in EOI after its restart markers")
    count = int(stops[0])
    if count != intervals - 1:
        raise ValueError(f"{count} restart markers where the frame needs {intervals - 1}")
    if not np.array_equal(following[:count] - 0xD0, np.arange(count, dtype=np.int64) % 8):
        raise ValueError("restart markers out of sequence")
    return ff[:count] + scan_at, int(ff[count]) + scan_at


def _stripe(header: bytearray, frame: _Frame, height: int, data: bytes, begin: int, stop: int,
            markers: np.ndarray) -> np.ndarray:
    """One stripe as a file, in one copy: the header with the frame's height, the entropy data
    from `begin` to `stop` with its RST markers (at `markers`, relative to `begin`) renumbered
    from 0, EOI."""
    size = stop - begin
    out = np.empty(len(header) + size + 2, np.uint8)
    out[:len(header)] = np.frombuffer(header, np.uint8)
    out[frame.height_at:frame.height_at + 2] = (height >> 8, height & 0xFF)
    body = out[len(header):len(header) + size]
    body[:] = np.frombuffer(data, np.uint8, size, begin)
    if len(markers):
        body[markers + 1] = 0xD0 + np.arange(len(markers)) % 8
    out[-2:] = (0xFF, 0xD9)
    return out


def decode(split: Plan, flag: int) -> np.ndarray | None:
    """The stripes decoded with `flag` on up to len(stripes) threads and stacked; None when a
    stripe does not decode to the rows its plan expects (the caller decodes the whole file)."""
    read = flag | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        later = [worker_pool().submit(_one, stripe, read) for stripe in split.stripes[1:]]
        parts = [_one(split.stripes[0], read)]
        for future in later:  # a stripe no worker has started yet is decoded here (a busy pool)
            parts.append(_one(split.stripes[len(parts)], read) if future.cancel() else future.result())
    except Exception:  # MemoryError, a pool shut down at exit: the caller decodes the whole file
        return None
    if any(part is None or part.ndim != 2 or part.shape != (rows, split.width)
           for part, rows in zip(parts, split.rows)):
        return None
    return np.vstack(parts)


def worker_pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use (threads cost nothing until a striped file comes)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=STRIPES - 1, thread_name_prefix="jpeg-stripe")
        return _POOL


def _forget_pool() -> None:
    """In a forked child the parent's worker threads do not exist: start a pool of its own."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _one(stripe: np.ndarray, flag: int) -> np.ndarray | None:
    try:
        return cv2.imdecode(stripe, flag)
    except cv2.error:
        return None
