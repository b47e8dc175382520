"""The data side of training: checked datasets, seeded items, per-epoch batches, loaders.

An item's random augmentation is seeded by (seed, epoch, image index) just before the image is
transformed (:class:`SeededItems`), and each epoch's image order by (seed, epoch)
(:class:`EpochBatches`), so an epoch gives the same batches whichever process loads them, with
or without worker processes or the in-memory cache, and after a resume.
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from visionblocks import errors
from visionblocks.learn.image_cache import DecodedImages, fits_in_memory
from visionblocks.imagedir import ImageDirectory
from visionblocks.data.loading import ImageDataset, default_num_workers, make_loader
from visionblocks.learn.precision import pin_memory


def open_datasets(train_dir: Path, val_dir: Path | None) -> tuple[ImageDataset, ImageDataset | None]:
    """The training set in its stored mode and the validation set for inference, checked."""
    train_images = ImageDirectory.load(train_dir, "Training dataset")
    if not train_images.labeled:
        raise errors.NotLabeledDatasetError(
            f"The training dataset {train_dir} has no labels; training needs a class for every image.",
            hint="Convert a folder with one sub-folder per class (Convert to Image Directory).")
    if len(train_images.entries) < 2:
        raise errors.TooFewRowsInDatasetError(
            f"The training dataset {train_dir} holds {len(train_images.entries)} image(s); training needs at least 2.")
    val = None
    if val_dir is not None:
        val_images = ImageDirectory.load(val_dir, "Validation dataset")
        if not val_images.labeled:
            raise errors.NotLabeledDatasetError(
                f"The validation dataset {val_dir} has no labels; validation loss needs a class for every image.")
        if not val_images.entries:
            raise errors.TooFewRowsInDatasetError(f"The validation dataset {val_dir} holds no image.")
        if list(val_images.classes) != list(train_images.classes):
            raise errors.InvalidDatasetError(
                f"The validation dataset's classes {val_images.classes} differ from the training dataset's "
                f"classes {train_images.classes}.",
                hint="Split one labeled image directory into training and validation sets with Split Image Directory.")
        val = ImageDataset(val_images, mode="inference")
    return ImageDataset(train_images), val


def _mix(*numbers: int) -> int:
    """A 63-bit seed from several integers (so (seed, epoch, index) never collide)."""
    digest = hashlib.blake2b(",".join(map(str, numbers)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class SeededItems(Dataset):
    """Indexed by (epoch, index): seeds the random generators from (seed, epoch, index) before
    loading the image, so augmentation does not depend on which worker loads it or when."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        seed = _mix(self.seed, epoch, index)
        # The CPU generator alone: torch.manual_seed also seeds every accelerator (~150x slower).
        torch.default_generator.manual_seed(seed)
        random.seed(seed)
        return self.dataset[index]


class EpochBatches(Sampler):
    """Batches of (epoch, index) keys: a fresh permutation per epoch from (seed, epoch), this
    rank's share of it, and no final batch of a single image (batch norm cannot train on one).

    Every rank gets the same number of batches (DistributedDataParallel needs that): the
    permutation is padded by repeating its start, as DistributedSampler does.
    """

    def __init__(self, size: int, batch_size: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(_mix(self.seed, self.epoch, "order"))
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if self.world_size > 1:
            per_rank = math.ceil(self.size / self.world_size)
            order = (order * math.ceil(per_rank * self.world_size / self.size))[: per_rank * self.world_size]
            order = order[self.rank::self.world_size]
        return order

    def _batches(self) -> list[list[int]]:
        order = self._indices()
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches.pop()
        return batches

    def __iter__(self):
        for batch in self._batches():
            yield [(self.epoch, index) for index in batch]

    def __len__(self) -> int:
        return len(self._batches())


class Shard(Sampler):
    """Evaluation: this rank's every world_size-th image, no padding (totals are summed)."""

    def __init__(self, size: int, rank: int = 0, world_size: int = 1):
        self.indices = list(range(rank, size, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def keep_decoded(dataset: ImageDataset | None, enabled: bool = True):
    """The dataset with its images decoded once into memory when they fit (image_cache.py)."""
    if dataset is None or not enabled or not fits_in_memory(dataset):
        return dataset
    return DecodedImages(dataset)


def make_train_loader(dataset, batch_size: int, seed: int, device: torch.device, rank: int = 0,
                      world_size: int = 1, num_workers: int | None = None) -> DataLoader:
    """Batches of this rank's shard of each epoch; call ``loader.batch_sampler.set_epoch(e)``."""
    batches = EpochBatches(len(dataset), batch_size, seed, True, rank, world_size)
    workers = num_workers if num_workers is not None else loader_workers(dataset, batch_size, world_size, device)
    # Persistent workers are safe: the epoch travels with each key, not in worker state.
    return make_loader(SeededItems(dataset, seed), batch_size, seed=seed, num_workers=workers,
                       pin_memory=pin_memory(device), batch_sampler=batches, collate_fn=collate_images)


def make_eval_loader(dataset, batch_size: int, device: torch.device, rank: int = 0, world_size: int = 1,
                     num_workers: int | None = None) -> DataLoader:
    workers = num_workers if num_workers is not None else loader_workers(dataset, batch_size, world_size, device)
    return make_loader(dataset, batch_size, num_workers=workers, pin_memory=pin_memory(device),
                       sampler=Shard(len(dataset), rank, world_size), collate_fn=collate_images)


def loader_workers(dataset, batch_size: int, world_size: int, device: torch.device) -> int:
    """Loader processes: none on CPU when the pixels are already decoded (transforming them costs
    less than a worker competing with the model for the cores) or under torchrun on CPU (the
    processes already share the cores); else what visionblocks.data.loading picks for this machine."""
    if device.type == "cpu" and (isinstance(dataset, DecodedImages) or world_size > 1):
        return 0
    return default_num_workers(len(dataset), batch_size)


def collate_images(batch):
    """torch's default collation, with the designer's error when images differ in size."""
    try:
        return default_collate(batch)
    except RuntimeError as exc:
        sizes = sorted({tuple(item[0].shape) for item in batch})
        if len(sizes) < 2:
            raise
        raise errors.InvalidDatasetError(
            f"The images of one batch have different sizes ({sizes[0]} and {sizes[1]}); a batch needs one size.",
            hint="Add Resize and Center crop with Init Image Transformation and Apply Image Transformation.") from exc
