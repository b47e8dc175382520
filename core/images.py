"""Decoding any supported image to RGB by one documented table.

Convert to Image Directory, Score Image Model and the web service all call :func:`to_rgb`,
so an image is seen the same way at training and at scoring time.

| source mode                 | conversion                                                   |
|-----------------------------|--------------------------------------------------------------|
| RGB                         | unchanged                                                    |
| RGBA, LA, PA, P + transparency | composited on white                                       |
| P (palette)                 | palette expanded to RGB                                      |
| L, 1                        | gray value replicated to R, G, B                             |
| I;16, I;16B, I (16-bit)     | scaled by the real bit depth (max 65535 → 255), then gray    |
| F (float)                   | clipped to [0, 1] if max ≤ 1, else [0, 255], then gray        |
| CMYK, YCbCr, LAB, HSV       | PIL's conversion to RGB (YCCK JPEGs are opened as CMYK)       |

EXIF orientation is applied first, so a photo taken sideways is seen upright.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 89_478_485  # PIL's own decompression-bomb threshold


def has_image_extension(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB copy of ``image`` following the table above."""
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        gray = np.clip(array * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    return image.convert("RGB")


def open_rgb(source: str | Path | bytes) -> tuple[Image.Image, str]:
    """Open a path or bytes, decode fully, return (RGB image, original mode)."""
    fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    with Image.open(fh) as image:
        image.load()
        mode = image.mode
        return to_rgb(image), mode
