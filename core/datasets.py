"""Bundled sample data: scikit-learn's handwritten digits written out as real image files.

The digits (1,797 grayscale 8×8 scans, classes 0–9) ship inside scikit-learn, so nothing is
downloaded. :func:`write_digits` writes them as ``<out>/<digit>/<index>.png`` — the raw
class-per-folder layout that Convert to Image Directory takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def load_digits_arrays():
    """(images as uint8 arrays 8×8 in 0–255, integer targets)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.clip(digits.images * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
    return images, digits.target.astype(int)


def write_digits(out: str | Path, size: int = 32, per_class: int | None = None, labeled: bool = True,
                 fmt: str = "png") -> Path:
    """Write the digits to ``out`` and return it.

    ``size``: edge of the written images in pixels (upscaled from 8×8 with bicubic resampling);
    ``per_class``: keep only the first N images of each class (a quick subset);
    ``labeled``: class sub-folders (for training) or one flat folder (for inference);
    ``fmt``: ``png`` or ``jpg``.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    out = Path(out)
    images, targets = load_digits_arrays()
    seen: dict[int, int] = {}
    for index, (array, target) in enumerate(zip(images, targets)):
        if per_class is not None and seen.get(target, 0) >= per_class:
            continue
        seen[target] = seen.get(target, 0) + 1
        folder = out / str(target) if labeled else out
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(array, "L")
        if size != 8:
            image = image.resize((size, size), Image.Resampling.BICUBIC)
        name = f"{index:04d}.{fmt}" if labeled else f"{target}_{index:04d}.{fmt}"
        image.save(folder / name)
    return out
