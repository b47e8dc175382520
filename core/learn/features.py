"""The penultimate features of a frozen network: what a linear classifier learns from.

A ResNet or DenseNet ends in one Linear layer (its architecture's registered ``head``: ``fc`` or
``classifier``) on top of a pooled feature vector (512 values for resnet18, 2048 for resnet50,
1024 for densenet121). With the layer replaced by an identity, the network returns that vector.
Features are computed once per image, with the network in eval mode (batch norms use their
running statistics, as at scoring), under ``torch.inference_mode``, in the run's precision, and
with the same inference-time speed-ups as Score Image Model
(:func:`visionblocks.learn.score.inference_model`: batch norms folded into the convolutions,
channels_last). So the features a classifier is fitted on are the ones the saved
model computes when it scores.

Images go through their directory's transformation in inference mode: the random augmentation
steps are left out, because each image is seen once, exactly as scoring will see it.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from visionblocks import errors
from visionblocks.data.loading import ImageDataset, make_loader
from visionblocks.learn import models, precision as prec
from visionblocks.learn.score import inference_model
from visionblocks.progress import Progress

# Where torchvision's classification networks keep their last (Linear) layer: where it is looked
# for when the architecture registers no ``head``.
HEAD_ATTRIBUTES = ("fc", "classifier")


def head_path(model: torch.nn.Module, architecture: str | None = None) -> str:
    """The dotted path of ``model``'s final Linear layer: the ``head`` its registered architecture
    gives (``classifier.3`` for MobileNet V3), else ``fc`` (ResNet) or ``classifier`` (DenseNet);
    InvalidModelDirectory (0159) for a network without one."""
    registered = models.architecture_spec(architecture).head if architecture else None
    paths = (registered,) if registered else HEAD_ATTRIBUTES
    for path in paths:
        with contextlib.suppress(AttributeError):
            if isinstance(model.get_submodule(path), torch.nn.Linear):
                return path
    raise errors.InvalidModelDirectoryError(
        f"{type(model).__name__} has no final Linear layer at {' or '.join(paths)}; a linear "
        "classifier cannot be placed on its features.")


def head_of(model: torch.nn.Module, architecture: str | None = None) -> torch.nn.Linear:
    return model.get_submodule(head_path(model, architecture))


def backbone(model: torch.nn.Module, architecture: str | None = None) -> torch.nn.Module:
    """A copy of ``model`` that returns its penultimate features (the head replaced by an identity),
    in eval mode and prepared for inference. ``model`` itself is left as it was."""
    headless = copy.deepcopy(model)
    headless.set_submodule(head_path(headless, architecture), torch.nn.Identity())
    return inference_model(headless.eval(), inplace=True)  # headless is already this function's own copy


@dataclass
class Features:
    """One row of features per image, in the dataset's order, with the class ids (-1: unlabeled)."""

    values: np.ndarray  # float32, images x features
    targets: np.ndarray  # int64
    seconds: float

    @property
    def images_per_second(self) -> float:
        return len(self.values) / self.seconds if self.seconds > 0 else 0.0


def extract(network: torch.nn.Module, dataset: ImageDataset, device: torch.device, precision: prec.Precision,
            batch_size: int, progress: Progress | None = None, what: str = "features",
            num_workers: int | None = None) -> Features:
    """Run every image of ``dataset`` once through ``network`` (a :func:`backbone`)."""
    progress = progress or Progress(quiet=True)
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers,
                         pin_memory=prec.pin_memory(device))
    rows: list[np.ndarray] = []
    start = time.perf_counter()
    with torch.inference_mode(), prec.cuda_speedups(device), progress.bar(len(dataset), what) as bar:
        for images, _targets, _indices in loader:
            images = prec.to_device(images, device, torch.channels_last)
            with prec.autocast(device, precision):
                out = network(images)
            rows.append(out.float().flatten(1).cpu().numpy())
            bar.advance(images.shape[0])
    seconds = time.perf_counter() - start
    values = np.concatenate(rows) if rows else np.empty((0, 0), np.float32)
    if not np.isfinite(values).all():
        raise errors.FailedToCompleteOperationError(
            "The network's features are not all finite numbers.",
            hint="Use pretrained weights or Precision fp32; a network from random weights can overflow in "
                 "lower precision.")
    return Features(values, np.asarray(dataset.targets, dtype=np.int64), seconds)
