"""Loading an ImageDirectory as tensors: the Dataset and DataLoader that training and scoring use.

:class:`ImageDataset` decodes each image with the one decoder
(:func:`visionblocks.images.open_rgb`) and applies the directory's stored transformation at every
``__getitem__`` call, so random augmentation is drawn afresh every epoch. Steps that Apply Image
Transformation already materialized into the stored files are skipped
(``ImageDirectory.materialized``). A ``plain`` directory (as Convert to Image Directory writes
them) is decoded with ``plain=True``: the same pixels without the conversion table's look-ups.

:func:`make_loader` builds every DataLoader of training and scoring.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from visionblocks import errors
from visionblocks.device import usable_cores
from visionblocks.imagedir import ImageDirectory
from visionblocks.images import open_rgb
from visionblocks.data.transforms import INFERENCE, MODES, Transform, build_transform, with_to_tensor


class ImageDataset(Dataset):
    """Items are ``(image float32 C×H×W, class id or -1 when unlabeled, index)``.

    ``mode`` ("training" / "inference") defaults to the mode the directory's transformation was
    applied with, else "inference". Without a stored transformation images only go through
    ToTensor.
    """

    def __init__(self, directory: ImageDirectory | str | Path, mode: str | None = None):
        if not isinstance(directory, ImageDirectory):
            directory = ImageDirectory.load(directory)
        self.directory = directory
        self.classes = list(directory.classes) if directory.classes is not None else None
        self.targets = directory.targets()
        self.mode = mode or directory.transform_mode or INFERENCE
        if self.mode not in MODES:
            raise errors.NotInRangeValueError(f"mode {self.mode!r} is not one of: {', '.join(MODES)}.")
        self.transform = self._build_transform()
        self._paths = [str(directory.path_of(entry)) for entry in directory.entries]
        self._plain = directory.plain

    def _build_transform(self) -> Transform:
        ops = self.directory.transform
        if not ops:
            return Transform(with_to_tensor([]))
        # The first `materialized` ops are deterministic and already baked into the stored files.
        return build_transform(ops[self.directory.materialized:], self.mode)

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index: int):
        return self.transform(self.decode(index)), self.targets[index], index

    def decode(self, index: int) -> Image.Image:
        """Image ``index`` as an RGB PIL image, before the transformation (the transform turns it
        into a tensor when an op wants one, so an augmentation on PIL images costs no conversion)."""
        path = self._paths[index]
        try:
            # No pixel limit: the images were checked when they entered (Convert to Image
            # Directory, with the user's limit); Pillow's hard limit still refuses a bomb.
            return open_rgb(path, None, plain=self._plain)[0]
        except (OSError, ValueError) as exc:
            raise errors.CouldNotOpenFileError(f"Cannot read image {path}: {exc}") from exc

    def __repr__(self) -> str:
        return (f"ImageDataset({self.directory.root}, {len(self)} images, "
                f"classes={len(self.classes) if self.classes else 0}, mode={self.mode!r})")


def default_num_workers(dataset_size: int, batch_size: int) -> int:
    """Worker processes for a loader: none for a couple of batches (starting workers costs more
    than it saves), else half the usable cores (the other half runs the model), at most 8."""
    cores = usable_cores()
    if cores <= 1 or dataset_size <= 2 * batch_size:
        return 0
    return max(1, min(8, cores // 2))


def make_loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int | None = None,
                pin_memory: bool = False, sampler=None, drop_last: bool = False, batch_sampler=None,
                collate_fn=None) -> DataLoader:
    """A DataLoader with sensible defaults: seeded shuffling (the same seed gives the same order
    and the same worker random streams), persistent workers, and a worker count for this machine.

    ``sampler`` replaces ``shuffle``. ``batch_sampler`` (yielding the batches themselves, as
    training's epoch sampler does) replaces the batching by ``batch_size``, ``shuffle``,
    ``sampler`` and ``drop_last``, as in DataLoader; ``batch_size`` then only sizes the default
    worker count. ``collate_fn``: DataLoader's, default collation when None.
    """
    if num_workers is None:
        num_workers = default_num_workers(len(dataset), batch_size)
    if batch_sampler is not None:
        if shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler replaces shuffle, sampler and drop_last; pass only one way of batching.")
        batching = {"batch_sampler": batch_sampler}
    else:
        batching = {"batch_size": batch_size, "shuffle": shuffle if sampler is None else False,
                    "sampler": sampler, "drop_last": drop_last}
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(
        dataset,
        **batching,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        generator=generator,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
    )
