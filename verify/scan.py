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
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 64_000_000  # beyond this it is a decompression bomb, not a phone photo
WORK_SIDE = 4000  # larger images are downscaled to this longest side before decoding
#: First try at this longest side: a phone photo's code is large enough at half size, and
#: zxing-cpp reads a 2000-pixel image in 3 ms against 40-70 ms at 12 megapixels.
QUICK_SIDE = 2000
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


class ImageError(ValueError):
    """The data is not an image we read, or is too large."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class ScanResult:
    texts: tuple[str, ...]
    decoder: str | None  # which stage read them
    width: int
    height: int


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
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            width, height = probe.size
    except Image.DecompressionBombError:
        raise ImageError("the image declares more pixels than any photo has", too_large=True) from None
    except Exception:
        raise ImageError(f"the {kind} image is damaged or truncated") from None
    if width * height > MAX_PIXELS:
        raise ImageError(f"the image is {width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels",
                         too_large=True)
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ImageError(f"the {kind} image is damaged or truncated")
    longest = max(grey.shape)
    if longest > WORK_SIDE:
        scale = WORK_SIDE / longest
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


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
    if max(h, w) < 1600:
        yield "upscale", cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    yield "equalise", cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(grey)
    yield "sharpen", cv2.addWeighted(grey, 1.8, cv2.GaussianBlur(grey, (0, 0), 2), -0.8, 0)
    block = max(15, (min(h, w) // 30) | 1)
    yield "adaptive", cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)
    yield "blur", cv2.medianBlur(grey, 3)
    yield "downscale", cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    centre = (w / 2, h / 2)
    for angle in (45, 22.5, -22.5):
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        yield f"rotate{angle:g}", cv2.warpAffine(grey, matrix, (w, h), borderValue=255)


def scan(data: bytes) -> ScanResult:
    """Every QR code text in the image; raises ImageError for what is not a usable image."""
    grey = load_grey(data)
    height, width = grey.shape
    if max(height, width) > QUICK_SIDE * 1.25:
        scale = QUICK_SIDE / max(height, width)
        texts = _zxing(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        if texts:
            return ScanResult(tuple(dict.fromkeys(texts)), "zxing-cpp/quick", width, height)
    for name, decoder in DECODERS:
        texts = decoder(grey)
        if texts:
            return ScanResult(tuple(dict.fromkeys(texts)), name, width, height)
    for variant, prepared in _variants(grey):
        for name, decoder in DECODERS[:2]:
            texts = decoder(prepared)
            if texts:
                return ScanResult(tuple(dict.fromkeys(texts)), f"{name}/{variant}", width, height)
    return ScanResult((), None, width, height)
