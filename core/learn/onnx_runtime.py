"""Scoring with onnxruntime: :class:`OnnxScorer`, a drop-in for :class:`visionblocks.learn.score.Scorer`.

It has the Scorer's interface (``classes``, ``transform``, ``config``, ``device``, ``precision``,
``predict_tensors``, ``predict_images``, ``labels_of``), so Score Image Model (``runtime`` onnx),
:func:`visionblocks.learn.score.score_directory` (also under torchrun) and the web service
(``--runtime onnx``) run it unchanged. It takes an export folder written by
:func:`visionblocks.learn.export.export_onnx`, or a PyTorch ModelDirectory, which it first exports
into a temporary folder.

The graph runs in fp32 on the CPU (or on a GPU when the installed onnxruntime has the CUDA
provider and the device asks for one); the probabilities are the softmax of its logits in
float64, as the Scorer computes them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from visionblocks import errors, ports
from visionblocks.data.transforms import Transform, build_transform
from visionblocks.device import resolve_device
from visionblocks.learn import export, models
from visionblocks.learn.choices import RUNTIMES
from visionblocks.learn import precision as prec
from visionblocks.learn.score import DEFAULT_BATCH_SIZE, Scorer

# The precisions onnxruntime runs here: the graph is exported in fp32.
ONNX_PRECISIONS = ("auto", "fp32")


class OnnxScorer:
    """An exported model ready to score with onnxruntime (see the module docstring)."""

    _temporary: Path | None = None  # the export made from a ModelDirectory, removed by close()

    def __init__(self, model_dir: str | Path, device=None, precision: str = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE):
        if precision not in ONNX_PRECISIONS:
            raise errors.NotInRangeValueError(
                f"precision {precision!r} cannot run with the onnx runtime, which runs the exported graph in fp32.",
                hint="Use precision auto or fp32 with runtime onnx, or runtime torch for bf16 and fp16.")
        export.require_onnx("onnxruntime")
        import onnxruntime

        requested = torch.device(device) if isinstance(device, torch.device) else resolve_device(device)
        self.model_dir = Path(model_dir)
        folder = self._export_folder(self.model_dir)
        self.classes: list[str] = models.read_json(folder / models.CLASSES_FILE, folder)
        self.config: dict = {**models.read_json(folder / models.CONFIG_FILE, folder), "runtime": "onnx"}
        self.transform_ops = models.read_json(folder / ports.TRANSFORMS_FILE, folder)
        self.transform: Transform = build_transform(self.transform_ops)
        providers = _providers(requested, onnxruntime.get_available_providers())
        self.device = torch.device("cpu")  # onnxruntime takes its inputs from host memory on every provider
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(folder / export.ONNX_FILE), options, providers=providers)
        self.precision = prec.Precision("fp32", precision, "fp32: the exported ONNX graph through onnxruntime")
        self.batch_size = int(batch_size)

    def _export_folder(self, model_dir: Path) -> Path:
        """``model_dir`` itself when it is an export, else a temporary export of it."""
        if export.is_onnx_export(model_dir):
            return model_dir
        self._temporary = Path(tempfile.mkdtemp(prefix="visionblocks-onnx-"))
        from visionblocks.progress import Progress

        return export.export_onnx(model_dir, self._temporary / "export", Progress(quiet=True)).folder

    def predict_tensors(self, batch: torch.Tensor) -> np.ndarray:
        """Class probabilities (N × classes, float64) of a transformed N×C×H×W batch."""
        if batch.dim() != 4:
            raise ValueError(f"expected an N×C×H×W batch, got a tensor of shape {tuple(batch.shape)}")
        out = np.empty((batch.shape[0], len(self.classes)), dtype=np.float64)
        for start in range(0, batch.shape[0], self.batch_size):
            part = batch[start:start + self.batch_size].detach().to("cpu", torch.float32).contiguous().numpy()
            logits = self.session.run([export.OUTPUT_NAME], {export.INPUT_NAME: part})[0]
            out[start:start + part.shape[0]] = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()
        return out

    predict_images = Scorer.predict_images
    labels_of = Scorer.labels_of

    def close(self) -> None:
        """Remove the temporary export, if one was made."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __del__(self):
        self.close()

    def __repr__(self) -> str:
        return (f"OnnxScorer({self.model_dir}, {self.config.get('architecture')}, {len(self.classes)} classes, "
                f"providers={self.session.get_providers()})")


def _providers(device: torch.device, available: list[str]) -> list[str]:
    """onnxruntime's execution providers for ``device``."""
    if device.type == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def make_scorer(runtime: str, model_dir, device=None, precision: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE):
    """The scorer of ``runtime`` (``torch`` or ``onnx``) for ``model_dir``."""
    if runtime == "onnx":
        return OnnxScorer(model_dir, device, precision, batch_size)
    if runtime == "torch":
        return Scorer(model_dir, device, precision, batch_size)
    raise errors.NotInRangeValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}.")
