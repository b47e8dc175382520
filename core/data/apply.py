"""Apply Image Transformation: attach a transformation to an image directory.

The output directory stores the whole ``[op, args]`` list and the mode; the ops run each time an
image is loaded (:class:`visionblocks.data.loading.ImageDataset`), so random augmentation is drawn
afresh every epoch instead of being frozen into files.

Deterministic leading size changes (Resize, CenterCrop, Pad) are baked into the stored files
when they do not enlarge the images: every later epoch then decodes a smaller file and skips
those steps (a folder of 12-megapixel photos resized to 256 pixels loads hundreds of times
faster; 32-pixel digits cropped to 28 save two steps per image). The directory records how many
ops are already applied. Images that a transformation enlarges are stored as they are: decoding
a small file and resizing it is faster than decoding the large result.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from visionblocks import errors
from visionblocks.device import usable_cores
from visionblocks.imagedir import ImageDirectory, ImageEntry
from visionblocks.images import open_rgb
from visionblocks.ports import link_or_copy
from visionblocks.progress import Progress
from visionblocks.data.transforms import MODES, Transform, leading_deterministic, normalize_ops, uint8_to_pil

# Bake the leading size changes in when they leave at most this share of the input's pixels.
MATERIALIZE_BELOW = 1.0


def pixel_ratio(entries: list[ImageEntry], steps: list) -> float | None:
    """Output pixels / input pixels of ``steps`` over ``entries``; None when sizes are unknown."""
    sizes: dict[tuple[int, int], int] = {}
    before = after = 0
    for entry in entries:
        if not entry.width or not entry.height:
            return None
        key = (entry.height, entry.width)
        if key not in sizes:
            shape = torch.empty(3, *key, dtype=torch.uint8, device="meta")  # sizes only, no pixels
            for step in steps:
                shape = step(shape)
            sizes[key] = shape.shape[-1] * shape.shape[-2]
        before += key[0] * key[1]
        after += sizes[key]
    return after / before if before else None


def _materialize(source: ImageDirectory, entry: ImageEntry, prefix: Transform, out: Path) -> ImageEntry:
    path = source.path_of(entry)
    try:
        # No pixel limit: the images were checked when they entered (Convert to Image Directory).
        image = open_rgb(path, None, plain=source.plain)[0]
    except (OSError, ValueError) as exc:
        raise errors.CouldNotOpenFileError(f"Cannot read image {path}: {exc}") from exc
    tensor = prefix(image)  # uint8: the prefix holds no ToTensor
    name = str(Path(entry.file_name).with_suffix(".png").as_posix())
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    uint8_to_pil(tensor).save(target, compress_level=1)
    return ImageEntry(entry.id, name, entry.category, tensor.shape[-1], tensor.shape[-2], entry.mode,
                      entry.base_file_name)


def apply_transformation(source: ImageDirectory, ops: list, mode: str, out: str | Path,
                         materialize: bool | None = None, progress: Progress | None = None) -> ImageDirectory:
    """Write ``source`` with ``ops`` attached (``mode``: "training" or "inference") into ``out``.

    ``materialize``: bake the leading size changes into the files (True), never (False), or when
    they leave at most :data:`MATERIALIZE_BELOW` of the input's pixels (None).
    """
    out = Path(out)
    progress = progress or Progress("apply-image-transformation")
    if mode not in MODES:
        raise errors.NotInRangeValueError(f"mode {mode!r} is not one of: {', '.join(MODES)}.")
    if source.transform is not None:
        raise errors.InvalidDatasetError(
            f"The image directory {source.root} already has a transformation applied.",
            hint="Connect the image directory from before Apply Image Transformation; one directory takes one transformation.")
    ops = normalize_ops(ops)
    count = leading_deterministic(ops)
    prefix = Transform(ops[:count])  # uint8 in, uint8 out: no ToTensor is added here
    if not count:
        materialize = False
    elif materialize is None:
        ratio = pixel_ratio(source.entries, prefix.steps)
        materialize = ratio is not None and ratio <= MATERIALIZE_BELOW
    if materialize:
        workers = min(8, usable_cores())
        with ThreadPoolExecutor(max_workers=workers) as pool:
            entries = list(pool.map(lambda e: _materialize(source, e, prefix, out), source.entries))
        progress.log(f"baked {', '.join(name for name, _ in ops[:count])} into {len(entries)} images")
    else:
        entries = []
        for entry in source.entries:
            link_or_copy(source.path_of(entry), out / entry.file_name)
            entries.append(entry)
        count = 0
    result = ImageDirectory.write(out, entries, source.classes, ops, mode, materialized=count,
                                  plain=source.plain or materialize)
    progress.log(f"{len(entries)} images, transformation applied for {mode}")
    return result
