"""One training epoch: visionblocks' Train PyTorch Model engine vs a plain torchvision loop.

Both sides train the same model (resnet18 from random weights, 10 classes) on the same images
(the bundled digits written as PNG files, all 1,797 of them by default) with the same batch size,
SGD with momentum, and the same per-image transformation (ToTensor, Normalize):

- plain: ``torchvision.datasets.ImageFolder`` (PIL decoding every epoch) + ``DataLoader``
  (shuffled; as many workers as visionblocks would pick) + the usual fp32 loop;
- visionblocks: ``visionblocks.learn.train.train`` for one epoch on the same images converted by
  Convert to Image Directory, with ``precision`` auto and fp32. Its time includes decoding the
  images into memory before the epoch (``prepare_seconds``), so both sides pay for decoding once.

    .venv/bin/python benchmarks/bench_train.py                 # digits at 32x32, batch 32
    .venv/bin/python benchmarks/bench_train.py --size 64 --repeat 3
    .venv/bin/python benchmarks/bench_train.py --photos 1000      # bench_score's photos at 224x224

With ``--photos N`` both sides train on the N synthesized JPEG photos of bench_score.py (about
500x375, kept in ``.cache/bench_score``) resized to 224x224 by the transformation (torchvision's
Resize((224, 224)) on the plain side; Apply Image Transformation on ours, which bakes the resize
into smaller files once, before the clock starts, as the module does in a pipeline).

The sides take turns (plain, fp32, auto, plain, ...) after a warm-up epoch, and each side's best
epoch is reported: the machine is shared, so the best epoch is the least disturbed one. The last
lines print images/s of each side and the ratios visionblocks / plain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms as classic

import visionblocks as vb
from visionblocks.learn import models
from visionblocks.datasets import write_digits
from visionblocks.data.loading import default_num_workers
from visionblocks.learn.precision import resolve_training_precision
from visionblocks.learn.train import TrainConfig, train

MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def plain_epoch(raw: Path, batch_size: int, workers: int, lr: float, seed: int, size: int | None = None) -> float:
    """images/s of one epoch of the textbook loop (the DataLoader's start included); ``size``:
    resize every image to size x size first."""
    torch.manual_seed(seed)
    steps = ([classic.Resize((size, size))] if size else []) + [classic.ToTensor(), classic.Normalize(MEAN, STD)]
    dataset = torchvision.datasets.ImageFolder(raw, classic.Compose(steps))
    model = torchvision.models.resnet18(num_classes=len(dataset.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    model.train()
    start, seen = time.perf_counter(), 0
    for images, targets in loader:
        loss = criterion(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(targets)
    return seen / (time.perf_counter() - start)


def visionblocks_epoch(image_dir: Path, untrained: dict, batch_size: int, lr: float, seed: int, precision: str,
                       out: Path, device="cpu") -> float:
    """images/s of one epoch of the engine, decoding into memory included."""
    cfg = TrainConfig(epochs=1, batch_size=batch_size, learning_rate=lr, seed=seed, precision=precision,
                      print_frequency=10**9)
    result = train(cfg, untrained, image_dir, None, out, device)
    row = result.history[0]
    seen = row["images_per_second"] * row["seconds"]
    return seen / (row["seconds"] + result.prepare_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32, help="image edge in pixels (default 32)")
    parser.add_argument("--per-class", type=int, default=None, help="images per class (default: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="measured epochs per side (default 2)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--photos", type=int, default=None,
                        help="train on this many of bench_score.py's synthesized photos at 224x224 instead of digits")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    resize = None
    if args.photos:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_score import write_photos

        raw, resize, args.size = write_photos(Path(".cache/bench_score") / f"photos-{args.photos}", args.photos), 224, 224
    else:
        raw = write_digits(work / "raw", size=args.size, per_class=args.per_class)
    started = time.perf_counter()
    converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=work / "convert")
    image_dir = converted.outputs["output_image_directory"]
    applied = vb.run_module("apply-image-transformation", inputs={
        "input_image_directory": image_dir,
        "input_image_transformation": _transformation(work, resize)}, params={"mode": "For training"},
        out=work / "apply")
    image_dir = applied.outputs["output_image_directory"]
    print(f"convert + apply transformation (once per data set): {time.perf_counter() - started:.1f} s")

    count = sum(1 for p in raw.rglob("*") if p.suffix in (".png", ".jpg"))
    workers = default_num_workers(count, args.batch_size)
    untrained = models.untrained_config("resnet18", pretrained=False)
    auto = resolve_training_precision("auto", "cpu", args.size * args.size)
    print(f"{count} {'photos resized to' if resize else 'images'} {args.size}x{args.size}, resnet18, batch {args.batch_size}, {torch.get_num_threads()} threads; "
          f"plain loader workers: {workers}; precision auto = {auto.name} ({auto.reason})")

    sides = {
        "plain torchvision (fp32)": lambda: plain_epoch(raw, args.batch_size, workers, args.lr, 1, resize),
        "visionblocks fp32": lambda: visionblocks_epoch(image_dir, untrained, args.batch_size, args.lr, 1, "fp32",
                                                        work / "out-fp32"),
        "visionblocks auto": lambda: visionblocks_epoch(image_dir, untrained, args.batch_size, args.lr, 1, "auto",
                                                        work / "out-auto"),
    }
    for run in sides.values():  # warm-up: page cache, oneDNN kernels, imports
        run()
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for turn in range(args.repeat):
        for name, run in sides.items():
            rates[name].append(run())
            print(f"  turn {turn + 1} {name:<26} {rates[name][-1]:8.1f} images/s", flush=True)

    best = {name: max(values) for name, values in rates.items()}
    base = best["plain torchvision (fp32)"]
    print()
    for name, values in rates.items():
        print(f"{name:<26} best {best[name]:8.1f} images/s   median {statistics.median(values):8.1f}")
    print(f"ratio fp32 / plain: {best['visionblocks fp32'] / base:.2f}x   (target 1.4x)")
    print(f"ratio auto / plain: {best['visionblocks auto'] / base:.2f}x   (target 2.5x)")


def _transformation(work: Path, size: int | None = None) -> Path:
    """A TransformationDirectory with the plain side's steps: [Resize,] ToTensor, Normalize."""
    from visionblocks.data.transforms import write_transformation_directory

    folder = work / "transformation"
    folder.mkdir()
    ops = ([["Resize", {"size": [size, size]}]] if size else []) + \
        [["ToTensor", {}], ["Normalize", {"mean": MEAN, "std": STD}]]
    write_transformation_directory(folder, ops)
    return folder


if __name__ == "__main__":
    main()
