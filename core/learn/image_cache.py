"""Decode a training set once and keep the pixels in memory.

Training reads every image once per epoch. Decoding a PNG or JPEG costs far more than the
transformation after it when images are small, so when the decoded images fit in a memory budget
they are decoded once, by a thread pool before training starts, and kept as uint8 tensors. Each
epoch then only runs the stored transformation, random augmentation included, on the kept
pixels — in the training process itself, without worker processes competing with the model for
the cores.

The kept pixels are exactly what :meth:`visionblocks.data.loading.ImageDataset.decode` returns
(the one decoder, :func:`visionblocks.images.open_rgb`), so an item is identical with or without
the cache.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import pil_to_tensor

from visionblocks.data.loading import ImageDataset
from visionblocks.device import usable_cores

# At most this much memory for decoded pixels, and at most this share of the memory available.
MAX_BYTES = 2 << 30
MAX_SHARE_OF_AVAILABLE = 0.25


def decoded_bytes(dataset: ImageDataset) -> int | None:
    """Bytes of all images decoded to RGB, from the sizes the image list records (None if any is missing)."""
    total = 0
    for entry in dataset.directory.entries:
        if not entry.width or not entry.height:
            return None
        total += 3 * entry.width * entry.height
    return total


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def fits_in_memory(dataset: ImageDataset) -> bool:
    size = decoded_bytes(dataset)
    if size is None:
        return False
    budget = MAX_BYTES
    available = available_memory()
    if available is not None:
        budget = min(budget, int(available * MAX_SHARE_OF_AVAILABLE))
    return size <= budget


class DecodedImages(Dataset):
    """``dataset`` with every file decoded up front; items are the same ``(tensor, target, index)``."""

    def __init__(self, dataset: ImageDataset, threads: int | None = None):
        self.dataset = dataset
        self.transform = dataset.transform
        self.targets = dataset.targets
        self.classes = dataset.classes
        self.directory = dataset.directory
        # PIL releases the GIL while decoding, so threads decode in parallel.
        with ThreadPoolExecutor(max_workers=threads or usable_cores()) as pool:
            self.images: list[torch.Tensor] = list(pool.map(self._decode, range(len(dataset))))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.targets[index], index

    def _decode(self, index: int) -> torch.Tensor:
        """uint8 C×H×W pixels of image ``index``, as the uncached dataset decodes them."""
        return pil_to_tensor(self.dataset.decode(index))

