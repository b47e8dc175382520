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

Neither format holds pickled code: an architecture is rebuilt from its name by the builder its
plugin registered (:class:`~visionblocks.spec.ArchitectureSpec`; torchvision's for ResNet and
DenseNet), so a model directory can come from anyone without running their code.

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

from visionblocks import errors, plugin_host, ports
from visionblocks.learn import weights
from visionblocks.ports import TRANSFORMS_FILE
from visionblocks.spec import ArchitectureSpec, resolve

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
    """The ``_config.json`` of an UntrainedModelDirectory, checked. An option the architecture's
    builder does not take is recorded as false."""
    spec = architecture_spec(architecture)
    return {
        "family": spec.family,
        "architecture": architecture,
        "pretrained": bool(pretrained),
        "weights_path": str(weights_path) if weights_path else None,
        "zero_init_residual": bool(zero_init_residual) and "zero_init_residual" in spec.options,
        "memory_efficient": bool(memory_efficient) and "memory_efficient" in spec.options,
    }


def architecture_spec(architecture: str) -> ArchitectureSpec:
    """The registered architecture called ``architecture`` (InvalidModelDirectory, 0159, when no
    installed plugin registers it)."""
    registry = plugin_host.get_architectures()
    if not isinstance(architecture, str) or architecture not in registry:  # a config may hold any JSON
        raise errors.InvalidModelDirectoryError(
            f"Unknown architecture {architecture!r}; known: {', '.join(registry.names())}.",
            hint="Install the plugin that registers it, or run `visionblocks plugins` to see the architectures.")
    return registry.get(architecture)


def family_of(architecture: str) -> str:
    return architecture_spec(architecture).family


# -- pretrained weights ------------------------------------------------------------------------

def pretrained_file_name(architecture: str) -> str:
    """The file name torchvision caches ``architecture``'s ImageNet weights under."""
    return weights.weights_file(architecture).file_name


def pretrained_path(config: dict) -> Path:
    """Where the pretrained weights of ``config`` are read from (whether or not they exist).
    CouldNotOpenFile (0048) for an architecture that publishes none and no weights path."""
    if config.get("weights_path"):
        return Path(config["weights_path"]).expanduser()
    arch = config["architecture"]
    if not architecture_spec(arch).weights:
        raise errors.CouldNotOpenFileError(
            f"{arch} has no published pretrained weights, and no weights path is set.",
            hint="Set the weights path to a weights file of this architecture, or set Pretrained to false.")
    return weights.cached_path(arch)


def _published_name(architecture: str) -> str:
    """`` (file name)`` of the published weights, or nothing for an architecture without any."""
    return f" ({pretrained_file_name(architecture)})" if architecture_spec(architecture).weights else ""


# Old torchvision DenseNet checkpoints name layers "norm.1"; the current modules say "norm1".
_DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def require_pretrained_file(config: dict, progress=None) -> Path:
    """The pretrained weights file of ``config``, downloaded into the torch hub cache when it is
    missing there (see :func:`visionblocks.learn.weights.fetch`); CouldNotOpenFile (0048) when a
    weights path does not exist, when downloads are off, when the download fails, or when the
    cached file does not match the checksum its architecture gives."""
    path = pretrained_path(config)
    arch = config["architecture"]
    if not config.get("weights_path"):
        return weights.fetch(arch, progress=progress)  # the cached file (checked), or downloaded
    if path.is_file():
        return path
    raise errors.CouldNotOpenFileError(
        f"The weights path {path} does not exist.",
        hint=f"Put the pretrained weights of {arch}{_published_name(arch)} at {path}, or fix the weights path.")


def _read_pretrained(config: dict) -> dict:
    import torch

    path = require_pretrained_file(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise errors.CouldNotOpenFileError(f"Pretrained weights {path} could not be read as a state dict: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    # Only DenseNet's old checkpoints have such keys; no other architecture's key matches.
    return {_DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}


# -- building ----------------------------------------------------------------------------------

def build_model(config: dict, num_classes: int):
    """The registered architecture of ``config``, built with its classifier head sized to ``num_classes``.

    With ``pretrained`` the weights are loaded first (with the head they were trained with, 1000
    classes for ImageNet) and the head is then replaced by a freshly initialised one.
    """
    arch = config["architecture"]
    spec = architecture_spec(arch)
    family = config.get("family") or spec.family
    if family != spec.family:
        raise errors.InvalidModelDirectoryError(f"Architecture {arch!r} is not a {family} model.")
    options: dict[str, Any] = {name: bool(config.get(name, False)) for name in spec.options}
    if num_classes < 1:
        raise errors.InvalidDatasetError("The training data has no class.")
    pretrained = bool(config.get("pretrained", False))
    state = _read_pretrained(config) if pretrained else None  # a missing file fails before building
    head_classes = _head_classes(spec, state) if state is not None else num_classes
    model = _build(spec, head_classes, options)
    if state is not None:
        problem = load_weights(model, state)
        if problem:
            raise errors.CouldNotOpenFileError(f"The pretrained weights at {pretrained_path(config)} do not fit {arch}: {problem}")
        if head_classes != num_classes:
            _replace_head(model, spec, num_classes)
    return model


def _build(spec: ArchitectureSpec, num_classes: int, options: dict):
    import torch

    model = resolve(spec.builder)(num_classes=num_classes, **options)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"the builder of architecture {spec.name!r} (plugin {spec.plugin!r}) returned "
                        f"{type(model).__name__}, not a torch.nn.Module")
    return model


def _head_classes(spec: ArchitectureSpec, state: dict) -> int:
    """How many classes the pretrained head has (its weight's rows), 1000 when it cannot be told."""
    weight = state.get(f"{spec.head}.weight")
    return int(weight.shape[0]) if getattr(weight, "ndim", 0) == 2 else 1000


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


def _replace_head(model, spec: ArchitectureSpec, num_classes: int) -> None:
    """Put a fresh ``nn.Linear`` with ``num_classes`` outputs where ``spec.head`` points."""
    import torch

    old = model.get_submodule(spec.head)
    if not isinstance(old, torch.nn.Linear):
        raise TypeError(f"architecture {spec.name!r}: head {spec.head!r} is a {type(old).__name__}, not a Linear layer")
    model.set_submodule(spec.head, torch.nn.Linear(old.in_features, num_classes))


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
    config = read_json(folder / CONFIG_FILE, folder)
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
    """Load a ModelDirectory; anything else (or a broken one) is InvalidModelDirectory (0159).

    Each file is read once: the bytes whose SHA-256 is checked are the bytes loaded, so a file
    changed between the check and the load cannot slip through. A config without ``input_size``
    (a model saved before input sizes were recorded) gets its architecture's: ``[3, s, s]`` for
    the registered :attr:`~visionblocks.spec.ArchitectureSpec.input_size` ``s``.
    """
    import torch

    folder = Path(folder)
    meta = ports.require_type(folder, ports.MODEL_DIRECTORY, "Trained model", errors.InvalidModelDirectoryError)
    model_type = meta.get("model_type")
    if model_type != MODEL_TYPE:
        raise errors.InvalidModelDirectoryError(
            f"{folder} holds a model of type {model_type or 'unknown'}, not a PyTorch state dict; "
            "legacy pickled models are not loaded.",
            hint="Score classic models with Score Model; train image models with Train PyTorch Model.")
    files = _ModelFiles(folder, read_checked(folder, meta))
    config = files.json(CONFIG_FILE)
    classes = _parse_classes(files.json(CLASSES_FILE), folder)
    transform = files.json(TRANSFORMS_FILE, optional=True)
    if not isinstance(config, dict) or "architecture" not in config:
        raise errors.InvalidModelDirectoryError(f"{folder / CONFIG_FILE} does not name an architecture.")
    if transform is not None and not isinstance(transform, list):
        raise errors.InvalidModelDirectoryError(f"{folder / TRANSFORMS_FILE} is not a list of [op, args] pairs.")
    model_name = str(meta.get("model", MODEL_FILE))
    model_path = folder / model_name
    data = files.read(model_name, optional=True)
    if data is None:
        raise errors.InvalidModelDirectoryError(f"The model directory {folder} has no weights file {model_name}.")
    state = _load_state_dict(data, model_path, torch)
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
    if not config.get("input_size"):
        size = architecture_spec(config["architecture"]).input_size
        config["input_size"] = [3, size, size]
    model.to(device).eval()
    return TrainedModel(model, classes, transform, config)


def _load_state_dict(data: bytes, path: Path, torch):
    """The tensors in ``data`` (the bytes of ``path``), read by torch's weights-only loader, or
    0159 in visionblocks' words. torch's own message would advise loading the file with
    ``weights_only=False``, which runs whatever code the file holds: exactly what must never be
    done with a file from elsewhere."""
    import io
    import pickle

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
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


def read_checked(folder: Path, meta: dict) -> dict[str, bytes]:
    """The bytes of each file whose SHA-256 ``_meta.yaml`` records (by file name), each read once
    and checked: 0159 when a file of the model changed since it was saved. Directories saved
    before sums were recorded carry none and are not checked (an empty dict)."""
    recorded = meta.get("sha256")
    if recorded is None:
        return {}
    if not isinstance(recorded, dict):
        raise errors.InvalidModelDirectoryError(f"{folder / ports.META_FILE} has a malformed sha256 entry.")
    contents: dict[str, bytes] = {}
    for name, expected in recorded.items():
        name = str(name)
        if Path(name).name != name:
            raise errors.InvalidModelDirectoryError(f"{folder / ports.META_FILE} lists a checksum for {name!r}, "
                                                    "which is not a file of the model directory.")
        data = _read_bytes(folder / name)
        if data is None:
            raise errors.InvalidModelDirectoryError(f"The model directory {folder} has no {name}.")
        if hashlib.sha256(data).hexdigest() != expected:
            raise errors.InvalidModelDirectoryError(
                f"{folder / name} was changed after the model was saved: its SHA-256 differs from the one recorded "
                f"in {ports.META_FILE}. The model was not loaded.",
                hint="Use an unmodified copy of the ModelDirectory, or train the model again.")
        contents[name] = data
    return contents


def _read_bytes(path: Path) -> bytes | None:
    """The bytes of ``path``, None when there is no such file; 0159 when it cannot be read."""
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise errors.InvalidModelDirectoryError(f"{path} could not be read: {exc.strerror or exc}.") from exc


class _ModelFiles:
    """The files of one ModelDirectory, each read at most once: those :func:`read_checked` has
    read already come from there, the others from the disk."""

    def __init__(self, folder: Path, checked: dict[str, bytes]):
        self.folder, self._checked = folder, checked

    def read(self, name: str, optional: bool = False) -> bytes | None:
        data = self._checked[name] if name in self._checked else _read_bytes(self.folder / name)
        if data is None and not optional:
            raise errors.InvalidModelDirectoryError(f"{self.folder} has no {name}.")
        return data

    def json(self, name: str, optional: bool = False):
        data = self.read(name, optional)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise errors.InvalidModelDirectoryError(f"{self.folder / name} is not valid JSON: {exc}") from exc


def _parse_classes(raw, folder: Path) -> list[str]:
    if isinstance(raw, dict):  # {id: name}, as the designer's prototypes wrote it
        try:
            return [str(raw[k]) for k in sorted(raw, key=int)]
        except ValueError as exc:
            raise errors.InvalidModelDirectoryError(f"{folder / CLASSES_FILE} has a non-integer class id.") from exc
    if isinstance(raw, list) and raw:
        return [str(c) for c in raw]
    raise errors.InvalidModelDirectoryError(f"{folder / CLASSES_FILE} holds no class names.")


def read_json(path: Path, folder: Path):
    """The JSON in ``path``, a file of the model directory ``folder``; 0159 when it is missing or broken."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise errors.InvalidModelDirectoryError(f"{folder} has no {path.name}.") from exc
    except (OSError, ValueError) as exc:
        raise errors.InvalidModelDirectoryError(f"{path} is not valid JSON: {exc}") from exc
