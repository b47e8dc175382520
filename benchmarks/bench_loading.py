"""Loading images to tensors: visionblocks' applied transformation vs torchvision's ImageFolder.

Both sides read the same folder of small images (written here, in class folders) and run the
same transformation — by default Init Image Transformation's defaults: Resize 256, Center crop
224, Random horizontal flip, To Tensor, Normalize — through a DataLoader with the same batch size
and worker count. visionblocks goes through Convert to Image Directory and Apply Image
Transformation For training first (timed separately: they run once, loading runs every epoch).

    .venv/bin/python benchmarks/bench_loading.py                       # 2,000 64×64 JPEGs
    .venv/bin/python benchmarks/bench_loading.py --size 32 --format png --ops digits

The figure printed last is ImageFolder's time divided by visionblocks' (above 1: visionblocks
is faster). Timings on a shared machine are noisy: after a warm-up epoch each, the two sides take
turns for ``--repeat`` epochs and each side's best epoch is used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision import transforms as classic

import visionblocks as vb
from visionblocks.data.loading import ImageDataset, make_loader
from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD

OPS = {
    # Init Image Transformation's defaults.
    "default": {},
    # What a digits pipeline uses: 32-pixel images, light augmentation.
    "digits": {"size": 32, "crop_size": 28, "random_horizontal_flip": False, "random_rotation": True,
               "random_rotation_degrees": 10},
}


def classic_equivalent(params: dict) -> classic.Compose:
    """The torchvision classic transforms matching Init Image Transformation with ``params``."""
    size, crop = params.get("size", 256), params.get("crop_size", 224)
    steps = [classic.Resize(size), classic.CenterCrop(crop)]
    if params.get("random_horizontal_flip", True):
        steps.append(classic.RandomHorizontalFlip())
    if params.get("random_rotation"):
        steps.append(classic.RandomRotation(params["random_rotation_degrees"]))
    steps += [classic.ToTensor(), classic.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return classic.Compose(steps)


def write_images(root: Path, count: int, size: int, fmt: str, classes: int = 10) -> Path:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 180, size)
    for i in range(count):
        folder = root / f"class_{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.random((size, size, 3)) * 60 + ramp[None, :, None] + (i % classes) * 4
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{i:05d}.{fmt}")
    return root


def epoch_seconds(loader) -> tuple[float, int]:
    """Time of one full pass, and the number of images seen."""
    start = time.perf_counter()
    seen = 0
    for batch in loader:
        seen += len(batch[0])
    return time.perf_counter() - start, seen


def best_of(loaders: list, repeat: int) -> list[tuple[float, int]]:
    """Each loader's best pass over ``repeat`` rounds, taking turns so that a change in the
    machine's load hits both sides alike. A first pass each warms caches and starts workers."""
    for loader in loaders:
        epoch_seconds(loader)
    best = [(float("inf"), 0)] * len(loaders)
    for _ in range(repeat):
        for i, loader in enumerate(loaders):
            seconds, seen = epoch_seconds(loader)
            best[i] = min(best[i], (seconds, seen))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64, help="edge of the written images in pixels")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg")
    parser.add_argument("--ops", choices=tuple(OPS), default="default")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeat", type=int, default=3, help="epochs per side; the best is kept")
    args = parser.parse_args()
    os.environ.setdefault("VISIONBLOCKS_QUIET", "1")
    params = OPS[args.ops]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = write_images(tmp / "raw", args.images, args.size, args.format)
        print(f"{args.images} images, {args.size}x{args.size} {args.format}, ops={args.ops}, "
              f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")

        start = time.perf_counter()
        converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=tmp / "convert")
        convert_s = time.perf_counter() - start
        init = vb.run_module("init-image-transformation", params=params, out=tmp / "init")
        start = time.perf_counter()
        applied = vb.run_module("apply-image-transformation", params={"mode": "For training"}, out=tmp / "apply",
                                inputs={"input_image_transformation": init.outputs["output_image_transformation"],
                                        "input_image_directory": converted.outputs["output_image_directory"]})
        apply_s = time.perf_counter() - start
        ours = ImageDataset(applied.outputs["output_image_directory"])
        print(f"one-time steps: Convert {convert_s:.2f} s, Apply {apply_s:.2f} s "
              f"({ours.directory.materialized} op(s) baked into the files)")

        reference = datasets.ImageFolder(str(raw), transform=classic_equivalent(params))
        assert len(reference) == len(ours) and reference.classes == ours.classes
        for workers in args.workers:
            theirs_loader = DataLoader(reference, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                                       persistent_workers=workers > 0)
            ours_loader = make_loader(ours, args.batch_size, shuffle=True, num_workers=workers)
            (theirs_s, n), (ours_s, m) = best_of([theirs_loader, ours_loader], args.repeat)
            assert n == m == len(ours)
            print(f"workers={workers}: ImageFolder {theirs_s:.2f} s ({n / theirs_s:,.0f} images/s), "
                  f"visionblocks {ours_s:.2f} s ({m / ours_s:,.0f} images/s), "
                  f"ratio ImageFolder/visionblocks = {theirs_s / ours_s:.2f}")


if __name__ == "__main__":
    main()
