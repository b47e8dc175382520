"""Decode a training set once and keep the pixels in memory.

Training reads every image once per epoch. Decoding a PNG or JPEG costs far more than the
transformation after it when images are small (a 32×32 PNG: ~0.4 ms to decode, ~0.03 ms to turn
into a normalized tensor), so when the decoded images fit in a memory budget they are decoded
once, by a thread pool before training starts, and kept as uint8 tensors. Each epoch then only
runs the stored transformation, random augmentation included, on the kept pixels — in the
training process itself, without worker processes competing with the model for the cores.

The kept pixels are exactly what :func:`visionblocks.data.loading.read_image` returns, so an item is
identical with or without the cache.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2.functional import pil_to_tensor

from visionblocks import errors
from visionblocks.data.loading import ImageDataset, read_image, usable_cores

# torchvision 0.29 warns on every decode that its decoders will move to TorchCodec (not a
# dependency); the pin to 0.29 keeps them. One narrow filter (catch_warnings is not thread-safe,
# and images are decoded in threads).
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)

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
        directory = dataset.directory
        paths = [directory.path_of(entry) for entry in directory.entries]
        # PIL releases the GIL while decoding, so threads decode in parallel.
        with ThreadPoolExecutor(max_workers=threads or usable_cores()) as pool:
            self.images = list(pool.map(lambda path: _decode(path, directory.plain), paths))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.targets[index], index


def _decode(path: os.PathLike, plain: bool) -> torch.Tensor:
    try:
        if plain and str(path).lower().endswith(".png"):
            # 8-bit RGB or gray PNG (a plain directory's promise): torchvision's libpng decoder gives
            # the same pixels as PIL in half the time. JPEGs stay with PIL, whose libjpeg may round
            # differently from torchvision's.
            return decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
        return pil_to_tensor(read_image(path, plain))
    except (OSError, ValueError, RuntimeError) as exc:
        raise errors.CouldNotOpenFileError(f"Cannot read image {path}: {exc}") from exc
