"""Image transformations: the designer's ordered ``[op, args]`` list turned into a callable.

A TransformationDirectory (designer-spec §3) stores transformations as JSON, for example::

    [["Resize", 256], ["CenterCrop", 224], ["RandomHorizontalFlip", {}],
     ["ToTensor", {}], ["Normalize", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}]]

``args`` is a single value (one positional argument), a list (positional arguments) or a dict
(keyword arguments; ``{}`` means torchvision's defaults). :func:`build_transform` turns such a
list into one callable that takes an RGB PIL image and returns a float32 ``C×H×W`` tensor.
Training, scoring and the web service all build their transform here, so an image goes through
the same steps everywhere.

The operations are those registered through ``visionblocks_register_transforms``: the built-in
ones (:mod:`visionblocks.data.operations`, registered by the ``image_data`` plugin) and any a
plugin adds. Each op's :class:`~visionblocks.spec.TransformSpec` says how it is built, whether
it is random (dropped for inference), tensor-only, or faster on a PIL image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import torch
from PIL import Image
from torchvision.transforms import v2

from visionblocks import errors, params, plugin_host, ports
from visionblocks.spec import TransformSpec, resolve

TRAINING = "training"
INFERENCE = "inference"
MODES = (TRAINING, INFERENCE)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

from visionblocks.ports import TRANSFORMS_FILE  # noqa: E402 - re-exported for TransformationDirectory users
TRANSFORM_TYPE = "Image"

# Ops the designer's serialized form allows but that return several images per input (for
# test-time augmentation); a classification loader needs exactly one C×H×W tensor per image.
MULTI_IMAGE_OPS = frozenset({"FiveCrop", "TenCrop"})


def pil_to_uint8(image: Image.Image) -> torch.Tensor:
    """A PIL image as a uint8 C×H×W tensor (a view of one copy of its bytes; about twice as fast
    as torchvision's pil_to_tensor on small images, where per-image overhead dominates)."""
    if image.mode not in ("RGB", "L"):
        return v2.functional.pil_to_tensor(image)
    channels = 3 if image.mode == "RGB" else 1
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, channels).permute(2, 0, 1)


def uint8_to_pil(tensor: torch.Tensor) -> Image.Image:
    """A uint8 C×H×W tensor with 1 or 3 channels as a PIL image."""
    array = tensor.permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array, "L" if array.shape[2] == 1 else "RGB")


class ToFloatTensor:
    """uint8 tensor (or PIL image) → float32 C×H×W tensor in [0, 1]: torchvision's ToTensor."""

    def __call__(self, image):
        if isinstance(image, Image.Image):
            image = pil_to_uint8(image)
        # Tensor kernels (resize) may hand back a channels-last layout; a contiguous C×H×W tensor
        # keeps the per-channel arithmetic after it fast (7x for Normalize) and collates cheaply.
        tensor = image.to(torch.float32, memory_format=torch.contiguous_format)
        return tensor.div_(255) if image.dtype == torch.uint8 else tensor

    def __repr__(self) -> str:
        return "ToTensor()"


class ToPIL:
    def __call__(self, image):
        if isinstance(image, Image.Image):
            return image
        return uint8_to_pil(image) if image.dtype == torch.uint8 else v2.functional.to_pil_image(image)

    def __repr__(self) -> str:
        return "ToPILImage()"


class Normalize:
    """(image − mean) / std per channel, computed as ``image · (1/std) + (−mean/std)``: a
    multiply-add is several times faster than torchvision's broadcast division on a CPU."""

    def __init__(self, mean, std, inplace: bool = False):
        mean = [float(m) for m in (mean if isinstance(mean, (list, tuple)) else [mean])]
        std = [float(s) for s in (std if isinstance(std, (list, tuple)) else [std])]
        if len(mean) != len(std) or not mean:
            raise ValueError(f"mean and std need the same number of values, got {len(mean)} and {len(std)}")
        if any(s == 0 for s in std):
            raise ValueError("std must not contain 0")
        self.mean, self.std, self.inplace = mean, std, inplace
        self._scale = torch.tensor([1.0 / s for s in std]).view(-1, 1, 1)
        self._bias = torch.tensor([-m / s for m, s in zip(mean, std)]).view(-1, 1, 1)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            raise TypeError("Normalize needs a float tensor; put ToTensor before it")
        if len(self.mean) not in (1, image.shape[-3]):
            raise ValueError(f"Normalize has {len(self.mean)} channel values but the image has {image.shape[-3]} channels")
        out = image.mul_(self._scale) if self.inplace else image.mul(self._scale)
        return out.add_(self._bias)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def operation(name: str) -> TransformSpec:
    """The registered operation called ``name`` (InvalidTransformationDirectory, 0158, when none is)."""
    registry = plugin_host.get_transforms()
    if name not in registry:
        raise _invalid(f"unknown operation {name!r}; known: {', '.join(sorted(registry.names()))}")
    return registry.get(name)


def known_operations() -> list[str]:
    """The names of every registered operation, sorted."""
    return sorted(plugin_host.get_transforms().names())


def _invalid(reason: str) -> errors.ModuleError:
    return errors.InvalidTransformationDirectoryError(
        f'TransformationDirectory "Input image transformation" is invalid. Reason: {reason}.',
        hint="Create the transformation with Init Image Transformation.",
    )


def normalize_ops(ops: Iterable) -> list[list]:
    """Check the shape of an ``[op, args]`` list and return it as plain lists (JSON form)."""
    if not isinstance(ops, (list, tuple)):
        raise _invalid(f"expected a list of [op, args] pairs, got {type(ops).__name__}")
    checked = []
    for position, item in enumerate(ops):
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str):
            raise _invalid(f"item {position} is {item!r}, not an [op, args] pair")
        name, args = item
        if name in MULTI_IMAGE_OPS:
            raise _invalid(f"{name} returns several images per input, which image classification cannot load")
        if name not in plugin_host.get_transforms():
            raise _invalid(f"unknown operation {name!r} at position {position}; known: {', '.join(known_operations())}")
        checked.append([name, list(args) if isinstance(args, tuple) else args])
    return checked


def for_mode(ops: Iterable, mode: str) -> list[list]:
    """The ops that run in ``mode``: everything for training, no random op for inference."""
    if mode not in MODES:
        raise errors.NotInRangeValueError(f"transform mode {mode!r} is not one of: {', '.join(MODES)}.")
    ops = normalize_ops(ops)
    return ops if mode == TRAINING else [op for op in ops if not operation(op[0]).random]


def with_to_tensor(ops: list[list]) -> list[list]:
    """Insert ToTensor before the first tensor-only op, or append it, when the ops leave a PIL image."""
    result, on_tensor = [], False
    for name, args in ops:
        if operation(name).tensor_only and not on_tensor:
            result.append(["ToTensor", {}])
            on_tensor = True
        elif name == "ToTensor" and on_tensor:
            continue  # already a tensor: a second ToTensor would fail on it
        result.append([name, args])
        if name == "ToTensor":
            on_tensor = True
        elif name == "ToPILImage":
            on_tensor = False
    if not on_tensor:
        result.append(["ToTensor", {}])
    return result


def make_op(name: str, args: Any):
    """The step ``[name, args]`` stands for, built by its registered operation."""
    spec = operation(name)
    try:
        if spec.params:
            return resolve(spec.build)(**check_arguments(spec, args))
        factory = resolve(spec.build)
        if isinstance(args, dict):
            return factory(**args)
        if isinstance(args, list):
            return factory(*args)
        return factory(args)
    except errors.ModuleError as exc:  # an argument its declared parameters refuse
        raise _invalid(exc.message) from exc
    except (TypeError, ValueError) as exc:
        raise _invalid(f"{name} does not accept arguments {json.dumps(args)}: {exc}") from exc


def check_arguments(spec: TransformSpec, args: Any) -> dict[str, Any]:
    """The keyword arguments of an operation with declared parameters, checked with the
    designer's codes: an unknown or surplus argument and a wrong type are 0002, a missing
    required one 0003, a value out of range 0004/0005/0007/0008 (see :mod:`visionblocks.params`).
    ``args`` is a dict (by name), a list (in the parameters' order) or one value (the first)."""
    declared = spec.params
    if isinstance(args, dict):
        given = dict(args)
    elif isinstance(args, (list, tuple)):
        if len(args) > len(declared):
            raise errors.ParameterParsingError(
                f"Operation '{spec.name}' takes at most {len(declared)} arguments "
                f"({', '.join(p.name for p in declared)}), got {len(args)}.")
        given = {param.name: value for param, value in zip(declared, args)}
    else:
        given = {declared[0].name: args}
    unknown = sorted(set(given) - {param.name for param in declared})
    if unknown:
        raise errors.ParameterParsingError(
            f"Operation '{spec.name}' has no argument {', '.join(repr(u) for u in unknown)}; "
            f"known arguments: {', '.join(p.name for p in declared)}.")
    checked: dict[str, Any] = {}
    for param in declared:
        value = given.get(param.name, param.default)
        if value is None:
            if param.required:
                raise errors.NullOrEmptyError(f"Operation '{spec.name}' needs the argument '{param.name}' ({param.label}).")
            continue
        value = params.coerce(param, value)
        params.check(param, value)
        checked[param.name] = value
    return checked


def _check_channels(ops: list[list], steps: list) -> None:
    """Refuse, before any image is loaded, a Normalize whose channel count the image cannot have
    (a one-channel Grayscale followed by a three-channel Normalize)."""
    channels = 3
    for (name, _), step in zip(ops, steps):
        if name == "Grayscale":
            channels = step.num_output_channels
        elif name == "Normalize" and len(step.mean) not in (1, channels):
            raise _invalid(f"Normalize has {len(step.mean)} channel values but the image has {channels} "
                           "channel(s) at that point (Grayscale gives 1 unless num_output_channels is 3)")


class Transform:
    """An RGB image (PIL or uint8 C×H×W tensor) → float32 C×H×W tensor, through the listed ops.

    Each op gets the image in the form it is fastest on (an op that ``prefers_pil`` a PIL image,
    the others a tensor); an 8-bit image converts both ways without loss. Random ops draw new
    parameters at every call (from torch's random generator)."""

    def __init__(self, ops: list[list]):
        self.ops = ops
        self.steps = [make_op(name, args) for name, args in ops]
        self._wants_pil = [operation(name).prefers_pil for name, _ in ops]
        _check_channels(ops, self.steps)

    def __call__(self, image) -> torch.Tensor:
        for step, wants_pil in zip(self.steps, self._wants_pil):
            if isinstance(image, Image.Image):
                if not wants_pil:
                    image = pil_to_uint8(image)
            elif wants_pil and image.dtype == torch.uint8 and image.shape[0] in (1, 3):
                image = uint8_to_pil(image)
            image = step(image)
        if isinstance(image, Image.Image):  # only when the list ends on a PIL-preferring op
            image = pil_to_uint8(image)
        # v2 ops may return torchvision's tv_tensors.Image; callers get a plain tensor.
        return image.as_subclass(torch.Tensor) if type(image) is not torch.Tensor else image

    def __repr__(self) -> str:
        lines = ",\n".join(f"    {step!r}" for step in self.steps)
        return f"Transform(\n{lines}\n)"


def build_transform(ops: Iterable, mode: str = INFERENCE) -> Transform:
    """The callable for ``ops`` in ``mode`` ("training" or "inference").

    Inference drops the random operations. A ToTensor is added where the ops leave a PIL image
    (before a tensor-only op such as Normalize and RandomErasing, or at the end). Unknown ops or arguments torchvision
    refuses raise InvalidTransformationDirectory (0158).
    """
    return Transform(with_to_tensor(for_mode(ops, mode)))


def leading_deterministic(ops: list[list], names=frozenset({"Resize", "CenterCrop", "Pad"})) -> int:
    """How many leading ops are deterministic size changes on uint8 images, which Apply Image
    Transformation may bake into the stored files without changing what a loader sees."""
    count = 0
    for name, _ in ops:
        if name not in names:
            break
        count += 1
    return count


# -- Init Image Transformation's options ----------------------------------------------------------
# Color jitter strength: the designer writes ColorJitter with torchvision's defaults, which change
# nothing; these values (torchvision's reference recipes) make the option do what its name says.
COLOR_JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4}


def designer_ops(options: dict) -> list[list]:
    """The ``[op, args]`` list for Init Image Transformation's options, in the designer's order
    (the order of its options), then the Additional operations (``operations``: JSON, see
    :func:`parse_operations`), then ToTensor, Normalize and RandomErasing (which need tensors)."""
    o = options
    extra = parse_operations(o.get("operations") or "")
    ops: list[list] = []
    if o.get("resize"):
        ops.append(["Resize", o["size"]])
    if o.get("center_crop"):
        ops.append(["CenterCrop", o["crop_size"]])
    if o.get("pad"):
        ops.append(["Pad", o["padding"]])
    if o.get("color_jitter"):
        ops.append(["ColorJitter", dict(COLOR_JITTER)])
    if o.get("grayscale"):
        ops.append(["Grayscale", {"num_output_channels": 3}])  # 3 channels: models expect RGB input
    if o.get("random_resized_crop"):
        ops.append(["RandomResizedCrop", o["random_size"]])
    if o.get("random_crop"):
        ops.append(["RandomCrop", {"size": o["random_crop_size"], "pad_if_needed": True}])
    if o.get("random_horizontal_flip"):
        ops.append(["RandomHorizontalFlip", {}])
    if o.get("random_vertical_flip"):
        ops.append(["RandomVerticalFlip", {}])
    if o.get("random_rotation"):
        ops.append(["RandomRotation", o["random_rotation_degrees"]])
    if o.get("random_affine"):
        ops.append(["RandomAffine", o["random_affine_degrees"]])
    if o.get("random_grayscale"):
        ops.append(["RandomGrayscale", {}])
    if o.get("random_perspective"):
        ops.append(["RandomPerspective", {}])
    ops.extend(extra)
    ops.append(["ToTensor", {}])
    if o.get("normalize"):
        ops.append(["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}])
    if o.get("random_erasing"):
        ops.append(["RandomErasing", {}])
    return ops


OPERATIONS_PARAMETER = "parameter 'operations' (Additional operations)"


def parse_operations(text: str) -> list[list]:
    """Init Image Transformation's Additional operations: a JSON list of ``[name, arguments]``
    pairs naming registered operations (``[["RandomInvert", {"p": 0.2}]]``), checked with the
    designer's parameter codes: text that is not such a list is 0002, an unknown operation 0008,
    arguments its declared parameters refuse their own code, other refused arguments 0002."""
    if not text.strip():
        return []
    try:
        ops = json.loads(text)
    except ValueError as exc:
        raise errors.ParameterParsingError(f"Failed to parse {OPERATIONS_PARAMETER}: it is not JSON ({exc}).",
                                           hint='Write a list of [name, arguments] pairs, e.g. [["RandomInvert", {"p": 0.2}]].') from None
    if not isinstance(ops, list) or not all(isinstance(op, list) and len(op) == 2 and isinstance(op[0], str)
                                            for op in ops):
        raise errors.ParameterParsingError(
            f"Failed to parse {OPERATIONS_PARAMETER}: expected a list of [name, arguments] pairs, got {text.strip()!r}.")
    registry = plugin_host.get_transforms()
    for name, args in ops:
        if name not in registry or name in MULTI_IMAGE_OPS:
            raise errors.NotInRangeValueError(
                f"{OPERATIONS_PARAMETER}: {name!r} is not one of the registered operations: "
                f"{', '.join(known_operations())}.",
                hint="Run 'visionblocks plugins' to see which plugin adds which operation.")
        spec = registry.get(name)
        if spec.params:
            try:
                check_arguments(spec, args)
            except errors.ModuleError as exc:
                raise type(exc)(f"{OPERATIONS_PARAMETER}, operation {name!r}: {exc.message}") from None
        else:
            try:
                make_op(name, args)
            except errors.InvalidTransformationDirectoryError as exc:
                raise errors.ParameterParsingError(f"{OPERATIONS_PARAMETER}, operation {name!r}: {exc.message}") from None
    return ops


# -- TransformationDirectory on disk ---------------------------------------------------------------
def write_transformation_directory(folder: str | Path, ops: Iterable) -> list[list]:
    """Write ``ops`` as a TransformationDirectory (``_meta.yaml`` + readable ``_transforms.json``)."""
    folder = Path(folder)
    ops = normalize_ops(ops)
    for name, args in ops:
        make_op(name, args)  # refuse arguments torchvision would refuse later, now
    (folder / TRANSFORMS_FILE).write_text(json.dumps(ops, indent=2) + "\n", encoding="utf-8")
    ports.write_meta(folder, ports.TRANSFORMATION_DIRECTORY, transform_type=TRANSFORM_TYPE,
                     transforms=TRANSFORMS_FILE)
    return ops


def read_transformation_directory(folder: str | Path) -> list[list]:
    """The ``[op, args]`` list of a TransformationDirectory made by Init Image Transformation."""
    folder = Path(folder)
    meta = ports.require_type(folder, ports.TRANSFORMATION_DIRECTORY, "Input image transformation",
                              errors.InvalidTransformationDirectoryError)
    if meta.get("transform_type") != TRANSFORM_TYPE:
        raise _invalid(f"transform_type is {meta.get('transform_type')!r}, not {TRANSFORM_TYPE!r} "
                       "(non-image transformations belong to Apply Transformation)")
    path = folder / str(meta.get("transforms", TRANSFORMS_FILE))
    try:
        ops = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _invalid(f"{path.name} cannot be read as JSON: {exc}") from exc
    ops = normalize_ops(ops)
    for name, args in ops:
        make_op(name, args)
    return ops
