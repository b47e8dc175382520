"""The one image decoder: any supported file to RGB pixels by one documented table.

Convert to Image Directory, the loaders of Train PyTorch Model (the in-memory cache included),
Score Image Model and the web service all decode through :func:`open_rgb` (conversion uses its two
stages, :func:`open_image` and :func:`to_rgb`, to look at the file in between), so an image is seen
the same way at training and at scoring time. Pillow decodes every format; there is no second
decoder whose rounding (JPEG's IDCT, 16-bit scaling) could disagree. :func:`check_pixels` is the
one pixel limit, applied to the header before any pixel is decoded.

| source mode                      | conversion                                                 |
|----------------------------------|------------------------------------------------------------|
| RGB                              | unchanged                                                  |
| RGBA, LA, La, RGBa, PA           | composited on white (transparent pixels become white)      |
| P with transparency              | expanded to RGBA, then composited on white                 |
| P (palette)                      | palette expanded to RGB                                    |
| L, 1                             | gray value replicated to R, G, B                           |
| I;16, I;16B, I;16L, I;16S, I     | scaled by the real bit depth (value · 255 / (2^bits − 1)), |
|                                  | then gray; never clamped at 255                            |
| F (32-bit float)                 | [0, 1] when every value ≤ 1, else [0, 255]; then gray       |
| CMYK (YCCK JPEGs decode as CMYK) | PIL's CMYK → RGB conversion                                |
| YCbCr, LAB, HSV                  | PIL's conversion to RGB                                    |

EXIF orientation is applied first, so a photo taken sideways is seen upright. The real bit depth
of a 16/32-bit gray image is the file's BitsPerSample (TIFF), else 16 for the 16-bit modes and
for 32-bit integer images whose values fit in 16 bits (PNG and PGM with a max value above 255 are
opened by Pillow already scaled to 16 bits), else 32.

A *plain* file (:func:`is_plain`: an upright 8-bit RGB or gray PNG/JPEG, which is what Convert to
Image Directory stores) needs nothing from the table but gray → RGB; ``open_rgb(..., plain=True)``
skips the EXIF look-up for such files and gives the same pixels.
"""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from visionblocks import errors

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb warning threshold
# Pillow refuses outright above twice its threshold, so no limit can usefully go higher.
HARD_MAX_PIXELS = 2 * DEFAULT_MAX_PIXELS

_TIFF_BITS_PER_SAMPLE = 258
_EXIF_ORIENTATION = 0x0112


def has_image_extension(name: str) -> bool:
    """Does ``name`` end with one of :data:`IMAGE_EXTENSIONS`, in any letter case?"""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def bit_depth(image: Image.Image) -> int:
    """The real bit depth of a 16/32-bit integer gray image (see the module docstring)."""
    tags = getattr(image, "tag_v2", None)
    if tags is not None and _TIFF_BITS_PER_SAMPLE in tags:
        bits = tags[_TIFF_BITS_PER_SAMPLE]
        bits = bits[0] if isinstance(bits, tuple) else bits
        if isinstance(bits, int) and 1 <= bits <= 32:
            return bits
    if image.mode.startswith("I;16"):
        return 16
    low, high = image.getextrema()
    return 16 if high <= 65535 else 32


def _scaled_gray(array: np.ndarray, top: float) -> Image.Image:
    gray = np.clip(array.astype(np.float64) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Return an RGB version of ``image`` following the table above (a no-op for upright RGB)."""
    mode = image.mode
    depth = bit_depth(image) if mode.startswith("I;16") or mode == "I" else 0  # before tags are lost
    if image.getexif().get(_EXIF_ORIENTATION, 1) not in (None, 1):
        image = ImageOps.exif_transpose(image)  # a copy; skipped for upright images, the common case
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
        return _scaled_gray(np.asarray(image), float(2 ** depth - 1))
    if mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        return _scaled_gray(array, 1.0 if array.max(initial=0) <= 1.0 else 255.0)
    return image.convert("RGB")


def is_plain(image: Image.Image, data_head: bytes = b"") -> bool:
    """Is this decoded file one that any decoder reads exactly as :func:`to_rgb` would — an 8-bit
    RGB or gray PNG/JPEG without EXIF rotation? Such files need no conversion beyond gray → RGB.

    ``data_head``: the first bytes of the file (for a PNG, byte 24 is the IHDR bit depth).
    """
    if image.format not in ("PNG", "JPEG") or image.mode not in ("RGB", "L"):
        return False
    if image.format == "PNG" and (len(data_head) < 25 or data_head[24] != 8):
        return False  # 16-bit RGB PNGs also open as "RGB" in Pillow
    if image.format == "PNG" and "transparency" in image.info:
        return False
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    return orientation in (None, 1)


def check_pixels(size: tuple[int, int], max_pixels: int | None, name: str) -> None:
    """ImageExceedsLimit (0127) when ``size`` holds more than ``max_pixels`` (None: no limit).
    ``name`` starts the message, e.g. "Image cats/1.png" or the service's "File 1 (cat.jpg)"."""
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise errors.ImageExceedsLimitError(
            f"{name} is {width}×{height} = {width * height:,} pixels, over the limit of {max_pixels:,} pixels.",
            hint="Downscale the image, or raise the maximum pixels per image if it is trusted.")


# warnings.catch_warnings swaps the process's filter list and puts it back on exit; two threads
# doing that at once can leave one's filter installed for good. Decoding runs in thread pools
# (conversion, the training cache), so the short header parse that needs the filter is serialized.
# It holds the GIL anyway; the pixel decoding after it, which releases the GIL, stays parallel.
_OPEN_LOCK = threading.Lock()


def _default_name(source: str | Path | bytes) -> str:
    return "The image bytes" if isinstance(source, (bytes, bytearray)) else f"Image {source}"


def open_image(source: str | Path | bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               name: str | None = None) -> Image.Image:
    """Open and fully decode a path or bytes; raise ImageExceedsLimit (0127) for a huge image
    before its pixels are decoded (Pillow's own hard limit refuses a bomb even without
    ``max_pixels``). Decoding problems raise OSError/ValueError (Pillow's).
    ``name``: how messages name the image (default: "Image <path>")."""
    name = name or _default_name(source)
    fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides
            image = Image.open(fh)
    except Image.DecompressionBombError as exc:
        raise errors.ImageExceedsLimitError(
            f"{name} claims more pixels than Pillow ever decodes: {exc}",
            hint="Downscale the image.") from exc
    try:
        check_pixels(image.size, max_pixels, name)
        image.load()
    except BaseException:
        image.close()
        raise
    return image


def _plain_to_rgb(image: Image.Image) -> Image.Image:
    """:func:`to_rgb` for a file known to be plain: no EXIF look-up. A file that is not what
    ``plain`` promised (another mode) still goes through the whole table."""
    if image.mode == "RGB":
        return image
    if image.mode == "L":
        return image.convert("RGB")
    return to_rgb(image)


def open_rgb(source: str | Path | bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
             plain: bool = False, name: str | None = None) -> tuple[Image.Image, str]:
    """Open a path or bytes, check its pixels, decode fully; return (RGB image, original mode).

    ``max_pixels``: the pixel limit (None: only Pillow's hard limit, for files already checked
    when they entered an ImageDirectory). ``plain``: the file is known to be plain (every file
    of an ImageDirectory marked ``plain``; see the module docstring). ``name``: how messages name
    the image.
    """
    image = open_image(source, max_pixels, name)
    with image:  # leaving closes only the file (multi-frame formats keep it open); pixels stay
        return (_plain_to_rgb(image) if plain else to_rgb(image)), image.mode
