"""Draw the figures of the tutorial (docs/tutorial*.md) by running the tutorial's own steps.

    python scripts/make_tutorial_figures.py [--epochs 10] [--per-class N] [--out docs/assets/tutorial]

The tutorial's executed examples use 200 digits and 5 epochs so that the docs tests stay fast;
this script runs the same modules with the same parameters on all bundled digits but the ten that
step 8 holds out (or on ``--per-class`` of each) for more epochs, on the CPU with a fixed seed, and
draws:

- ``digits.png``: eight digits of each class as the dataset holds them;
- ``augmentation.png``: one training digit, then ten loads of it with the random rotation;
- ``training-curve[.<lang>].png``: loss and accuracy per epoch, from the model's ``metrics.csv``;
- ``confusion-matrix[.<lang>].png``: true against predicted digits of the scored test images;
- ``new-digits.png``: the ten held-out digits of step 8 with the class the model predicts.

Figures with words are drawn once per language (``name.png`` in English, ``name.es.png`` ...);
mkdocs-static-i18n serves each language its own file under the unsuffixed name the pages use.
The PNGs are committed, so ``mkdocs build --strict`` works from a clean checkout without
training anything; run this script again after changing the tutorial's steps.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "assets" / "tutorial"

# The tutorial's parameters (docs/tutorial.md): keep them in step with the page.
IMAGE_SIZE = 16
TRANSFORMATION = {"resize": False, "center_crop": False, "random_horizontal_flip": False,
                  "random_rotation": True, "random_rotation_degrees": 10}
TRAINING = {"batch_size": 16, "learning_rate": 0.05}
NEW_DIGITS = range(1787, 1797)  # step 8: the last ten images of the collection

LABELS = {
    "en": {"epoch": "epoch", "loss": "loss", "accuracy": "accuracy", "training": "training images",
           "validation": "test images", "true": "true digit", "predicted": "predicted digit"},
    "es": {"epoch": "época", "loss": "pérdida", "accuracy": "exactitud", "training": "imágenes de entrenamiento",
           "validation": "imágenes de prueba", "true": "dígito real", "predicted": "dígito predicho"},
    "pt": {"epoch": "época", "loss": "perda", "accuracy": "acurácia", "training": "imagens de treinamento",
           "validation": "imagens de teste", "true": "dígito real", "predicted": "dígito previsto"},
    "ru": {"epoch": "эпоха", "loss": "потери", "accuracy": "доля правильных ответов", "training": "обучающие изображения",
           "validation": "тестовые изображения", "true": "истинная цифра", "predicted": "предсказанная цифра"},
    "fr": {"epoch": "époque", "loss": "perte", "accuracy": "justesse", "training": "images d'entraînement",
           "validation": "images de test", "true": "vrai chiffre", "predicted": "chiffre prédit"},
}


def localized(name: str, lang: str) -> str:
    return f"{name}.png" if lang == "en" else f"{name}.{lang}.png"


def run_tutorial(work: Path, epochs: int, per_class: int | None) -> dict[str, Path]:
    """The tutorial's steps 1 to 8; returns the folders the figures are drawn from."""
    import visionblocks as vb
    from visionblocks.datasets import write_digits

    raw = write_digits(work / "digits", size=IMAGE_SIZE, per_class=per_class)
    new_raw = hold_out_new_digits(raw, work / "new")
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                           out=work / "convert").outputs["output_image_directory"]
    split = vb.run_module("split-image-directory", inputs={"input_image_directory": images},
                          params={"fraction": 0.8}, out=work / "split").outputs
    transformation = vb.run_module("init-image-transformation", params=TRANSFORMATION,
                                   out=work / "transformation").outputs["output_image_transformation"]

    def transform(part: Path, mode: str, name: str) -> Path:
        return vb.run_module("apply-image-transformation",
                             inputs={"input_image_transformation": transformation, "input_image_directory": part},
                             params={"mode": mode}, out=work / name).outputs["output_image_directory"]

    train_images = transform(split["output_image_directory1"], "For training", "train-images")
    test_images = transform(split["output_image_directory2"], "For inference", "test-images")
    untrained = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False},
                              out=work / "resnet").outputs["untrained_model"]
    model = vb.run_module("train-pytorch-model",
                          inputs={"untrained_model": untrained, "training_dataset": train_images,
                                  "validation_dataset": test_images},
                          params={**TRAINING, "epochs": epochs}, out=work / "train", device="cpu",
                          ).outputs["trained_model"]
    scored = vb.run_module("score-image-model", inputs={"trained_model": model, "dataset": test_images},
                           out=work / "score", device="cpu").outputs["scored_dataset"]
    new_images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": new_raw},
                               out=work / "convert-new").outputs["output_image_directory"]
    new_scored = vb.run_module("score-image-model", inputs={"trained_model": model, "dataset": new_images},
                               out=work / "score-new", device="cpu").outputs["scored_dataset"]
    return {"images": images, "train_images": train_images, "model": model, "scored": scored,
            "new_images": new_images, "new_scored": new_scored}


def hold_out_new_digits(raw: Path, new: Path) -> Path:
    """Step 8's "new" images: the last ten digits of the collection, as one unlabeled folder,
    written the way the tutorial writes them and taken out of the training data."""
    from PIL import Image

    from visionblocks.datasets import load_digits_arrays

    pixels, _ = load_digits_arrays()
    new.mkdir(parents=True, exist_ok=True)
    for index in NEW_DIGITS:
        image = Image.fromarray(pixels[index]).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        image.save(new / f"{index}.png")
        for written in raw.glob(f"*/{index:04d}.png"):
            written.unlink()
    return new


def draw_digits(images: Path, out: Path, per_row: int = 8) -> None:
    from matplotlib.figure import Figure

    from visionblocks.imagedir import ImageDirectory
    from visionblocks.images import open_rgb

    directory = ImageDirectory.load(images)
    figure = Figure(figsize=(per_row * 0.55, len(directory.classes) * 0.55), dpi=100)
    grid = figure.subplots(len(directory.classes), per_row)
    for row, name in enumerate(directory.classes):
        entries = [e for e in directory.entries if e.category == name][:per_row]
        for col, axes in enumerate(grid[row]):
            axes.axis("off")
            if col < len(entries):
                axes.imshow(open_rgb(directory.path_of(entries[col]))[0], interpolation="nearest")
    figure.subplots_adjust(0.01, 0.01, 0.99, 0.99, 0.08, 0.08)
    figure.savefig(out / "digits.png")


def draw_augmentation(train_images: Path, out: Path, draws: int = 10) -> None:
    import torch
    from matplotlib.figure import Figure

    from visionblocks.imagedir import ImageDirectory
    from visionblocks.images import open_rgb
    from visionblocks.data.loading import ImageDataset
    from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    dataset = ImageDataset(train_images)
    directory = ImageDirectory.load(train_images)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    figure = Figure(figsize=((draws + 1) * 0.8, 0.9), dpi=100)
    grid = figure.subplots(1, draws + 1)
    grid[0].imshow(open_rgb(directory.path_of(directory.entries[0]))[0], interpolation="nearest")
    for axes in grid[1:]:
        tensor = (dataset[0][0] * std + mean).clamp(0, 1)  # undo Normalize to show the pixels
        axes.imshow(tensor.permute(1, 2, 0).numpy(), interpolation="nearest")
    for axes in grid:
        axes.axis("off")
    figure.subplots_adjust(0.01, 0.02, 0.99, 0.98, 0.15, 0.0)
    figure.savefig(out / "augmentation.png")


def draw_training_curve(model: Path, out: Path) -> None:
    import pandas as pd
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    metrics = pd.read_csv(model / "metrics.csv")
    for lang, words in LABELS.items():
        figure = Figure(figsize=(9, 3.4), dpi=100)
        for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
            axes.plot(metrics["epoch"], metrics[f"train_{metric}"], marker="o", label=words["training"])
            axes.plot(metrics["epoch"], metrics[f"val_{metric}"], marker="o", label=words["validation"])
            if metric == "loss":
                axes.set_yscale("log")  # the first epochs' validation loss is orders of magnitude larger
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlabel(words["epoch"])
            axes.set_ylabel(words[metric])
            axes.grid(alpha=0.3)
            axes.legend()
        figure.tight_layout()
        figure.savefig(out / localized("training-curve", lang))


def draw_confusion_matrix(scored: Path, out: Path) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    from visionblocks.dataframe import read_dataframe
    from visionblocks.dataframe import LABEL_COLUMN, SCORED_LABELS

    frame = read_dataframe(scored)
    classes = sorted(set(frame[LABEL_COLUMN]) | set(frame[SCORED_LABELS]))
    index = {name: i for i, name in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for true, predicted in zip(frame[LABEL_COLUMN], frame[SCORED_LABELS]):
        counts[index[true], index[predicted]] += 1
    for lang, words in LABELS.items():
        figure = Figure(figsize=(4.8, 4.4), dpi=100)
        axes = figure.subplots()
        axes.imshow(counts, cmap="Blues")
        for (row, col), value in np.ndenumerate(counts):
            if value:
                color = "white" if value > counts.max() / 2 else "black"
                axes.text(col, row, str(value), ha="center", va="center", fontsize=8, color=color)
        axes.set_xticks(range(len(classes)), classes)
        axes.set_yticks(range(len(classes)), classes)
        axes.set_xlabel(words["predicted"])
        axes.set_ylabel(words["true"])
        figure.tight_layout()
        figure.savefig(out / localized("confusion-matrix", lang))


def draw_new_digits(new_images: Path, new_scored: Path, out: Path) -> None:
    from matplotlib.figure import Figure

    from visionblocks.dataframe import read_dataframe
    from visionblocks.imagedir import ImageDirectory
    from visionblocks.images import open_rgb
    from visionblocks.dataframe import IDENTIFIER_COLUMN, SCORED_LABELS

    directory = ImageDirectory.load(new_images)
    predicted = dict(zip(read_dataframe(new_scored)[IDENTIFIER_COLUMN], read_dataframe(new_scored)[SCORED_LABELS]))
    figure = Figure(figsize=(len(directory.entries) * 0.8, 1.1), dpi=100)
    for axes, entry in zip(figure.subplots(1, len(directory.entries)), directory.entries):
        axes.imshow(open_rgb(directory.path_of(entry))[0], interpolation="nearest")
        axes.set_title(str(predicted[entry.id]), fontsize=12)
        axes.axis("off")
    figure.subplots_adjust(0.01, 0.02, 0.99, 0.78, 0.15, 0.0)
    figure.savefig(out / "new-digits.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=None, help="digits per class (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    os.environ.setdefault("VISIONBLOCKS_QUIET", "1")
    import matplotlib

    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tutorial-figures-") as tmp:
        runs = run_tutorial(Path(tmp), args.epochs, args.per_class)
        draw_digits(runs["images"], args.out)
        draw_augmentation(runs["train_images"], args.out)
        draw_training_curve(runs["model"], args.out)
        draw_confusion_matrix(runs["scored"], args.out)
        draw_new_digits(runs["new_images"], runs["new_scored"], args.out)
    for path in sorted(args.out.glob("*.png")):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
