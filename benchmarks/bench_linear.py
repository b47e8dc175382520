"""Fine-tune or train a linear classifier: wall time and held-out accuracy, side by side.

On the same images, in one run:

- fine-tune: Train PyTorch Model for ``--epochs`` epochs (SGD, warm-up 1 epoch, ``--lr``);
- linear: Train Linear Image Classifier (logistic regression and linear SVM) on the frozen
  network's penultimate features, calibrated by cross-validation (no validation set on either
  side, so fine-tuning runs every epoch and keeps the last weights).

Both start from the same untrained resnet18 and score the same held-out images (a stratified 20 %)
with Score Image Model; the table reports each training module's wall time (building the network,
reading the images, features or epochs, writing the model), held-out accuracy and log loss.

Data, nothing downloaded:

- ``digits``: the bundled handwritten digits (1,797 images, 8x8 upscaled to ``--size``);
- ``shapes``: synthesized photos (bench_score.py's photo-like backgrounds, 320x240 JPEG) with one
  colored shape (disc, square, triangle, cross) of random size, color and place each, resized to
  ``--photo-size`` pixels.

The network starts from random weights unless ``--pretrained`` is given (then its ImageNet weights
must be in the torch hub cache or downloadable): random-weight features are the worst case for the
linear classifier, whose strength is reusing pretrained features.

    .venv/bin/python benchmarks/bench_linear.py
    .venv/bin/python benchmarks/bench_linear.py --data digits --epochs 4
    .venv/bin/python benchmarks/bench_linear.py --data shapes --photos 800 --pretrained
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import visionblocks as vb
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits

SHAPES = ("cross", "disc", "square", "triangle")


# -- data -----------------------------------------------------------------------------------------
def draw_shape(image: Image.Image, shape: str, rng: np.random.Generator) -> None:
    width, height = image.size
    side = int(min(width, height) * rng.uniform(0.3, 0.6))
    left, top = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
    box = (left, top, left + side, top + side)
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    draw = ImageDraw.Draw(image)
    if shape == "disc":
        draw.ellipse(box, fill=color)
    elif shape == "square":
        draw.rectangle(box, fill=color)
    elif shape == "triangle":
        draw.polygon([(left, top + side), (left + side, top + side), (left + side // 2, top)], fill=color)
    else:
        bar = side // 3
        draw.rectangle((left + bar, top, left + 2 * bar, top + side), fill=color)
        draw.rectangle((left, top + bar, left + side, top + 2 * bar), fill=color)


def write_shapes(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` photo-like JPEGs in one folder per shape."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_score import synthetic_photo

    rng = np.random.default_rng(seed)
    for index in range(count):
        shape = SHAPES[index % len(SHAPES)]
        image = synthetic_photo(rng, 320, 240)
        draw_shape(image, shape, rng)
        (folder / shape).mkdir(parents=True, exist_ok=True)
        image.save(folder / shape / f"{index:05d}.jpg", quality=90)
    return folder


def prepare(work: Path, raw: Path, size: int | None) -> dict:
    """Convert, split 80/20 (stratified) and attach one transformation (resize + crop for photos,
    ImageNet normalization) to both parts, For inference: no augmentation on either side."""
    converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=work / "convert")
    split = vb.run_module("split-image-directory", params={"fraction": 0.8},
                          inputs={"input_image_directory": converted.outputs["output_image_directory"]},
                          out=work / "split")
    resize = {"resize": True, "size": size, "center_crop": True, "crop_size": size} if size else \
        {"resize": False, "center_crop": False}
    init = vb.run_module("init-image-transformation", params={**resize, "random_horizontal_flip": False},
                         out=work / "transformation")
    parts = {}
    for name, port in (("train", "output_image_directory1"), ("test", "output_image_directory2")):
        applied = vb.run_module("apply-image-transformation", params={"mode": "For inference"}, inputs={
            "input_image_transformation": init.outputs["output_image_transformation"],
            "input_image_directory": split.outputs[port]}, out=work / f"apply-{name}")
        parts[name] = applied.outputs["output_image_directory"]
    return parts


# -- the two sides --------------------------------------------------------------------------------
def held_out(work: Path, model: Path, test: Path, name: str) -> dict:
    scored = vb.run_module("score-image-model", inputs={"trained_model": model, "dataset": test},
                           out=work / f"score-{name}")
    frame = read_dataframe(scored.outputs["scored_dataset"])
    columns = [c for c in frame.columns if c.startswith("Scored Probabilities_")]
    classes = [c.removeprefix("Scored Probabilities_") for c in columns]
    probabilities = frame[columns].to_numpy()
    truth = np.array([classes.index(label) for label in frame["label"]])
    picked = np.clip(probabilities[np.arange(len(truth)), truth], 1e-15, None)
    return {"accuracy": float((frame["Scored Labels"] == frame["label"]).mean()),
            "log_loss": float(-np.log(picked).mean()), "test_images": len(frame)}


def run_side(work: Path, name: str, module: str, params: dict, untrained: Path, parts: dict) -> dict:
    started = time.perf_counter()
    trained = vb.run_module(module, inputs={"untrained_model": untrained, "training_dataset": parts["train"]},
                            params=params, out=work / name)
    seconds = time.perf_counter() - started
    model = trained.outputs["trained_model"]
    row = {"side": name, "train_seconds": seconds, **held_out(work, model, parts["test"], name)}
    metrics = read_csv_row(model / "metrics.csv") if module == "train-linear-image-classifier" else {}
    if metrics:
        row.update(feature_seconds=float(metrics["feature_seconds"]), fit_seconds=float(metrics["fit_seconds"]),
                   temperature=float(metrics["temperature"]))
    return row


def read_csv_row(path: Path) -> dict:
    import csv

    with open(path, encoding="utf-8") as fh:
        return next(csv.DictReader(fh))


def bench(data: str, args, work: Path) -> list[dict]:
    raw = work / "raw"
    if data == "digits":
        write_digits(raw, size=args.size)
        size = None
    else:
        write_shapes(raw, args.photos)
        size = args.photo_size
    parts = prepare(work, raw, size)
    resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": args.pretrained},
                           out=work / "resnet")
    untrained = resnet.outputs["untrained_model"]
    sides = [
        ("fine-tune", "train-pytorch-model",
         {"epochs": args.epochs, "batch_size": 32, "learning_rate": args.lr, "warmup_step_number": 1}),
        ("linear logistic_regression", "train-linear-image-classifier", {"classifier": "logistic_regression"}),
        ("linear linear_svm", "train-linear-image-classifier", {"classifier": "linear_svm"}),
    ]
    rows = []
    for name, module, params in sides:
        row = {"data": data, **run_side(work, name.replace(" ", "-"), module, params, untrained, parts)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "shapes", "both"), default="both")
    parser.add_argument("--size", type=int, default=32, help="digits edge in pixels (default 32)")
    parser.add_argument("--photos", type=int, default=800, help="synthesized photos (default 800)")
    parser.add_argument("--photo-size", type=int, default=64, help="photo edge after resize + crop (default 64)")
    parser.add_argument("--epochs", type=int, default=8, help="fine-tuning epochs (default 8)")
    parser.add_argument("--lr", type=float, default=0.02, help="fine-tuning learning rate (default 0.02)")
    parser.add_argument("--pretrained", action="store_true", help="start from ImageNet weights")
    args = parser.parse_args()

    os.environ.setdefault("VISIONBLOCKS_QUIET", "1")
    rows = []
    for data in (("digits", "shapes") if args.data == "both" else (args.data,)):
        with tempfile.TemporaryDirectory(prefix=f"bench-linear-{data}-") as work:
            rows += bench(data, args, Path(work))
    print(f"\nresnet18 ({'ImageNet' if args.pretrained else 'random'} weights), {args.epochs} fine-tuning epochs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'data':<8}{'side':<29}{'train s':>9}{'features s':>12}{'fit s':>8}{'accuracy':>10}{'log loss':>10}"
          f"{'time / fine-tune':>18}")
    for row in rows:
        base = next(r for r in rows if r["data"] == row["data"] and r["side"] == "fine-tune")
        extra = (f"{row['feature_seconds']:>12.1f}{row['fit_seconds']:>8.1f}" if "fit_seconds" in row
                 else f"{'':>12}{'':>8}")
        print(f"{row['data']:<8}{row['side']:<29}{row['train_seconds']:>9.1f}{extra}{row['accuracy']:>10.3f}"
              f"{row['log_loss']:>10.3f}{row['train_seconds'] / base['train_seconds']:>18.3f}")


if __name__ == "__main__":
    main()
