"""Rendered text images and the character error rate, for the OCR tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT.exists():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default(size=size)


def render(lines: tuple[str, ...], size: int, noise: float = 0.0) -> npt.NDArray[np.uint8]:
    """Black text on white, one line under the other; ``noise`` is a Gaussian sigma (0–255)."""
    face = font(size)
    width = int(max(face.getlength(line) for line in lines)) + 2 * size
    height = int(len(lines) * size * 1.8) + 2 * size
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((size, size + index * size * 1.8), line, font=face, fill="black")
    pixels = np.asarray(image, dtype=np.float32)
    if noise:
        pixels = pixels + np.random.default_rng(size).normal(0.0, noise, pixels.shape)
    bgr = np.clip(pixels, 0, 255).astype(np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(bgr)


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(expected: str, got: str) -> float:
    return levenshtein(expected, got) / len(expected)
