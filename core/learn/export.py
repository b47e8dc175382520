"""Export a trained model (a ModelDirectory) to a self-contained ONNX folder.

The folder holds everything needed to score without PyTorch or visionblocks:

    model.onnx          the graph: input ``images`` (float32 N×C×H×W, batch, height and width
                        dynamic), output ``logits`` (float32 N×classes; softmax gives probabilities)
    _id_to_class.json   the class names in class-id order (the ModelDirectory's file, unchanged)
    _transforms.json    the inference transformation as data: [op, args] pairs, random ops
                        dropped, ToTensor in place (what the model's Scorer applies)
    _config.json        architecture, number of classes, input size, opset, exporter
    README.md           what the files are and how to run them
    requirements.txt    what running the graph needs
    _meta.yaml          a ModelDirectory whose model_type is ``onnx``, so Score Image Model
                        (runtime onnx) and ``visionblocks serve --runtime onnx`` take the folder

The graph comes from torch.onnx's torch.export-based exporter (the default since PyTorch 2.9;
the TorchScript one is deprecated). Before the folder is published, onnxruntime runs the graph
on a random batch and its probabilities must match PyTorch's in fp32 to :data:`TOLERANCE`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from visionblocks import errors, ports
from visionblocks.data.transforms import INFERENCE, build_transform, with_to_tensor
from visionblocks.learn import models
from visionblocks.progress import Progress

ONNX_MODEL_TYPE = "onnx"
ONNX_FILE = "model.onnx"
README_FILE = "README.md"
REQUIREMENTS_FILE = "requirements.txt"
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
# Largest difference allowed between onnxruntime's and PyTorch's probabilities in fp32.
TOLERANCE = 1e-4
# The example batch the exporter traces with when the model does not record its input size.
DEFAULT_INPUT_SIZE = [3, 224, 224]


@dataclass
class ExportResult:
    folder: Path
    max_difference: float  # onnxruntime vs PyTorch probabilities on the check batch
    opset: int


def require_onnx(*names: str) -> None:
    """Import ``names`` (onnx, onnxruntime, onnxscript) or say how to install them (0039)."""
    import importlib

    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise errors.FailedToCompleteOperationError(
            f"ONNX export and the onnx runtime need {', '.join(missing)}, which is not installed.",
            hint="pip install 'visionblocks[onnx]'")


def is_onnx_export(folder: str | Path) -> bool:
    """Whether ``folder`` holds an export written by :func:`export_onnx`."""
    return ports.read_meta(Path(folder)).get("model_type") == ONNX_MODEL_TYPE


def default_out(model_dir: str | Path) -> Path:
    """Where ``visionblocks export`` writes when no ``--out`` is given: ``<MODEL_DIR>_onnx`` beside it."""
    model_dir = Path(model_dir).resolve()
    return model_dir.with_name(f"{model_dir.name}_onnx")


def inference_ops(transform: list | None) -> list[list]:
    """The stored training transformation as the model's Scorer runs it: random ops dropped and
    ToTensor in place (just ToTensor for a model without one)."""
    return build_transform(transform, INFERENCE).ops if transform else with_to_tensor([])


def export_onnx(model_dir: str | Path, out: str | Path, progress: Progress | None = None) -> ExportResult:
    """Export the ModelDirectory ``model_dir`` into the folder ``out`` (see the module docstring).

    ``out`` is replaced only once the export is complete and checked; an existing folder that is
    not an earlier export is refused (0046), so an export never overwrites unrelated files.
    """
    require_onnx("onnx", "onnxscript", "onnxruntime")
    progress = progress or Progress("export")
    out = Path(out)
    _check_out(Path(model_dir), out)
    trained = models.load_trained(model_dir, "cpu")
    config = trained.config
    example = _example_batch(config)
    with ports.atomic_directory(out) as tmp:
        progress.log(f"exporting {config.get('architecture')} ({len(trained.classes)} classes) to ONNX")
        opset = write_graph(trained.model, example, tmp / ONNX_FILE)
        difference = max_difference(trained.model, tmp / ONNX_FILE, example)
        if not difference <= TOLERANCE:
            raise errors.FailedToCompleteOperationError(
                f"onnxruntime's probabilities differ from PyTorch's by {difference:.2e} "
                f"(more than {TOLERANCE:g}); the export is not written.")
        ops = inference_ops(trained.transform)
        _write_json(tmp / models.CLASSES_FILE, list(trained.classes))
        _write_json(tmp / ports.TRANSFORMS_FILE, ops)
        exported_config = {"architecture": config.get("architecture"), "num_classes": len(trained.classes),
                           "input_size": config.get("input_size"), "opset": opset,
                           "exporter": f"torch.onnx (dynamo) {torch.__version__}", "source": str(Path(model_dir).resolve())}
        _write_json(tmp / models.CONFIG_FILE, exported_config)
        (tmp / README_FILE).write_text(readme(exported_config, trained.classes, ops), encoding="utf-8")
        (tmp / REQUIREMENTS_FILE).write_text(requirements(), encoding="utf-8")
        ports.write_meta(tmp, ports.MODEL_DIRECTORY, model_type=ONNX_MODEL_TYPE, model=ONNX_FILE,
                         config=models.CONFIG_FILE, id_to_class=models.CLASSES_FILE, transforms=ports.TRANSFORMS_FILE,
                         architecture=config.get("architecture"))
    progress.log(f"wrote {out}: onnxruntime matches PyTorch to {difference:.1e}")
    return ExportResult(out, difference, opset)


def _check_out(model_dir: Path, out: Path) -> None:
    if out.resolve() == model_dir.resolve():
        raise errors.InvalidPathForDirectoryCreationError(
            f"The export folder {out} is the model directory itself.", hint="Give --out another folder.")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not is_onnx_export(out))):
        raise errors.InvalidPathForDirectoryCreationError(
            f"{out} exists and is not an earlier ONNX export; it is left as it is.",
            hint="Give --out a new folder, or an earlier export folder to replace.")


def _example_batch(config: dict) -> torch.Tensor:
    """The batch the exporter traces with: two images (a batch of one would let the exporter
    treat the batch axis as the constant 1) of the model's input size, seeded random values."""
    size = list(config.get("input_size") or DEFAULT_INPUT_SIZE)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, *size, generator=generator)


def write_graph(model: torch.nn.Module, example: torch.Tensor, path: Path) -> int:
    """Write ``model`` (eval mode) as ONNX to ``path`` with dynamic batch, height and width;
    return the opset. Height and width are dynamic because the PyTorch Scorer takes any image
    size the network accepts (a transformation without Resize keeps each image's own size)."""
    dim = torch.export.Dim
    dynamic = {"x": {0: dim("batch"), 2: dim.AUTO, 3: dim.AUTO}}
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals, not the user's concern
        program = torch.onnx.export(model, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamo=True, dynamic_shapes=dynamic, external_data=False, verbose=False)
    program.save(str(path), external_data=False)
    return int(program.model.opset_imports.get("", 0))


def max_difference(model: torch.nn.Module, path: Path, batch: torch.Tensor) -> float:
    """The largest difference between PyTorch's and onnxruntime's probabilities on ``batch``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = torch.softmax(model.eval()(batch).double(), dim=1).numpy()
    logits = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})[0]
    got = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()
    return float(np.abs(expected - got).max())


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def requirements() -> str:
    """What running the graph needs: onnxruntime at least as new as the one that checked it."""
    import onnxruntime

    return (f"onnxruntime>={onnxruntime.__version__}\n"
            f"numpy>={np.__version__.split('.')[0]}\n"
            "Pillow>=10\n")


def readme(config: dict, classes: list[str], ops: list[list]) -> str:
    c, h, w = config.get("input_size") or ["C", "H", "W"]
    steps = "\n".join(f"{i}. `{name}` {json.dumps(args)}" for i, (name, args) in enumerate(ops, 1))
    return f"""# {config['architecture']} exported to ONNX

Exported by visionblocks from `{config['source']}` ({config['exporter']}, opset {config['opset']}).

| File | What it holds |
|---|---|
| `{ONNX_FILE}` | The network. Input `{INPUT_NAME}`: float32, N×{c}×{h}×{w} (N, height and width may vary). Output `{OUTPUT_NAME}`: float32, N×{len(classes)}. |
| `{models.CLASSES_FILE}` | The {len(classes)} class names; column k of the output is class k. |
| `{ports.TRANSFORMS_FILE}` | The transformation every image goes through before the network, as [operation, arguments] pairs in torchvision's names. |
| `{models.CONFIG_FILE}` | Architecture, number of classes, input size, opset. |
| `{REQUIREMENTS_FILE}` | What running the graph needs: `pip install -r {REQUIREMENTS_FILE}`. |

The transformation, in order (RGB image in, float tensor out):

{steps}

The probabilities are the softmax of the logits. With visionblocks installed, the folder scores as it is:

```bash
visionblocks serve {'THIS_FOLDER'} --runtime onnx
visionblocks module run score-image-model --input trained_model=THIS_FOLDER --input dataset=IMAGES \\
    --param runtime=onnx --out scored
```

Without visionblocks, in Python (images already transformed into an N×{c}×{h}×{w} float32 array `batch`):

```python
import json, numpy as np, onnxruntime
session = onnxruntime.InferenceSession("{ONNX_FILE}", providers=["CPUExecutionProvider"])
logits = session.run(["{OUTPUT_NAME}"], {{"{INPUT_NAME}": batch}})[0]
probabilities = np.exp(logits - logits.max(1, keepdims=True))
probabilities /= probabilities.sum(1, keepdims=True)
classes = json.load(open("{models.CLASSES_FILE}"))
labels = [classes[k] for k in probabilities.argmax(1)]
```
"""
