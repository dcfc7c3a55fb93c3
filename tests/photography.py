"""Synthetic photography: what a phone camera does to a printed certificate, reproducibly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np


def render_page(pdf: Path, page: int, dpi: int = 300) -> np.ndarray:
    """Greyscale pixels of one PDF page rendered by poppler."""
    prefix = pdf.with_name(f"{pdf.stem}-p{page}")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                    str(pdf), str(prefix)], check=True)
    image = cv2.imread(str(prefix) + ".png", cv2.IMREAD_GRAYSCALE)
    Path(str(prefix) + ".png").unlink()
    return image


def encode(image: np.ndarray, fmt: str = ".png", quality: int = 92) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else []
    ok, data = cv2.imencode(fmt, image, params)
    assert ok
    return data.tobytes()


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(image, matrix, (nw, nh), borderValue=235)


def perspective(image: np.ndarray, strength: float = 0.12) -> np.ndarray:
    h, w = image.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[w * strength, h * 0.03], [w * (1 - strength * 0.4), 0], [w, h], [0, h * (1 - strength * 0.5)]])
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=235)


def blur(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def noise(image: np.ndarray, sigma: float = 14.0, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image.astype(np.float32) + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def scale_to_module(image: np.ndarray, module_px_now: float, module_px: float = 2.0) -> np.ndarray:
    factor = module_px / module_px_now
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def photo_12mp(image: np.ndarray, page_width: int = 1300, angle: float = 6.0, seed: int = 3) -> np.ndarray:
    """A 4000 x 3000 photo of a desk with the page small in it, a little turned and shaded."""
    rng = np.random.default_rng(seed)
    desk = np.full((3000, 4000), 120, np.float32)
    desk += np.linspace(-40, 40, 4000)[None, :]
    desk += cv2.GaussianBlur(rng.normal(0, 25, (3000, 4000)).astype(np.float32), (0, 0), 9)
    scale = page_width / image.shape[1]
    page = rotate(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), angle)
    h, w = page.shape
    y, x = (3000 - h) // 2 + 100, (4000 - w) // 2 + 300
    region = desk[y:y + h, x:x + w]
    mask = page < 234  # the rotation border blends into the desk
    region[mask] = page[mask] * 0.92 + 8
    region[~mask] = np.maximum(region[~mask], page[~mask] * 0.9)
    return np.clip(noise(desk.astype(np.uint8), 6, seed), 0, 255).astype(np.uint8)


def texture(height: int, width: int, colour: bool = False, seed: int = 0, noise: float = 12) -> np.ndarray:
    """A blurred random image with grain: every block has detail, as in a photo (the JPEG
    decoders' tests encode it in many ways)."""
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if colour else (height, width)
    base = cv2.GaussianBlur(rng.normal(128, 60, shape).astype(np.float32), (0, 0), 2)
    return np.clip(base + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
