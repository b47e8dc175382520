"""The built-in image transform operations, as the ``image_data`` plugin registers them.

Each is a :class:`~visionblocks.spec.TransformSpec`: the op name the designer's serialized
transformations use, the class that builds it (torchvision's v2 class, or visionblocks' faster
equivalent in :mod:`visionblocks.data.transforms`, named as a string so this table imports no
torch), and three flags the transform engine reads:

- ``random``: an augmentation, dropped for inference. These are the ops Apply Image
  Transformation drops "For inference" (designer-spec §4), plus ColorJitter: the designer writes
  ``["ColorJitter", {}]``, which changes nothing, so keeping it at inference was harmless there;
  visionblocks' Color jitter really jitters, so it is dropped too.
- ``tensor_only``: accepts only tensors, so a ToTensor is put in front when the list has none.
- ``prefers_pil``: runs several times faster on a PIL image than on a tensor on a CPU (rotations
  and perspective build a sampling grid on tensors; PIL maps pixels directly). Every other op runs
  on a uint8 C×H×W tensor: resizing, cropping and normalizing are faster there. Measured with
  benchmarks/bench_loading.py; see DESIGN.md.

FiveCrop and TenCrop are not here: the designer's serialized form allows them, but they return
several images per input, which image classification cannot load (see
:data:`visionblocks.data.transforms.MULTI_IMAGE_OPS`).
"""

from __future__ import annotations

from visionblocks.spec import TransformSpec

_OURS = "visionblocks.data.transforms"
_V2 = "torchvision.transforms.v2"


def _op(name: str, build: str | None = None, *, random: bool = False, tensor_only: bool = False,
        prefers_pil: bool = False) -> TransformSpec:
    return TransformSpec(name=name, build=build or f"{_V2}:{name}", random=random, tensor_only=tensor_only,
                         prefers_pil=prefers_pil)


BUILTIN_OPERATIONS = (
    _op("ToTensor", f"{_OURS}:ToFloatTensor"),
    _op("ToPILImage", f"{_OURS}:ToPIL", prefers_pil=True),
    _op("Normalize", f"{_OURS}:Normalize", tensor_only=True),
    _op("Resize"),
    _op("CenterCrop"),
    _op("Pad"),
    _op("Grayscale"),
    _op("RandomCrop", random=True),
    _op("RandomHorizontalFlip", random=True),
    _op("RandomVerticalFlip", random=True),
    _op("RandomResizedCrop", random=True),
    _op("ColorJitter", random=True, prefers_pil=True),
    _op("RandomRotation", random=True, prefers_pil=True),
    _op("RandomAffine", random=True, prefers_pil=True),
    _op("RandomGrayscale", random=True),
    _op("RandomPerspective", random=True, prefers_pil=True),
    _op("RandomErasing", random=True, tensor_only=True),
)
