"""A small trained-model folder for the tests that score: a resnet18 with seeded random weights.

Scoring, the service, export and batch scoring do not care how good a model is, only that every
path answers the same for it, so the tests build one in a second instead of training it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from visionblocks.learn import models

CLASSES = [str(d) for d in range(10)]
# What a training directory made by Init Image Transformation would carry: a random op that
# scoring must drop, then the tensor steps.
TRAINING_OPS = [["Resize", 16], ["RandomRotation", 10], ["ToTensor", {}],
                ["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}]]


def save_random_model(folder: Path, ops: list | None = None, size: int = 16) -> Path:
    """Write a resnet18 ModelDirectory for ``size``×``size`` digits into ``folder`` (seed 0)."""
    torch.manual_seed(0)
    config = models.untrained_config("resnet18", pretrained=False)
    models.save_trained(folder, models.build_model(config, len(CLASSES)), {**config, "input_size": [3, size, size]},
                        CLASSES, TRAINING_OPS if ops is None else ops)
    return folder
