"""Image -> barcode texts: load safely, then a cascade of decoders, fastest first.

A large photo is first tried at 2000 pixels (most codes in phone photos are big enough).
Design brief §7: zxing-cpp (8-23 ms on a 12-megapixel photo, and the strongest), then zbar
(pyzbar), then OpenCV's own detectors, each tried on the image as it is; if none reads
anything, the same cascade runs on prepared variants (upscaled for small codes, contrast
stretched, adaptively thresholded, inverted, rotated) before giving up. Every code found in
the image is returned (two cards side by side give two texts).
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 64_000_000  # beyond this it is a decompression bomb, not a phone photo
#: PNG and WebP decode whole (no reduced decoding): 0.65 s of CPU for 64 megapixels here.
#: Screenshots and exported images stay far below (a 5K screen is 15 megapixels).
MAX_LOSSLESS_PIXELS = 36_000_000
WORK_SIDE = 4000  # larger images are downscaled to this longest side before decoding
#: First try at this longest side: a phone photo's code is large enough at half size, and
#: zxing-cpp reads a 2000-pixel image in 3 ms against 40-70 ms at 12 megapixels.
QUICK_SIDE = 2000
#: zbar, OpenCV and the prepared variants work at most at this side: they cost seconds at 4000.
SLOW_SIDE = 2000
#: Below this side no QR code can be read (version 1 is 21 modules): refused before decoding.
MIN_SIDE = 21
#: CPU seconds (of the calling thread) decoding and the cascade may spend before giving up.
BUDGET_S = 0.8
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
    width: int
    height: int
    gave_up: bool = False  # the CPU budget ran out before every stage was tried


def image_format(data: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def load_grey(data: bytes) -> np.ndarray:
    """Greyscale pixels of a PNG, JPEG or WebP image, checked for size before decoding."""
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
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                width, height = probe.size
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
    try:
        grey = cv2.imdecode(np.frombuffer(data, np.uint8), _reduced_flag(kind, max(width, height)))
    except cv2.error as exc:
        raise ImageError(f"the {kind} image cannot be decoded", technical=f"cv2.error: {str(exc)[-200:]}") from None
    if grey is None or grey.size == 0:
        raise ImageError(f"the {kind} image is damaged or truncated")
    if grey.shape[0] > height or grey.shape[1] > width:  # another decoder read other dimensions
        raise ImageError(f"the {kind} image decodes to {grey.shape[1]}x{grey.shape[0]} pixels, not the {width}x{height} "
                         "its header declares")
    if min(grey.shape) < MIN_SIDE:
        raise ImageError(f"the image decodes to {grey.shape[1]}x{grey.shape[0]} pixels: too small to hold a QR code",
                         kind="too_small")
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


def _reduced_flag(kind: str, longest: int) -> int:
    """Decode a large JPEG at 1/2, 1/4 or 1/8 (libjpeg scales in the DCT: far less CPU and
    memory), never below the working side. Other formats decode whole (header-capped)."""
    if kind != "JPEG":
        return cv2.IMREAD_GRAYSCALE
    for factor, flag in ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
                         (2, cv2.IMREAD_REDUCED_GRAYSCALE_2)):
        if longest / factor >= WORK_SIDE:
            return flag
    return cv2.IMREAD_GRAYSCALE


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


def scan(data: bytes) -> ScanResult:
    """Every QR code text in the image; raises ImageError for what is not a usable image, and
    for anything a decoder raises (the boundary: a verdict, never a traceback)."""
    deadline = time.thread_time() + BUDGET_S  # decoding counts too
    grey = load_grey(data)
    try:
        return _cascade(grey, deadline)
    except Exception as exc:  # cv2.error, MemoryError, whatever a decoder raises on hostile pixels
        from .boundary import technical
        raise ImageError("the image could not be scanned (a barcode decoder failed on it)", kind="failed",
                         technical=technical(exc)) from None


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

    if max(height, width) > QUICK_SIDE * 1.25:
        texts = _zxing(_shrunk(grey, QUICK_SIDE))
        if texts:
            return found(texts, "zxing-cpp/quick")
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
