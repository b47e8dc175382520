"""Training and scoring on a GPU: visionblocks against the plain torchvision loops, side by side.

The same synthesized photos as bench_score.py (JPEGs of about 500x375 in two class folders),
resized to 224x224, and the same network (``--arch``, random weights) on the same device:

- training, one epoch per turn: the textbook loop (``ImageFolder`` + ``DataLoader`` with pinned
  memory and the workers visionblocks would pick, fp32, NCHW) against ``visionblocks.learn.train``
  in ``fp32`` and ``auto`` (bf16 autocast where the GPU runs it natively, channels_last, cuDNN
  autotuning) on the images converted once by Convert to Image Directory and Apply Image
  Transformation (decoding into memory included in its time);
- scoring: the textbook ``torch.no_grad()`` loop in fp32 against the whole Score Image Model
  module (model load, scoring, Parquet table) in ``fp32`` and ``auto``.

    python benchmarks/bench_gpu.py                          # cuda, 2,000 photos, resnet50
    python benchmarks/bench_gpu.py --device cpu --images 64 --arch resnet18   # a smoke run anywhere

Sides take turns after a warm-up pass; each side's best turn is reported (the least disturbed one),
then the ratios visionblocks / plain. ``--json`` also writes the numbers to a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms as classic

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the shared photo set, timed engine epoch and module pass, and turns
from bench_score import best_turns, visionblocks_pass, write_photos  # noqa: E402
from bench_train import visionblocks_epoch  # noqa: E402

import visionblocks as vb  # noqa: E402
from visionblocks.data.loading import default_num_workers  # noqa: E402
from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD, write_transformation_directory  # noqa: E402
from visionblocks.device import resolve_device  # noqa: E402
from visionblocks.learn import models  # noqa: E402

SIZE = 224


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _plain_loader(photos: Path, batch_size: int, workers: int, shuffle: bool) -> DataLoader:
    steps = classic.Compose([classic.Resize((SIZE, SIZE)), classic.ToTensor(),
                             classic.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    dataset = torchvision.datasets.ImageFolder(photos, steps)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, pin_memory=True,
                      persistent_workers=False)


def plain_train_epoch(photos: Path, arch: str, batch_size: int, workers: int, device: torch.device) -> float:
    """images/s of one fp32 epoch of the textbook loop (the DataLoader's start included)."""
    torch.manual_seed(1)
    loader = _plain_loader(photos, batch_size, workers, shuffle=True)
    model = getattr(torchvision.models, arch)(num_classes=len(loader.dataset.classes)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()
    _sync(device)
    start, seen = time.perf_counter(), 0
    for images, targets in loader:
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        loss = criterion(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(targets)
    _sync(device)
    return seen / (time.perf_counter() - start)


def visionblocks_train_epoch(image_dir: Path, arch: str, batch_size: int, precision: str, out: Path,
                             device: torch.device) -> float:
    """images/s of one epoch of the engine (bench_train's, lr 0.01, seed 1), decoding into memory included."""
    return visionblocks_epoch(image_dir, models.untrained_config(arch, pretrained=False), batch_size, 0.01, 1,
                              precision, out, device)


def plain_score_pass(photos: Path, model: torch.nn.Module, batch_size: int, workers: int,
                     device: torch.device) -> float:
    loader = _plain_loader(photos, batch_size, workers, shuffle=False)
    _sync(device)
    start, seen = time.perf_counter(), 0
    with torch.no_grad():
        for images, _ in loader:
            model(images.to(device, non_blocking=True)).softmax(dim=1).cpu()
            seen += len(images)
    _sync(device)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path(".cache/bench_score"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    device = resolve_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    photos = write_photos(args.data / f"photos-{args.images}", args.images)
    converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": photos}, out=work / "convert")
    transformation = work / "transformation"
    transformation.mkdir()
    write_transformation_directory(transformation, [["Resize", {"size": [SIZE, SIZE]}], ["ToTensor", {}],
                                                    ["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}]])
    applied = vb.run_module("apply-image-transformation", params={"mode": "For training"}, out=work / "apply",
                            inputs={"input_image_directory": converted.outputs["output_image_directory"],
                                    "input_image_transformation": transformation})
    image_dir = applied.outputs["output_image_directory"]
    workers = default_num_workers(args.images, args.batch_size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{args.images} photos at {SIZE}x{SIZE}, {args.arch}, batch {args.batch_size}, on {name}; "
          f"plain loader workers: {workers}")

    print("training, one epoch per turn:")
    train_rates = best_turns({
        "plain torchvision (fp32)": lambda: plain_train_epoch(photos, args.arch, args.batch_size, workers, device),
        "visionblocks fp32": lambda: visionblocks_train_epoch(image_dir, args.arch, args.batch_size, "fp32",
                                                              work / "train-fp32", device),
        "visionblocks auto": lambda: visionblocks_train_epoch(image_dir, args.arch, args.batch_size, "auto",
                                                              work / "train-auto", device),
    }, args.repeat)

    model_dir = work / "train-fp32" / "model"
    visionblocks_train_epoch(image_dir, args.arch, args.batch_size, "fp32", model_dir, device)
    plain_model = models.load_trained(model_dir).model.to(device).eval()
    print("scoring, one pass over the photos per turn:")
    score_rates = best_turns({
        "plain torchvision (fp32)": lambda: plain_score_pass(photos, plain_model, args.batch_size, workers, device),
        "visionblocks fp32": lambda: visionblocks_pass(model_dir, image_dir, args.batch_size, "fp32",
                                                       work / "score-fp32", args.images, device=str(device)),
        "visionblocks auto": lambda: visionblocks_pass(model_dir, image_dir, args.batch_size, "auto",
                                                       work / "score-auto", args.images, device=str(device)),
    }, args.repeat)

    print()
    for title, rates in (("training", train_rates), ("scoring", score_rates)):
        base = rates["plain torchvision (fp32)"]
        for side in ("visionblocks fp32", "visionblocks auto"):
            print(f"{title} ratio {side} / plain: {rates[side] / base:.2f}x "
                  f"({rates[side]:.0f} vs {base:.0f} images/s)")
    if args.json:
        args.json.write_text(json.dumps({"device": name, "arch": args.arch, "images": args.images,
                                         "training": train_rates, "scoring": score_rates}, indent=2))


if __name__ == "__main__":
    main()
