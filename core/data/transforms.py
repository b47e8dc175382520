"""Image transformations: the designer's ordered ``[op, args]`` list turned into a callable.

A TransformationDirectory (designer-spec §3) stores transformations as JSON, for example::

    [["Resize", 256], ["CenterCrop", 224], ["RandomHorizontalFlip", {}],
     ["ToTensor", {}], ["Normalize", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}]]

``args`` is a single value (one positional argument), a list (positional arguments) or a dict
(keyword arguments; ``{}`` means torchvision's defaults). :func:`build_transform` turns such a
list into one callable that takes an RGB PIL image and returns a float32 ``C×H×W`` tensor.
Training, scoring and the web service all build their transform here, so an image goes through
the same steps everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from PIL import Image
from torchvision.transforms import v2

from visionblocks import errors, ports

TRAINING = "training"
INFERENCE = "inference"
MODES = (TRAINING, INFERENCE)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

from visionblocks.ports import TRANSFORMS_FILE  # noqa: E402 - re-exported for TransformationDirectory users
TRANSFORM_TYPE = "Image"

# Augmentations that Apply Image Transformation drops "For inference" (designer-spec §4), plus
# ColorJitter: the designer writes ``["ColorJitter", {}]``, which changes nothing, so keeping it
# at inference was harmless there; visionblocks' Color jitter really jitters, so it is dropped too.
RANDOM_OPS = frozenset({
    "RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomAffine", "RandomGrayscale", "RandomPerspective", "RandomErasing", "ColorJitter",
})

# Ops that only accept tensors: a ToTensor is put in front of them when the list has none.
TENSOR_ONLY_OPS = frozenset({"Normalize", "RandomErasing"})

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


# Ops that run several times faster on a PIL image than on a tensor on a CPU (rotations and
# perspective build a sampling grid on tensors; PIL maps pixels directly). Every other op runs on
# a uint8 C×H×W tensor: resizing, cropping and normalizing are faster there. Measured with
# benchmarks/bench_loading.py; see DESIGN.md.
PIL_PREFERRED_OPS = frozenset({"RandomRotation", "RandomAffine", "RandomPerspective", "ColorJitter", "ToPILImage"})

# Op name → factory. torchvision's v2 classes accept PIL images and tensors alike.
_FACTORIES: dict[str, Callable[..., Any]] = {
    "ToTensor": ToFloatTensor,
    "ToPILImage": ToPIL,
    "Normalize": Normalize,
    "Resize": v2.Resize,
    "CenterCrop": v2.CenterCrop,
    "Pad": v2.Pad,
    "RandomCrop": v2.RandomCrop,
    "RandomHorizontalFlip": v2.RandomHorizontalFlip,
    "RandomVerticalFlip": v2.RandomVerticalFlip,
    "RandomResizedCrop": v2.RandomResizedCrop,
    "ColorJitter": v2.ColorJitter,
    "RandomRotation": v2.RandomRotation,
    "RandomAffine": v2.RandomAffine,
    "Grayscale": v2.Grayscale,
    "RandomGrayscale": v2.RandomGrayscale,
    "RandomPerspective": v2.RandomPerspective,
    "RandomErasing": v2.RandomErasing,
}
KNOWN_OPS = frozenset(_FACTORIES) | MULTI_IMAGE_OPS


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
        if name not in KNOWN_OPS:
            raise _invalid(f"unknown operation {name!r} at position {position}; known: {', '.join(sorted(KNOWN_OPS))}")
        if name in MULTI_IMAGE_OPS:
            raise _invalid(f"{name} returns several images per input, which image classification cannot load")
        checked.append([name, list(args) if isinstance(args, tuple) else args])
    return checked


def for_mode(ops: Iterable, mode: str) -> list[list]:
    """The ops that run in ``mode``: everything for training, no random op for inference."""
    if mode not in MODES:
        raise errors.NotInRangeValueError(f"transform mode {mode!r} is not one of: {', '.join(MODES)}.")
    ops = normalize_ops(ops)
    return ops if mode == TRAINING else [op for op in ops if op[0] not in RANDOM_OPS]


def with_to_tensor(ops: list[list]) -> list[list]:
    """Insert ToTensor before the first tensor-only op, or append it, when the ops leave a PIL image."""
    result, on_tensor = [], False
    for name, args in ops:
        if name in TENSOR_ONLY_OPS and not on_tensor:
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
    factory = _FACTORIES.get(name)
    if factory is None:
        raise _invalid(f"unknown operation {name!r}")
    try:
        if isinstance(args, dict):
            return factory(**args)
        if isinstance(args, list):
            return factory(*args)
        return factory(args)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"{name} does not accept arguments {json.dumps(args)}: {exc}") from exc


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

    Each op gets the image in the form it is fastest on (:data:`PIL_PREFERRED_OPS` a PIL image,
    the others a tensor); an 8-bit image converts both ways without loss. Random ops draw new
    parameters at every call (from torch's random generator)."""

    def __init__(self, ops: list[list]):
        self.ops = ops
        self.steps = [make_op(name, args) for name, args in ops]
        self._wants_pil = [name in PIL_PREFERRED_OPS for name, _ in ops]
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

    Inference drops :data:`RANDOM_OPS`. A ToTensor is added where the ops leave a PIL image
    (before Normalize and RandomErasing, or at the end). Unknown ops or arguments torchvision
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
    (the order of its options), then ToTensor, Normalize and RandomErasing (which need tensors)."""
    o = options
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
    ops.append(["ToTensor", {}])
    if o.get("normalize"):
        ops.append(["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}])
    if o.get("random_erasing"):
        ops.append(["RandomErasing", {}])
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
