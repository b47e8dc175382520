"""Model architectures and the two model directory formats.

UntrainedModelDirectory (output of ResNet / DenseNet)::

    _meta.yaml      type: UntrainedModelDirectory
    _config.json    {"family", "architecture", "pretrained", "weights_path",
                     "zero_init_residual", "memory_efficient"}

ModelDirectory (output of Train PyTorch Model)::

    _meta.yaml          type: ModelDirectory, model_type: torch_state_dict, sha256 of the four files below
    _model.pth          the state dict only, read back with ``torch.load(weights_only=True)``
    _config.json        the untrained config plus ``num_classes`` and ``input_size`` [C, H, W]
    _id_to_class.json   class names in class-id order
    _transforms.json    the ``[op, args]`` list the training images were stored with, or null
    (training also writes its metrics log and training-curve PNG here)

Neither format holds pickled code: an architecture is rebuilt from its name by torchvision, so a
model directory can come from anyone without running their code.

Pretrained weights are read from an explicit weights path, or from the file torchvision itself
would cache, ``<torch hub dir>/checkpoints/<torchvision file name>`` (``$TORCH_HOME/hub`` by
default), which :mod:`visionblocks.learn.weights` downloads and checks when it is missing (unless
downloads are off; then the error names the file to put where).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionblocks import errors, ports
from visionblocks.learn import weights
from visionblocks.ports import TRANSFORMS_FILE
from visionblocks.learn.choices import DENSENET_ARCHITECTURES, FAMILIES, RESNET_ARCHITECTURES  # noqa: F401

CONFIG_FILE = "_config.json"
MODEL_FILE = "_model.pth"
CLASSES_FILE = "_id_to_class.json"
# The files whose SHA-256 a ModelDirectory records at save time and checks at load time.
CHECKED_FILES = (MODEL_FILE, CONFIG_FILE, CLASSES_FILE, TRANSFORMS_FILE)
MODEL_TYPE = "torch_state_dict"

PRETRAINED_WEIGHTS = weights.PRETRAINED_WEIGHTS

UNTRAINED_KEYS = ("family", "architecture", "pretrained", "weights_path", "zero_init_residual", "memory_efficient")


def untrained_config(architecture: str, pretrained: bool = True, weights_path: str | None = None,
                     zero_init_residual: bool = False, memory_efficient: bool = False) -> dict:
    """The ``_config.json`` of an UntrainedModelDirectory, checked."""
    family = family_of(architecture)
    return {
        "family": family,
        "architecture": architecture,
        "pretrained": bool(pretrained),
        "weights_path": str(weights_path) if weights_path else None,
        "zero_init_residual": bool(zero_init_residual) if family == "resnet" else False,
        "memory_efficient": bool(memory_efficient) if family == "densenet" else False,
    }


def family_of(architecture: str) -> str:
    for family, names in FAMILIES.items():
        if architecture in names:
            return family
    known = ", ".join(n for names in FAMILIES.values() for n in names)
    raise errors.InvalidModelDirectoryError(f"Unknown architecture {architecture!r}; known: {known}.")


# -- pretrained weights ------------------------------------------------------------------------

def pretrained_file_name(architecture: str) -> str:
    """The file name torchvision caches ``architecture``'s ImageNet weights under."""
    return weights.weights_file(architecture).file_name


def pretrained_path(config: dict) -> Path:
    """Where the pretrained weights of ``config`` are read from (whether or not they exist)."""
    if config.get("weights_path"):
        return Path(config["weights_path"]).expanduser()
    return weights.cached_path(config["architecture"])


# Old torchvision DenseNet checkpoints name layers "norm.1"; the current modules say "norm1".
_DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def require_pretrained_file(config: dict, progress=None) -> Path:
    """The pretrained weights file of ``config``, downloaded into the torch hub cache when it is
    missing there (see :func:`visionblocks.learn.weights.fetch`); CouldNotOpenFile (0048) when a
    weights path does not exist, when downloads are off, or when the download fails."""
    path = pretrained_path(config)
    if path.is_file():
        return path
    arch = config["architecture"]
    if config.get("weights_path"):
        raise errors.CouldNotOpenFileError(
            f"The weights path {path} does not exist.",
            hint=f"Put the ImageNet weights of {arch} ({pretrained_file_name(arch)}) at {path}, or fix the weights path.")
    return weights.fetch(arch, progress=progress)


def _read_pretrained(config: dict) -> dict:
    import torch

    path = require_pretrained_file(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise errors.CouldNotOpenFileError(f"Pretrained weights {path} could not be read as a state dict: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if family_of(config["architecture"]) == "densenet":
        state = {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}
    return state


# -- building ----------------------------------------------------------------------------------

def build_model(config: dict, num_classes: int):
    """A torchvision model for ``config`` with its classifier head sized to ``num_classes``.

    With ``pretrained`` the ImageNet weights are loaded first (from the offline file) and the
    1000-class head is then replaced by a freshly initialised one.
    """
    import torch
    from torchvision import models as tvm

    arch = config["architecture"]
    family = config.get("family") or family_of(arch)
    if arch not in FAMILIES.get(family, ()):
        raise errors.InvalidModelDirectoryError(f"Architecture {arch!r} is not a {family} model.")
    options: dict[str, Any] = {}
    if family == "resnet":
        options["zero_init_residual"] = bool(config.get("zero_init_residual", False))
    else:
        options["memory_efficient"] = bool(config.get("memory_efficient", False))
    if num_classes < 1:
        raise errors.InvalidDatasetError("The training data has no class.")
    pretrained = bool(config.get("pretrained", False))
    state = _read_pretrained(config) if pretrained else None  # a missing file fails before building
    model = tvm.get_model(arch, weights=None, num_classes=1000 if pretrained else num_classes, **options)
    if state is not None:
        problem = load_weights(model, state)
        if problem:
            raise errors.CouldNotOpenFileError(f"The pretrained weights at {pretrained_path(config)} do not fit {arch}: {problem}")
        if num_classes != 1000:
            _replace_head(model, family, num_classes, torch)
    return model


def load_weights(model, state: dict) -> str | None:
    """Load ``state`` into ``model``; return None, or a short reason why the weights do not fit."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches: keep the first few lines of torch's long list
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()][1:4]
        return "; ".join(lines) or str(exc)
    parts = []
    for label, keys in (("missing", result.missing_keys), ("unexpected", result.unexpected_keys)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            parts.append(f"{len(keys)} {label} weights ({', '.join(keys[:3])}{more})")
    return "; ".join(parts) or None


def _replace_head(model, family: str, num_classes: int, torch) -> None:
    if family == "resnet":
        model.fc = torch.nn.Linear(model.fc.in_features, num_classes)
    else:
        model.classifier = torch.nn.Linear(model.classifier.in_features, num_classes)


def unwrap(model):
    """The plain module inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and type(model).__name__ == "DistributedDataParallel":
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


# -- UntrainedModelDirectory -------------------------------------------------------------------

def save_untrained(folder: str | Path, config: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    ports.write_meta(folder, ports.UNTRAINED_MODEL_DIRECTORY, model_config=CONFIG_FILE,
                     architecture=config["architecture"])


def load_untrained(folder: str | Path) -> dict:
    """The checked config of an UntrainedModelDirectory, or InvalidModelDirectory (0159)."""
    folder = Path(folder)
    ports.require_type(folder, ports.UNTRAINED_MODEL_DIRECTORY, "Untrained model", errors.InvalidModelDirectoryError)
    config = _read_json(folder / CONFIG_FILE, folder)
    if not isinstance(config, dict) or "architecture" not in config:
        raise errors.InvalidModelDirectoryError(
            f"{folder / CONFIG_FILE} does not name an architecture; it is not a PyTorch model made by ResNet or DenseNet.")
    return untrained_config(config["architecture"], config.get("pretrained", False), config.get("weights_path"),
                            config.get("zero_init_residual", False), config.get("memory_efficient", False))


# -- ModelDirectory ----------------------------------------------------------------------------

@dataclass
class TrainedModel:
    """A loaded ModelDirectory: the model in eval mode, its class names and stored transform."""

    model: Any
    classes: list[str]
    transform: list | None
    config: dict


def save_trained(folder: str | Path, model, config: dict, classes: list[str], transform: list | None) -> None:
    """Write ``model`` as a ModelDirectory into ``folder`` (state dict + JSON, no pickled code).

    ``config`` is the untrained config, plus ``input_size`` [C, H, W] when known; ``num_classes``
    is taken from ``classes``.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in unwrap(model).state_dict().items()}
    torch.save(state, folder / MODEL_FILE)
    full = {**{k: config.get(k) for k in UNTRAINED_KEYS}, "num_classes": len(classes),
            "input_size": list(config["input_size"]) if config.get("input_size") else None}
    (folder / CONFIG_FILE).write_text(json.dumps(full, indent=2), encoding="utf-8")
    (folder / CLASSES_FILE).write_text(json.dumps(list(classes), indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / TRANSFORMS_FILE).write_text(json.dumps(transform, indent=2), encoding="utf-8")
    ports.write_meta(folder, ports.MODEL_DIRECTORY, model_type=MODEL_TYPE, model=MODEL_FILE, config=CONFIG_FILE,
                     id_to_class=CLASSES_FILE, transforms=TRANSFORMS_FILE, architecture=config["architecture"],
                     sha256={name: file_sha256(folder / name) for name in CHECKED_FILES})


def load_trained(folder: str | Path, device="cpu") -> TrainedModel:
    """Load a ModelDirectory; anything else (or a broken one) is InvalidModelDirectory (0159)."""
    import torch

    folder = Path(folder)
    meta = ports.require_type(folder, ports.MODEL_DIRECTORY, "Trained model", errors.InvalidModelDirectoryError)
    model_type = meta.get("model_type")
    if model_type != MODEL_TYPE:
        raise errors.InvalidModelDirectoryError(
            f"{folder} holds a model of type {model_type or 'unknown'}, not a PyTorch state dict; "
            "legacy pickled models are not loaded.",
            hint="Score classic models with Score Model; train image models with Train PyTorch Model.")
    verify_checksums(folder, meta)
    config = _read_json(folder / CONFIG_FILE, folder)
    classes = _read_classes(folder)
    transform = _read_json(folder / TRANSFORMS_FILE, folder) if (folder / TRANSFORMS_FILE).is_file() else None
    if not isinstance(config, dict) or "architecture" not in config:
        raise errors.InvalidModelDirectoryError(f"{folder / CONFIG_FILE} does not name an architecture.")
    if transform is not None and not isinstance(transform, list):
        raise errors.InvalidModelDirectoryError(f"{folder / TRANSFORMS_FILE} is not a list of [op, args] pairs.")
    model_path = folder / meta.get("model", MODEL_FILE)
    state = _read_state_dict(model_path, torch)
    if not isinstance(state, dict):
        raise errors.InvalidModelDirectoryError(f"{model_path} does not hold a state dict.")
    try:
        model = build_model({**config, "pretrained": False}, len(classes))
    except errors.ModuleError as exc:
        raise errors.InvalidModelDirectoryError(f"{folder}: {exc.message}") from exc
    problem = load_weights(model, state)
    if problem:
        raise errors.InvalidModelDirectoryError(
            f"The weights in {model_path} do not fit {config['architecture']} with {len(classes)} classes: {problem}")
    model.to(device).eval()
    return TrainedModel(model, classes, transform, config)


def _read_state_dict(path: Path, torch):
    """The tensors of ``path``, read by torch's weights-only loader, or 0159 in visionblocks' words.
    torch's own message would advise loading the file with ``weights_only=False``, which runs
    whatever code the file holds: exactly what must never be done with a file from elsewhere."""
    import pickle

    if not path.is_file():
        raise errors.InvalidModelDirectoryError(f"The model directory {path.parent} has no weights file {path.name}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise errors.InvalidModelDirectoryError(
            f"{path} holds Python objects other than tensors, so it was not loaded: a model file may hold "
            "only a state dict of tensors, and visionblocks never runs code from a model file.",
            hint="Use a ModelDirectory written by Train PyTorch Model; do not load this file elsewhere "
                 "unless you trust who made it.") from None
    except Exception as exc:  # noqa: BLE001 - truncation, a foreign format: torch raises several types
        raise errors.InvalidModelDirectoryError(
            f"{path} is not a readable PyTorch weights file ({type(exc).__name__}): it is damaged, "
            "truncated or in another format.",
            hint="Train the model again, or copy its ModelDirectory again from where it was made.") from None


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify_checksums(folder: Path, meta: dict) -> None:
    """0159 when a file of the model changed since it was saved (the SHA-256 sums recorded in
    ``_meta.yaml``). Directories saved before sums were recorded carry none and are not checked."""
    recorded = meta.get("sha256")
    if recorded is None:
        return
    if not isinstance(recorded, dict):
        raise errors.InvalidModelDirectoryError(f"{folder / ports.META_FILE} has a malformed sha256 entry.")
    for name, expected in recorded.items():
        path = folder / str(name)
        if Path(str(name)).name != str(name):
            raise errors.InvalidModelDirectoryError(f"{folder / ports.META_FILE} lists a checksum for {name!r}, "
                                                    "which is not a file of the model directory.")
        if not path.is_file():
            raise errors.InvalidModelDirectoryError(f"The model directory {folder} has no {name}.")
        if file_sha256(path) != expected:
            raise errors.InvalidModelDirectoryError(
                f"{path} was changed after the model was saved: its SHA-256 differs from the one recorded "
                f"in {ports.META_FILE}. The model was not loaded.",
                hint="Use an unmodified copy of the ModelDirectory, or train the model again.")


def _read_classes(folder: Path) -> list[str]:
    raw = _read_json(folder / CLASSES_FILE, folder)
    if isinstance(raw, dict):  # {id: name}, as the designer's prototypes wrote it
        try:
            return [str(raw[k]) for k in sorted(raw, key=int)]
        except ValueError as exc:
            raise errors.InvalidModelDirectoryError(f"{folder / CLASSES_FILE} has a non-integer class id.") from exc
    if isinstance(raw, list) and raw:
        return [str(c) for c in raw]
    raise errors.InvalidModelDirectoryError(f"{folder / CLASSES_FILE} holds no class names.")


def _read_json(path: Path, folder: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise errors.InvalidModelDirectoryError(f"{folder} has no {path.name}.") from exc
    except (OSError, ValueError) as exc:
        raise errors.InvalidModelDirectoryError(f"{path} is not valid JSON: {exc}") from exc
