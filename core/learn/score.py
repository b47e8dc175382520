"""Scoring with a trained model: the :class:`Scorer` that Score Image Model and the web service share.

A :class:`Scorer` loads a ModelDirectory once and turns images into class probabilities:
``predict_images`` takes RGB PIL images (the web service's case), ``predict_tensors`` takes a
batch that is already transformed (the module's case, fed by a DataLoader). Both run under
``torch.inference_mode`` in the requested precision, batch by batch, so memory does not grow with
the number of images.

:func:`score_directory` streams an ImageDirectory through a scorer and writes the scored dataset
(designer-spec §9) Parquet row group by row group, so neither the images nor the table are ever
held whole in memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from visionblocks.learn.choices import DEFAULT_BATCH_SIZE
from visionblocks.learn import distributed, models
from visionblocks import errors, ports
from visionblocks.learn import precision as prec
from visionblocks.dataframe import DATA_FILE, IDENTIFIER_COLUMN, LABEL_COLUMN, SCORED_LABELS, probability_column
from visionblocks.device import resolve_device
from visionblocks.imagedir import ImageDirectory
from visionblocks.data.loading import ImageDataset, make_loader
from visionblocks.progress import Progress
from visionblocks.data.transforms import INFERENCE, Transform, build_transform, with_to_tensor

# On a CPU the model runs on slices of a batch holding about this many pixels. resnet18
# inference on this 2-core AVX2 CPU peaked at 8-16 images of 224x224, 32-64 of 96x96 and 256 or
# more of 32x32 (images/s at 224: 40 with 64 images per call, 46 with 8): a roughly constant
# number of pixels, where the feature maps still fit the caches.
CPU_PIXELS_PER_SLICE = 1 << 19


class Scorer:
    """A trained model ready to score: ``.classes``, ``.transform`` and two predict methods.

    ``device``: a torch device or name (``None`` = auto: cuda, then mps, then cpu).
    ``precision``: auto, fp32, bf16 or fp16 (see :mod:`visionblocks.learn.precision`).
    ``transform`` turns one RGB PIL image into the float C×H×W tensor the model expects: the
    model's stored training transformation in inference mode (random augmentation dropped), or
    just ToTensor when the model has none.
    """

    def __init__(self, model_dir: str | Path, device=None, precision: str = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE):
        device = torch.device(device) if isinstance(device, torch.device) else resolve_device(device)
        self.device = distributed.local_device(device)
        _refuse_onnx_export(model_dir)
        trained = models.load_trained(model_dir, self.device)
        self.model_dir = Path(model_dir)
        self.classes: list[str] = list(trained.classes)
        self.config: dict = trained.config
        self.transform_ops = trained.transform
        self.transform: Transform = (build_transform(trained.transform, INFERENCE) if trained.transform
                                     else Transform(with_to_tensor([])))
        self.precision = prec.resolve_precision(precision, self.device)
        self.batch_size = int(batch_size)
        self.model = inference_model(trained.model)

    def predict_tensors(self, batch: torch.Tensor) -> np.ndarray:
        """Class probabilities (N × classes, float64, rows summing to 1) of a transformed N×C×H×W batch.

        A batch larger than ``batch_size`` is run in slices, so any size fits in memory.
        """
        if batch.dim() != 4:
            raise ValueError(f"expected an N×C×H×W batch, got a tensor of shape {tuple(batch.shape)}")
        out = np.empty((batch.shape[0], len(self.classes)), dtype=np.float64)
        step = self.slice_size(batch.shape[-2] * batch.shape[-1])
        with torch.inference_mode(), prec.cuda_speedups(self.device):
            for start in range(0, batch.shape[0], step):
                part = prec.to_device(batch[start:start + step], self.device, torch.channels_last)
                with prec.autocast(self.device, self.precision):
                    logits = self.model(part)
                # Softmax in float64 from the (possibly bf16/fp16) logits: probabilities that sum to 1
                # to the last digit, which metrics such as log loss and one-vs-rest AUC check.
                out[start:start + part.shape[0]] = torch.softmax(logits.double(), dim=1).cpu().numpy()
        return out

    def slice_size(self, pixels_per_image: int) -> int:
        """How many images go through the model at once: ``batch_size`` on a GPU; on a CPU as many
        as fit :data:`CPU_PIXELS_PER_SLICE`, because a CPU runs fastest while the feature maps stay
        in its caches (see the constant)."""
        if self.device.type != "cpu":
            return self.batch_size
        return max(1, min(self.batch_size, CPU_PIXELS_PER_SLICE // max(1, pixels_per_image)))

    def predict_images(self, images: Iterable) -> np.ndarray:
        """Class probabilities of RGB PIL images (in order), transformed by :attr:`transform`.

        Images whose transformed sizes differ (a transformation without Resize) are batched with
        the others of their size.
        """
        tensors = [self.transform(image) for image in images]
        out = np.empty((len(tensors), len(self.classes)), dtype=np.float64)
        by_shape: dict[tuple, list[int]] = {}
        for index, tensor in enumerate(tensors):
            by_shape.setdefault(tuple(tensor.shape), []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                out[chunk] = self.predict_tensors(torch.stack([tensors[i] for i in chunk]))
        return out

    def labels_of(self, probabilities: np.ndarray) -> list[str]:
        """The predicted class name of each row (the first class on ties, as argmax does)."""
        return [self.classes[i] for i in probabilities.argmax(axis=1)]

    def __repr__(self) -> str:
        return (f"Scorer({self.model_dir}, {self.config.get('architecture')}, {len(self.classes)} classes, "
                f"device={self.device}, precision={self.precision.name})")


def inference_model(model: torch.nn.Module, inplace: bool = False) -> torch.nn.Module:
    """``model`` (in eval mode) made faster for scoring, with the same results up to rounding.
    ``inplace``: the caller owns ``model`` and it may be changed instead of copied.

    - Every batch normalization that follows a convolution is folded into that convolution's
      weights (torch.fx), which saves one pass over every feature map. A model that torch.fx
      cannot trace is used as it is.
    - channels_last memory layout, on every device: oneDNN (CPU) and cuDNN (GPU) convolutions
      then run without reordering each layer's input (measurements in DESIGN.md, "Scoring").
      Training picks its layout by precision and image size: precision.memory_format.
    """
    from torch.fx.experimental.optimization import fuse

    model = model.eval()
    try:
        model = fuse(model, inplace=inplace)  # unless inplace: a traced copy, the original keeps its batch norms
    except Exception:  # noqa: BLE001 - any tracing failure just means no folding
        pass
    return model.to(memory_format=torch.channels_last)


def _refuse_onnx_export(model_dir) -> None:
    """An ONNX export is a ModelDirectory too, but PyTorch cannot load it: say which runtime can."""
    from visionblocks.learn.export import is_onnx_export

    if is_onnx_export(model_dir):
        raise errors.InvalidModelDirectoryError(
            f"{model_dir} holds an ONNX export, which the torch runtime cannot load.",
            hint="Score it with runtime onnx (visionblocks serve --runtime onnx), or give the original ModelDirectory.")


@dataclass
class ScoreSummary:
    rows: int
    labeled: bool
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def scoring_dataset(scorer: Scorer, directory: ImageDirectory) -> ImageDataset:
    """The images of ``directory`` as the model must see them.

    A directory that carries a transformation (Apply Image Transformation's output) is loaded
    with it, in inference mode, whatever mode it was applied in: scoring never augments. A
    directory without one holds raw images, which get the model's own training transformation
    in inference mode, so raw images and the web service are scored alike.
    """
    dataset = ImageDataset(directory, mode=INFERENCE)
    if not directory.transform:
        dataset.transform = scorer.transform
    return dataset


def iter_scores(scorer: Scorer, dataset: ImageDataset, batch_size: int, num_workers: int | None = None,
                indices: range | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(dataset indices, probabilities)`` batch by batch, in the dataset's order
    (only the images at ``indices`` when given)."""
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers, sampler=indices,
                         pin_memory=prec.pin_memory(scorer.device))
    for images, _targets, batch_indices in loader:
        yield batch_indices.numpy(), scorer.predict_tensors(images)


class ScoredWriter:
    """Writes the scored dataset's Parquet file one batch (one row group) at a time.

    Columns: ``identifier`` (image id), ``label`` (only for a labeled directory), ``Scored Labels``
    and one ``Scored Probabilities_<class>`` per class in class-id order.
    """

    def __init__(self, path: Path, directory: ImageDirectory, classes: list[str]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.directory = directory
        self.labeled = directory.labeled
        self.classes = np.array(classes, dtype=object)
        fields = [pa.field(IDENTIFIER_COLUMN, pa.int64())] + \
            ([pa.field(LABEL_COLUMN, pa.string())] if self.labeled else []) + [pa.field(SCORED_LABELS, pa.string())] + \
            [pa.field(probability_column(c), pa.float64()) for c in classes]
        self.schema = pa.schema(fields)
        self.columns = self.schema.names
        self.rows = 0
        self._writer = pq.ParquetWriter(path, self.schema)

    def write(self, indices, probs: np.ndarray) -> None:
        pa = self._pa
        entries = [self.directory.entries[i] for i in indices]
        data = [pa.array([e.id for e in entries], pa.int64())]
        if self.labeled:
            data.append(pa.array([e.category for e in entries], pa.string()))
        data.append(pa.array(self.classes[probs.argmax(axis=1)].tolist(), pa.string()))
        data.extend(pa.array(probs[:, k], pa.float64()) for k in range(probs.shape[1]))
        self._writer.write_table(pa.Table.from_arrays(data, schema=self.schema))
        self.rows += len(entries)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "ScoredWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def score_directory(scorer: Scorer, directory: ImageDirectory | str | Path, out: str | Path,
                    batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None,
                    num_workers: int | None = None) -> ScoreSummary:
    """Score every image of ``directory`` and write the scored DataFrameDirectory into ``out``.

    The table has the columns of :class:`ScoredWriter`, one row per image in the directory's
    order. The meta records the designer's score-column map, the label column and the scored
    image directory (for the evaluation report's gallery).

    Under torchrun each process scores its own shard of whole batches
    (:func:`visionblocks.learn.distributed.batch_shards`) and rank 0 writes the whole table, in
    the same order and with the same numbers as one process would; the other ranks write
    nothing, and their summary counts the images they scored.
    """
    progress = progress or Progress("score")
    if not isinstance(directory, ImageDirectory):
        directory = ImageDirectory.load(directory, "Dataset")
    dataset = scoring_dataset(scorer, directory)
    start = time.perf_counter()
    job = distributed.init_distributed(scorer.device)
    shards = distributed.batch_shards(len(dataset), batch_size, job.world_size)
    if job.rank != 0:
        rows = _score_and_send(scorer, dataset, shards[job.rank], batch_size, num_workers)
        return ScoreSummary(rows, directory.labeled, time.perf_counter() - start)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with ScoredWriter(out / DATA_FILE, directory, scorer.classes) as writer, \
            progress.bar(len(dataset), "scoring") as bar:
        for indices, probs in iter_scores(scorer, dataset, batch_size, num_workers, shards[0]):
            writer.write(indices, probs)
            bar.advance(len(indices))
        for rank in range(1, job.world_size):
            shard = shards[rank]
            received = distributed.receive_rows(rank, len(shard), len(scorer.classes), batch_size)
            for first, probs in zip(shard[::batch_size], received):
                writer.write(range(first, first + len(probs)), probs)
                bar.advance(len(probs))
    seconds = time.perf_counter() - start
    _write_scored_meta(out, writer, directory, scorer)
    return ScoreSummary(writer.rows, directory.labeled, seconds)


def _score_and_send(scorer, dataset: ImageDataset, shard: range, batch_size: int, num_workers) -> int:
    """Score ``shard`` (a rank other than 0) and send its probabilities to rank 0, batch by batch.

    The whole shard is scored before anything is sent: rank 0 scores its own shard meanwhile
    and only then receives, so sending earlier would just wait."""
    probs = np.empty((len(shard), len(scorer.classes)), dtype=np.float64)
    for indices, batch_probs in iter_scores(scorer, dataset, batch_size, num_workers, shard):
        probs[indices - shard.start] = batch_probs
    distributed.send_rows(probs, batch_size)
    return len(shard)


def _write_scored_meta(out: Path, writer: ScoredWriter, directory: ImageDirectory, scorer) -> None:
    score_map = {"Multi Class Assigned Labels": SCORED_LABELS,
                 **{probability_column(c): probability_column(c) for c in scorer.classes}}
    meta = {"score_columns": score_map, "classes": list(scorer.classes),
            "image_directory": str(Path(directory.root).resolve()), "model": str(scorer.model_dir.resolve())}
    if writer.labeled:
        meta["label_column_name"] = LABEL_COLUMN
    ports.write_meta(out, ports.DATAFRAME_DIRECTORY, data=DATA_FILE, rows=writer.rows, columns=writer.columns, **meta)
