"""A baseline JPEG without restart markers, decoded greyscale at 1/2 scale on two threads.

libjpeg must Huffman-decode a baseline JPEG's blocks one after the other on one core: without
restart markers nothing says where a block begins (verify.jpeg_stripes splits the files that
have them). This module decodes such a file in two spans at once, by speculation that is
checked before anything is used (Klein and Wiseman, "Parallel Huffman decoding with
applications to JPEG files", The Computer Journal 46(5), 2003):

* the first span decodes from the start of the entropy data, exactly as libjpeg does, and
  writes its pixels;
* the second starts at a byte near the middle, guessing that an MCU starts there with DC
  predictors 0, and keeps the coefficients of what it decodes. A wrong guess decodes garbage
  for a while, but Huffman codes resynchronise: once the second span starts an MCU at a bit
  where the true decode also starts one, both decode the same bits from there on;
* the first span goes on past the middle until it has noted OVERLAP_MCUS MCU starts there;
  the first start the two spans share is where they join. Only the DC predictor differs after
  it, by a constant the first span knows (DC values are coded as differences), so the second
  span's stored blocks are corrected by it and transformed to pixels, on both threads.

Nothing speculative is ever used unchecked: no shared start (the spans never met), an invalid
code, a value outside what an 8-bit encoder writes, a span that runs past the data or a scan not
ended by EOI, and `decode` returns None so that the caller decodes the file with libjpeg as
before. The pixels are libjpeg's own (verify.jpeg_kernels reproduces `jpeg_idct_4x4` where its
C and SIMD forms agree), and the tests compare them with `cv2.imdecode(..., FLAG |
IMREAD_IGNORE_ORIENTATION)` pixel for pixel: EXIF orientation is not applied, as verify.scan
decodes. Everything libjpeg refuses in the header (a table it rejects, a side over 65,500, more
than 10 blocks in an MCU, components out of order) is refused by `plan` too.

The kernels are numba code: `warm` imports numba and compiles or loads them (about 0.5 s from
its disk cache, seconds the first time) and checks them against libjpeg on two built-in
images. A long-running process warms at start (the web service's check children, the
benchmark); a one-shot command is never made to import numba and decodes on one thread.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from types import ModuleType

import cv2
import numpy as np

from . import jpeg_stripes

#: The one decode this module reproduces: greyscale, DCT-scaled to 1/2 (verify.scan's first
#: pass on a 12-megapixel photo).
FLAG = cv2.IMREAD_REDUCED_GRAYSCALE_2
#: MCU starts the first span notes past the middle before it stops: the second span must have
#: resynchronised within these. On photos it does within a few MCUs (docs/benchmarks.md).
OVERLAP_MCUS = 2048
#: Below this many bytes of entropy data two threads gain less than the hand-off costs.
MIN_SPLIT_BYTES = 256 * 1024
#: Share of the entropy data the first span decodes: it also runs the inverse DCT of its
#: blocks, which the second span leaves to both threads at the end.
FIRST_SHARE = 0.43

_NOT_FF = re.compile(rb"[^\xff]")
#: Decode on two threads only when a core is free for the second span: our kernels spend about a
#: third more CPU than libjpeg on one thread (docs/benchmarks.md), so on a host whose cores are
#: all busy the speculation would slow every scan. Off in the tests, for determinism.
REQUIRE_FREE_CORE = True

_SOF = {0xC0, 0xC1}  # baseline and extended sequential, Huffman-coded
_SKIPPED = set(range(0xE0, 0xF0)) | {0xFE}
_KERNELS: ModuleType | None = None
_SPANS = threading.BoundedSemaphore(1)  # one two-span decode at a time in a process
_LIMIT = np.zeros(1024, np.uint8)  # libjpeg's range limit table, set by warm()
_WARM_LOCK = threading.Lock()
#: JPEG_MAX_DIMENSION: libjpeg refuses a frame with a longer side.
MAX_SIDE = 65500


def _forget_locks() -> None:
    """In a forked child no thread holds a lock: one held by a parent's thread at the fork
    would never be released (every decode "busy", `warm` blocked for ever)."""
    global _SPANS, _WARM_LOCK
    _SPANS, _WARM_LOCK = threading.BoundedSemaphore(1), threading.Lock()


os.register_at_fork(after_in_child=_forget_locks)


@dataclass(frozen=True)
class Job:
    """What the kernels need for one file, all of it checked by `plan`."""
    data: np.ndarray  # the file's bytes, uint8
    scan_at: int  # first byte of entropy-coded data
    split_at: int  # first byte of the second span
    layout: np.ndarray  # (blocks, 5) int64: DC table, AC table, is luma, x, y within the MCU
    mcus_per_row: int
    mcus: int
    hmax: int
    vmax: int
    width: int
    height: int
    tables: tuple[np.ndarray, ...]  # look, fast_ac, maxcode, valptr, mincode, hvals (8 tables)
    quant: np.ndarray  # luma quantisation table, natural order, int64


def ready() -> bool:
    """True once `warm` has loaded and checked the kernels in this process (or in the process it
    was forked from)."""
    return _KERNELS is not None


def warm() -> bool:
    """Import numba, compile or load the kernels, and check them against libjpeg on a greyscale
    and a 4:2:0 colour image; True when the decoder is then in use. False (and the decoder left
    off) when numba is missing or anything differs."""
    global _KERNELS
    with _WARM_LOCK:
        if _KERNELS is not None:
            return True
        try:
            from . import jpeg_kernels
        except ImportError:
            return False
        _LIMIT[:] = jpeg_kernels.range_limit()
        try:
            for image in _self_test_images():
                data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
                expected = cv2.imdecode(np.frombuffer(data, np.uint8), FLAG)
                job = _plan(data, image.shape[1], image.shape[0], min_bytes=0)
                got = _decode(jpeg_kernels, job)
                if got.how != "joined" or got.pixels is None or not np.array_equal(got.pixels, expected):
                    return False
        except Exception:  # a numba or LLVM failure on this machine: decode with libjpeg as before
            return False
        _KERNELS = jpeg_kernels
        return True


def _self_test_images() -> list[np.ndarray]:
    # large enough that the first span stops past the middle and the spans must join
    rng = np.random.default_rng(15)
    grey = (rng.normal(128, 50, (1200, 1096)) + np.arange(1096) * 0.1).clip(0, 255).astype(np.uint8)
    colour = np.dstack([grey, grey[::-1], np.roll(grey, 40, axis=1)])  # 4:2:0 at quality 90
    return [grey, colour]


def plan(data: bytes, flag: int, width: int, height: int) -> Job | None:
    """The two spans of a JPEG `verify.scan.probe` accepted as `width` x `height`, for a decode
    with `flag`; None when the decoder is not warm or the file is not one it reproduces exactly
    (then decode it with libjpeg). Never raises for hostile bytes."""
    if _KERNELS is None or flag != FLAG:
        return None
    try:
        return _plan(data, width, height, MIN_SPLIT_BYTES)
    except (ValueError, IndexError):
        return None


def refusal(data: bytes, width: int, height: int, min_bytes: int = MIN_SPLIT_BYTES) -> str | None:
    """Why `plan` gives None for this file (None when it is decoded here): tests and diagnosis."""
    try:
        _plan(data, width, height, min_bytes)
    except ValueError as exc:
        return str(exc)
    except IndexError:
        return "malformed"
    return None


def _plan(data: bytes, width: int, height: int, min_bytes: int) -> Job:
    kernels = _kernels_module()
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    sof = sos = None
    scan_at = 0
    huffman: dict[tuple[int, int], tuple[bytes, bytes]] = {}
    quant: dict[int, np.ndarray] = {}
    for marker, start, end in jpeg_stripes._segments(data):
        segment = data[start + 4:end]
        if marker == 0xEE and segment[:5] == b"Adobe":
            raise ValueError("an Adobe colour transform")
        if marker in _SKIPPED:
            continue
        if marker in _SOF:
            if sof is not None:
                raise ValueError("two frames")
            sof = data[start:end]
        elif marker == 0xC4:
            _huffman_tables(segment, huffman)
        elif marker == 0xDB:
            _quant_tables(segment, quant, kernels.ZIGZAG)
        elif marker == 0xDD:
            if end - start != 6 or data[start + 4:end] != b"\x00\x00":
                raise ValueError("a restart interval (verify.jpeg_stripes decodes those)")
        elif marker == 0xDA:
            sos, scan_at = data[start:end], end
        else:
            raise ValueError(f"marker {marker:#x}: not a baseline Huffman file")
    if sof is None or sos is None:
        raise ValueError("no baseline frame")
    sof = b"\xff\xc0" + sof[2:]  # jpeg_stripes._frame reads SOF0 and SOF1 alike
    frame = jpeg_stripes._frame(sof, sos, 0)
    if (frame.width, frame.height) != (width, height):
        raise ValueError("the frame is not the size the header check saw")
    count = sof[9]
    sampling = {sof[10 + 3 * i]: (sof[11 + 3 * i] >> 4, sof[11 + 3 * i] & 15, sof[12 + 3 * i]) for i in range(count)}
    luma_id = sof[10]
    hmax = 1 if count == 1 else max(h for h, _, _ in sampling.values())
    vmax = 1 if count == 1 else max(v for _, v, _ in sampling.values())
    blocks = []
    for i in range(sos[4]):  # the MCU's blocks in the scan's component order
        component, selectors = sos[5 + 2 * i], sos[6 + 2 * i]
        h, v, _ = sampling[component] if count == 3 else (1, 1, 0)
        dc, ac = selectors >> 4, selectors & 15
        if (0, dc) not in huffman or (1, ac) not in huffman:
            raise ValueError("the scan uses a Huffman table the file does not define")
        for j in range(h * v):
            blocks.append((dc, 4 + ac, int(component == luma_id), j % h, j // h))
    if len(blocks) > 10:  # D_MAX_BLOCKS_IN_MCU
        raise ValueError("more than 10 blocks in an MCU")
    if max(width, height) > MAX_SIDE:
        raise ValueError("wider or higher than libjpeg decodes (65,500)")
    if [sos[5 + 2 * i] for i in range(sos[4])] != [sof[10 + 3 * i] for i in range(count)]:
        raise ValueError("the scan lists the components in another order than the frame")
    if any(table not in quant for _, _, table in sampling.values()):  # libjpeg latches every one
        raise ValueError("a quantisation table of the frame is not defined")
    luma_quant = sampling[luma_id][2]
    tables = _build_tables(kernels, huffman)
    # where the scan ends, for the split only (the join checks the real end): the last EOI in
    # the file's tail, not a search through megabytes of entropy data; past a long trailer (a
    # motion photo's video) the first EOI after the scan (0xFF 0xD9 cannot occur inside it)
    end = data.rfind(b"\xff\xd9", max(scan_at, len(data) - 65536))
    if end < 0:
        end = data.find(b"\xff\xd9", scan_at)
    end = len(data) if end < 0 else end
    if end - scan_at < min_bytes:
        raise ValueError("too small to gain from a split")
    split_at = scan_at + max(1, int((end - scan_at) * FIRST_SHARE))
    # not after a 0xFF: one past the first other byte from split_at - 1 (a search in C, not a
    # Python loop through a hostile file's megabytes of fill bytes)
    other = _NOT_FF.search(data, split_at - 1, end)
    split_at = end if other is None else max(split_at, other.start() + 1)
    if split_at >= end:
        raise ValueError("no place to split")
    return Job(np.frombuffer(data, np.uint8), scan_at, split_at, np.array(blocks, np.int64),
               frame.mcus_per_row, frame.mcus_per_row * frame.mcu_rows, hmax, vmax, width, height, tables,
               quant[luma_quant])


def _huffman_tables(segment: bytes, out: dict[tuple[int, int], tuple[bytes, bytes]]) -> None:
    at = 0
    while at < len(segment):
        kind, index = segment[at] >> 4, segment[at] & 15
        if kind > 1 or index > 3 or at + 17 > len(segment):
            raise ValueError("a malformed Huffman table")
        counts = segment[at + 1:at + 17]
        total = sum(counts)
        if total > 256 or at + 17 + total > len(segment):
            raise ValueError("a malformed Huffman table")
        out[(kind, index)] = (counts, segment[at + 17:at + 17 + total])
        at += 17 + total


def _quant_tables(segment: bytes, out: dict[int, np.ndarray], zigzag: np.ndarray) -> None:
    at = 0
    while at < len(segment):
        precision, index = segment[at] >> 4, segment[at] & 15
        size = 128 if precision else 64
        if precision > 1 or index > 3 or at + 1 + size > len(segment):
            raise ValueError("a malformed quantisation table")
        values = np.frombuffer(segment, ">u2" if precision else np.uint8, 64, at + 1).astype(np.int64)
        natural = np.zeros(64, np.int64)
        natural[zigzag[:64]] = values
        out[index] = natural
        at += 1 + size


def _build_tables(kernels: ModuleType, huffman: dict[tuple[int, int], tuple[bytes, bytes]]) -> tuple[np.ndarray, ...]:
    """Lookup tables of the 8 Huffman slots (DC 0-3, AC 0-3); undefined slots stay empty (the
    scan was checked to use defined ones only)."""
    size = 1 << kernels.FAST_BITS
    look, fast_ac = np.zeros((8, size), np.int32), np.zeros((8, size), np.int32)
    maxcode, valptr, mincode = np.full((8, 18), -1, np.int64), np.zeros((8, 18), np.int64), np.zeros((8, 18), np.int64)
    hvals = np.zeros((8, 256), np.int64)
    for (kind, index), (counts, symbols) in huffman.items():
        slot = 4 * kind + index
        ok = kernels.build_table(np.frombuffer(counts, np.uint8).astype(np.int64),
                                 np.frombuffer(symbols, np.uint8).astype(np.int64), kind == 0, look[slot],
                                 fast_ac[slot], maxcode[slot], valptr[slot], mincode[slot], hvals[slot])
        if not ok:
            raise ValueError("a Huffman table libjpeg refuses")
    return look, fast_ac, maxcode, valptr, mincode, hvals


def _kernels_module() -> ModuleType:
    if _KERNELS is not None:
        return _KERNELS
    from . import jpeg_kernels  # only reached from warm()
    return jpeg_kernels


@dataclass(frozen=True)
class Outcome:
    """What a two-span decode did: `pixels` (None: decode the file with libjpeg), `how` it ended
    (joined, one_span, or why the speculation was not used), where the spans joined and how many
    MCUs the second span decoded before it met the true decode (`resync_mcus`)."""
    pixels: np.ndarray | None
    how: str
    joined_mcu: int | None = None
    resync_mcus: int | None = None


def decode(job: Job) -> np.ndarray | None:
    """The greyscale 1/2-scale pixels of a planned file, decoded on two threads; None when the
    spans did not meet or anything in the file is not what the kernels reproduce (the caller
    then decodes it with libjpeg)."""
    return explain(job).pixels


def explain(job: Job) -> Outcome:
    """`decode`, with how it went (tests and the benchmark report the joins)."""
    kernels = _KERNELS
    if kernels is None:
        return Outcome(None, "not_warm")
    if REQUIRE_FREE_CORE and not free_core():
        return Outcome(None, "no_free_core")
    if not _SPANS.acquire(blocking=False):  # another thread's decode has the second core
        return Outcome(None, "busy")
    try:
        return _decode(kernels, job)
    except Exception as exc:  # MemoryError, a pool shut down at exit: libjpeg decodes it instead
        return Outcome(None, f"failed: {type(exc).__name__}")
    finally:
        _SPANS.release()


def free_core(loadavg: str = "/proc/loadavg", cores: int | None = None) -> bool:
    """True when fewer tasks are runnable right now (this one included) than this process has
    cores (`usable_cores`): the fourth field of /proc/loadavg, "running/total", is the kernel's
    instant count (host-wide: in a container on a busy host this says no, and libjpeg decodes).
    True where that file is missing or unreadable (not Linux): the decode is still correct."""
    try:
        with open(loadavg, "rb") as file:
            running = int(file.read(256).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < (usable_cores() if cores is None else cores)


def usable_cores(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
    ("quota period" in cpu.max; "max" is none), so a container limited to one CPU never runs
    the second span."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open(cpu_max, "rb") as file:
            quota, period = file.read(64).split()[:2]
        if quota != b"max":
            cores = min(cores, max(1, int(quota) // max(1, int(period))))
    except (OSError, ValueError):
        pass
    return cores


_STATUS = {1: "invalid_code", 3: "past_end", 4: "out_of_range"}


def _decode(kernels: ModuleType, job: Job) -> Outcome:
    luma_blocks = int(job.layout[:, 2].sum())
    rows, cols = job.mcus // job.mcus_per_row * job.vmax * 4, job.mcus_per_row * job.hmax * 4
    image = np.empty((rows, cols), np.uint8)
    image32 = image.view(np.uint32)
    stored = np.empty((job.mcus * luma_blocks, 64), np.int16)
    stored_dc = np.empty(job.mcus * luma_blocks, np.int64)
    first_pos, first_pred = np.empty(OVERLAP_MCUS, np.int64), np.empty(OVERLAP_MCUS, np.int64)
    second_pos, second_pred = np.empty(OVERLAP_MCUS, np.int64), np.empty(OVERLAP_MCUS, np.int64)
    common = (job.layout, job.mcus_per_row, job.hmax, job.vmax, *job.tables, job.quant, kernels.ZIGZAG, job.mcus)
    no_image, no_store = np.empty((1, 1), np.uint32), np.empty((1, 64), np.int16)

    def second() -> tuple:
        return kernels.decode_span(job.data, job.split_at, len(job.data), *common, job.split_at, second_pos,
                                   second_pred, False, False, no_image, _LIMIT, stored, stored_dc)

    pool = jpeg_stripes.worker_pool()
    later = pool.submit(second)
    first = kernels.decode_span(job.data, job.scan_at, len(job.data), *common, job.split_at, first_pos, first_pred,
                                True, True, image32, _LIMIT, no_store, stored_dc[:0])
    second_result = second() if later.cancel() else later.result()
    done, status, _, marker_at, _, read_to, _ = first
    if status != kernels.OK:
        return Outcome(None, f"first_span_{_STATUS.get(status, status)}")
    if done == job.mcus and kernels.marker_after(job.data, marker_at if marker_at >= 0 else read_to) < 0:
        # libjpeg reads ahead up to 8 bytes; where the file ends before a marker it suspends
        # and imdecode gives None, where the kernels read zero bits. A marker stops it first.
        return Outcome(None, "no_eoi_after_the_scan")
    how, joined_mcu, resync = "one_span", None, None
    if done < job.mcus:  # stopped past the middle: join the second span
        joined = _join(job, first, second_result, first_pos, first_pred, second_pos, second_pred)
        if isinstance(joined, str):
            return Outcome(None, joined)
        local, delta, joined_mcu, resync = joined  # `local`: the second span's index of MCU `done`
        first_block, last_block = local * luma_blocks, (local + job.mcus - done) * luma_blocks
        base = done * luma_blocks - first_block
        middle = (first_block + last_block) // 2
        rest = (job.quant, job.layout, job.mcus_per_row, job.hmax, job.vmax, image32, _LIMIT)
        half = pool.submit(kernels.idct_stored, stored, stored_dc, middle, last_block, base, delta, *rest)
        ok = kernels.idct_stored(stored, stored_dc, first_block, middle, base, delta, *rest)
        ok = (kernels.idct_stored(stored, stored_dc, middle, last_block, base, delta, *rest)
              if half.cancel() else half.result()) and ok
        if not ok:
            return Outcome(None, "second_span_out_of_range")
        how = "joined"
    height, width = -(-job.height // 2), -(-job.width // 2)
    out = image[:height]
    return Outcome(out if width == cols else np.ascontiguousarray(out[:, :width]), how, joined_mcu, resync)


def _join(job: Job, first: tuple, second: tuple, first_pos: np.ndarray, first_pred: np.ndarray,
          second_pos: np.ndarray, second_pred: np.ndarray) -> tuple[int, int, int, int] | str:
    """Where the second span joins the true decode: (its own index of the first span's next MCU,
    the DC predictor correction, the MCU where they met, the second span's MCUs before it); or
    why it does not: the spans never share an MCU start, or the second span does not decode
    every remaining MCU cleanly up to an EOI."""
    done, _, noted, _, split_bits, _, _ = first
    reached, _, second_noted, marker_at, _, _, restarted = second
    if noted == 0 or second_noted == 0:
        return "spans_never_met"
    mine = first_pos[:noted] - split_bits
    theirs = second_pos[:second_noted]
    at = np.searchsorted(theirs, mine)
    hits = np.flatnonzero((at < second_noted) & (theirs[np.minimum(at, second_noted - 1)] == mine))
    if not len(hits):
        return "spans_never_met"
    # a restart after a shared start would mean an invalid code in the true decode
    hits = hits[at[hits] >= restarted]
    if not len(hits):
        return "spans_never_met"
    i = int(hits[0])
    joined_mcu = done - noted + i  # the first span noted MCUs done-noted .. done-1
    local = int(at[i])
    if reached < local + job.mcus - joined_mcu:
        return "second_span_stopped_early"  # an invalid code, a marker, the end of the data
    if marker_at < 0 or job.data[marker_at:marker_at + 2].tobytes() != b"\xff\xd9":
        return "no_eoi_after_the_scan"
    delta = int(first_pred[i] - second_pred[local])
    return local + done - joined_mcu, delta, joined_mcu, local
