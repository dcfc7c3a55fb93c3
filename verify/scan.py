"""Image -> barcode texts: load safely, then a cascade of decoders, fastest first.

A large photo is first read reduced: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size in the
DCT (libjpeg's scaling: the inverse transform of a smaller block, no full-size pixels at all),
a PNG or WebP shrunk, to about 2000 pixels, and zxing-cpp tries that with its cheapest
settings. The code on a photographed certificate or card is large, so this reads most photos
in the time libjpeg needs to entropy-decode the file. Only when that finds nothing is the
image decoded at full resolution (4000 pixels at most) and the cascade of design brief §7
run: zxing-cpp (the fastest and strongest), then zbar (pyzbar), then OpenCV's own detectors,
each tried on the image as it is; if none reads anything, the same cascade runs on prepared
variants (upscaled for small codes, contrast stretched, adaptively thresholded, inverted,
rotated) before giving up. Every code found in the image is returned (two cards side by side
give two texts). The reduced pass never replaces a check: every image, whichever pass reads it,
has passed the same header and size checks first.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

from . import jpeg_speculative, jpeg_stripes

MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 64_000_000  # beyond this it is a decompression bomb, not a phone photo
#: PNG and WebP decode whole (no reduced decoding): 0.65 s of CPU for 64 megapixels here.
#: Screenshots and exported images stay far below (a 5K screen is 15 megapixels).
MAX_LOSSLESS_PIXELS = 36_000_000
WORK_SIDE = 4000  # larger images are downscaled to this longest side before decoding
#: First try at this longest side: a phone photo's code is large enough at half size, and
#: zxing-cpp reads a 2000-pixel image in 1.5-3 ms against 40-70 ms at 12 megapixels.
QUICK_SIDE = 2000
#: A JPEG's reduced first try is decoded at the largest DCT scaling that keeps at least this
#: longest side (a 4000-pixel photo at 1/2, an 8000-pixel one at 1/4), then shrunk to QUICK_SIDE.
QUICK_MIN_SIDE = 1600
#: zbar, OpenCV and the prepared variants work at most at this side: they cost seconds at 4000.
SLOW_SIDE = 2000
#: Below this side no QR code can be read (version 1 is 21 modules): refused before decoding.
MIN_SIDE = 21
#: CPU seconds (of the calling thread) decoding and the cascade may spend before giving up.
BUDGET_S = 0.8
#: Decode a JPEG that carries restart markers in stripes on two threads (verify.jpeg_stripes);
#: the tests and the benchmark turn it off to compare.
STRIPED = True
#: Decode a JPEG without them on two threads by checked speculation (verify.jpeg_speculative),
#: in a process that has warmed that decoder; off here turns it off (tests, benchmark).
SPECULATIVE = True
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


class ImageError(ValueError):
    """The data is not an image we read, is too large or too small, or the decoders failed.
    `kind` is one of unreadable, too_large, too_small, failed; `technical` what a library
    raised (for the JSON report only)."""

    def __init__(self, message: str, *, too_large: bool = False, kind: str | None = None,
                 technical: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind or ("too_large" if too_large else "unreadable")
        self.too_large = self.kind == "too_large"
        self.technical = technical


@dataclass(frozen=True)
class ScanResult:
    texts: tuple[str, ...]
    decoder: str | None  # which stage read them
    width: int  # of the image that stage read (reduced, or at the working size)
    height: int
    gave_up: bool = False  # the CPU budget ran out before every stage was tried


def image_format(data: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


@dataclass(frozen=True)
class Header:
    """What an image's header declares, checked before any pixel is decoded."""
    kind: str
    width: int
    height: int

    @property
    def longest(self) -> int:
        return max(self.width, self.height)


def probe(data: bytes) -> Header:
    """The format and declared size of a PNG, JPEG or WebP image; ImageError for anything too
    large (bytes or pixels: a decompression bomb is refused from its header), too small,
    truncated or not an image."""
    if len(data) > MAX_BYTES:
        raise ImageError(f"the image is {len(data) // 2**20} MiB; at most {MAX_BYTES // 2**20} MiB", too_large=True)
    kind = image_format(data)
    if kind is None:
        raise ImageError("not a PNG, JPEG or WebP image")
    overrun = _declared_size_overrun(data, kind)
    if overrun:
        raise ImageError(f"the {kind} image is damaged or truncated ({overrun})")
    from PIL import Image

    try:
        with warnings.catch_warnings():  # the pixel limit below is ours; PIL's warning is noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
    except Image.DecompressionBombError:
        raise ImageError("the image declares more pixels than any photo has", too_large=True) from None
    except Exception:
        raise ImageError(f"the {kind} image is damaged or truncated") from None
    limit = MAX_PIXELS if kind == "JPEG" else MAX_LOSSLESS_PIXELS
    if width * height > limit:
        raise ImageError(f"the image is {width}x{height} pixels; at most {limit // 1_000_000} megapixels for {kind}",
                         too_large=True)
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the image is {width}x{height} pixels: too small to hold a QR code (at least {MIN_SIDE})",
                         kind="too_small")
    return Header(kind, width, height)


def decode(data: bytes, header: Header, flag: int) -> np.ndarray:
    """Greyscale pixels of an image `probe` accepted, decoded with an `IMREAD_*GRAYSCALE*` flag
    (a reduced one for a JPEG), and checked against the size its header declared. The pixels
    as stored: EXIF orientation is not applied (a portrait phone photo, stored 4000 x 3000 and
    marked "turn 90°", would otherwise decode to 3000 x 4000), and a JPEG with restart markers
    is decoded in stripes on two threads (verify.jpeg_stripes, the same pixels), one without
    them by checked speculation on two threads where that decoder is warm
    (verify.jpeg_speculative, the same pixels again)."""
    factor = _FACTORS[flag]
    width, height = -(-header.width // factor), -(-header.height // factor)  # libjpeg rounds up
    try:
        grey = _striped(data, header, flag)
        if grey is None:
            grey = _speculative(data, header, flag)
        if grey is None:  # the stored pixels: a QR code reads the same turned (EXIF orientation)
            grey = cv2.imdecode(np.frombuffer(data, np.uint8), flag | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:
        raise ImageError(f"the {header.kind} image cannot be decoded",
                         technical=f"cv2.error: {str(exc)[-200:]}") from None
    if grey is None or grey.size == 0:
        raise ImageError(f"the {header.kind} image is damaged or truncated")
    if grey.ndim != 2 or grey.shape[0] > height or grey.shape[1] > width:  # another decoder read other dimensions
        raise ImageError(f"the {header.kind} image decodes to {grey.shape[1]}x{grey.shape[0]} pixels, not the "
                         f"{header.width}x{header.height} its header declares")
    if min(grey.shape) < MIN_SIDE:
        raise ImageError(f"the image decodes to {grey.shape[1]}x{grey.shape[0]} pixels: too small to hold a QR code",
                         kind="too_small")
    return grey


def _striped(data: bytes, header: Header, flag: int) -> np.ndarray | None:
    """A JPEG with restart markers on a row boundary, decoded in stripes on two threads
    (verify.jpeg_stripes); None for every other file."""
    if header.kind != "JPEG" or not STRIPED:
        return None
    split = jpeg_stripes.plan(data, flag, header.width, header.height)
    return jpeg_stripes.decode(split, flag) if split is not None else None


def _speculative(data: bytes, header: Header, flag: int) -> np.ndarray | None:
    """A baseline JPEG decoded on two threads by checked speculation (verify.jpeg_speculative);
    None when that decoder is not warm in this process or does not take the file."""
    if header.kind != "JPEG" or not SPECULATIVE:
        return None
    job = jpeg_speculative.plan(data, flag, header.width, header.height)
    return jpeg_speculative.decode(job) if job is not None else None


def load_grey(data: bytes) -> np.ndarray:
    """Greyscale pixels of a PNG, JPEG or WebP image at its working size (4000 pixels at most),
    checked for size before decoding."""
    header = probe(data)
    return _working(data, header)


def _working(data: bytes, header: Header) -> np.ndarray:
    grey = decode(data, header, _reduced_flag(header.kind, header.longest))
    longest = max(grey.shape)
    if longest > WORK_SIDE:
        scale = WORK_SIDE / longest
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def _declared_size_overrun(data: bytes, kind: str) -> str | None:
    """A PNG chunk or a WebP RIFF container that declares more bytes than the file holds.

    Found by fuzzing (fuzz_scan, docs/benchmarks.md): OpenCV 5.0's PNG reader allocates a
    chunk's declared length before reading it, so a 303-byte PNG whose IDAT claims 512 MB
    made one scan take 610 MB. Checked here, before any decoder sees the bytes."""
    if kind == "PNG":
        at = 8
        while at + 8 <= len(data):
            length, chunk = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
            if at + 12 + length > len(data):
                return f"its {chunk.decode('latin-1')!r} chunk declares {length} bytes past the end of the file"
            if chunk == b"IEND":
                return None
            at += 12 + length
        return "it has no end chunk"
    if kind == "WebP":
        declared = int.from_bytes(data[4:8], "little") + 8
        if declared > len(data):
            return f"its container declares {declared} bytes, the file has {len(data)}"
    return None


_SCALED = ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
           (2, cv2.IMREAD_REDUCED_GRAYSCALE_2))
_FACTORS = {cv2.IMREAD_GRAYSCALE: 1, **{flag: factor for factor, flag in _SCALED}}


def _reduced_flag(kind: str, longest: int, side: int = WORK_SIDE) -> int:
    """Decode a large JPEG at 1/2, 1/4 or 1/8 (libjpeg scales in the DCT: far less CPU and
    memory), never below `side`. Other formats decode whole (header-capped)."""
    if kind != "JPEG":
        return cv2.IMREAD_GRAYSCALE
    for factor, flag in _SCALED:
        if longest / factor >= side:
            return flag
    return cv2.IMREAD_GRAYSCALE


def _zxing_quick(image: np.ndarray) -> tuple[list[str], bool]:
    """zxing-cpp's cheapest settings (no inverted codes, no pyramid of smaller copies): half
    the time of `_zxing` on a 2000-pixel photo. What it misses, `_zxing` gets next. Also
    whether it located a QR symbol it could not decode, apart from those it read: a second,
    smaller code too coarse at this size, which the full-resolution pass must look at."""
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False,
                                   try_downscale=False, try_invert=False, text_mode=zxingcpp.TextMode.Plain,
                                   return_errors=True)
    read = [r for r in found if r.valid and r.text]
    missed = any(not r.valid and not any(_overlaps(r, other) for other in read) for r in found)
    return [r.text for r in read], missed


def _overlaps(symbol, other) -> bool:
    """The centre of `symbol` lies within the bounding box of `other` (one code, found twice)."""
    corners, box = _corners(symbol), _corners(other)
    x, y = sum(c.x for c in corners) / 4, sum(c.y for c in corners) / 4
    return min(c.x for c in box) <= x <= max(c.x for c in box) and min(c.y for c in box) <= y <= max(c.y for c in box)


def _corners(symbol) -> list:
    position = symbol.position
    return [position.top_left, position.top_right, position.bottom_right, position.bottom_left]


def _zxing(image: np.ndarray) -> list[str]:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=True, try_downscale=True,
                                   try_invert=True, text_mode=zxingcpp.TextMode.Plain)
    return [r.text for r in found if r.valid and r.text]


def _zbar(image: np.ndarray) -> list[str]:
    from pyzbar.pyzbar import ZBarSymbol, decode

    out = []
    for symbol in decode(image, symbols=[ZBarSymbol.QRCODE]):
        try:
            out.append(symbol.data.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(symbol.data.decode("latin-1"))
    return out


_OPENCV: dict[str, object] = {}


def _opencv(image: np.ndarray) -> list[str]:
    detector = _OPENCV.setdefault("aruco", cv2.QRCodeDetectorAruco()) if hasattr(cv2, "QRCodeDetectorAruco") \
        else _OPENCV.setdefault("plain", cv2.QRCodeDetector())
    try:
        ok, texts, _points, _ = detector.detectAndDecodeMulti(image)  # type: ignore[attr-defined]
    except cv2.error:
        return []
    return [t for t in texts if t] if ok else []


DECODERS = (("zxing-cpp", _zxing), ("zbar", _zbar), ("opencv", _opencv))


def _variants(grey: np.ndarray):
    """Prepared versions of a hard image, cheapest and most useful first."""
    h, w = grey.shape
    if max(h, w) < 1600 and min(h, w) * 2 >= MIN_SIDE:
        yield "upscale", cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    yield "equalise", cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(grey)
    yield "sharpen", cv2.addWeighted(grey, 1.8, cv2.GaussianBlur(grey, (0, 0), 2), -0.8, 0)
    block = max(15, (min(h, w) // 30) | 1)
    yield "adaptive", cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)
    yield "blur", cv2.medianBlur(grey, 3)
    if min(h, w) >= 2 * MIN_SIDE:
        yield "downscale", cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    centre = (w / 2, h / 2)
    for angle in (45, 22.5, -22.5):
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        yield f"rotate{angle:g}", cv2.warpAffine(grey, matrix, (w, h), borderValue=255)


def scan(data: bytes, *, reduced_first: bool = True) -> ScanResult:
    """Every QR code text in the image; raises ImageError for what is not a usable image, and
    for anything a decoder raises (the boundary: a verdict, never a traceback).

    `reduced_first=False` skips the reduced first pass (the tests and the benchmark compare
    both paths on the same files: the reduced pass must never lose a code)."""
    started = time.thread_time()
    header = probe(data)
    grey = None
    extra = 0.0  # CPU time of the reduced pass, which the full path does not count against its budget
    read_reduced: list[str] = []  # codes the reduced pass read when it also saw one it could not
    if reduced_first and header.longest > QUICK_SIDE * 1.25:
        work_flag = _reduced_flag(header.kind, header.longest)
        quick_flag = _reduced_flag(header.kind, header.longest, QUICK_MIN_SIDE)
        if quick_flag == work_flag:  # nothing to save in the decoder: decode once, shrink
            grey = _working(data, header)
        reduced_from = time.thread_time()
        quick = _shrunk(grey if grey is not None else decode(data, header, quick_flag), QUICK_SIDE)
        try:
            texts, missed = _zxing_quick(quick)
            texts = texts or _zxing(quick)
        except Exception as exc:  # cv2.error, MemoryError, whatever a decoder raises on hostile pixels
            raise _failed(exc) from None
        reduced = ScanResult(tuple(dict.fromkeys(texts)), "zxing-cpp/reduced", quick.shape[1], quick.shape[0])
        if texts and not missed:
            return reduced
        read_reduced = texts  # and a smaller code it could not read: the full pass looks too
        extra = time.thread_time() - reduced_from
    if grey is None:
        grey = _working(data, header)
    try:
        full = _cascade(grey, started + BUDGET_S + extra)  # decoding counts
    except Exception as exc:
        raise _failed(exc) from None
    if not read_reduced:
        return full
    merged = tuple(dict.fromkeys([*read_reduced, *full.texts]))
    if merged == reduced.texts:
        return reduced
    return ScanResult(merged, f"zxing-cpp/reduced+{full.decoder}", full.width, full.height, full.gave_up)


def _failed(exc: Exception) -> ImageError:
    from .boundary import technical
    return ImageError("the image could not be scanned (a barcode decoder failed on it)", kind="failed",
                      technical=technical(exc))


def _shrunk(grey: np.ndarray, side: int) -> np.ndarray:
    longest = max(grey.shape)
    if longest <= side:
        return grey
    return cv2.resize(grey, None, fx=side / longest, fy=side / longest, interpolation=cv2.INTER_AREA)


def _cascade(grey: np.ndarray, deadline: float) -> ScanResult:
    """Decoders fastest first, then prepared variants, until this thread's CPU time reaches
    `deadline` (one decoder call may run past it: about 0.2 s at most at these sizes)."""
    height, width = grey.shape

    def found(texts: list[str], stage: str) -> ScanResult:
        return ScanResult(tuple(dict.fromkeys(texts)), stage, width, height)

    texts = _zxing(grey)
    if texts:
        return found(texts, "zxing-cpp")
    small = _shrunk(grey, SLOW_SIDE)
    for name, decoder in DECODERS[1:]:
        if time.thread_time() > deadline:
            return ScanResult((), None, width, height, gave_up=True)
        texts = decoder(small)
        if texts:
            return found(texts, name)
    for variant, prepared in _variants(small):
        for name, decoder in DECODERS[:2]:
            if time.thread_time() > deadline:
                return ScanResult((), None, width, height, gave_up=True)
            texts = decoder(prepared)
            if texts:
                return found(texts, f"{name}/{variant}")
    return ScanResult((), None, width, height)
