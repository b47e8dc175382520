"""The plugin: what it adds to visionblocks, one hook each. The entry point names this module."""

from importlib.resources import files

import visionblocks
from visionblocks.spec import ArchitectureSpec, Param, TransformSpec

from visionblocks_mobilenet.module import MOBILENET

# torchvision's builders take num_classes, as visionblocks calls them; the weights are
# torchvision's ImageNet ones, and head is the last nn.Linear, resized to the training classes.
ARCHITECTURES = (
    ArchitectureSpec(name="mobilenet_v3_small", family="mobilenet", builder="torchvision.models:mobilenet_v3_small",
                     weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1", head="classifier.3"),
    ArchitectureSpec(name="mobilenet_v3_large", family="mobilenet", builder="torchvision.models:mobilenet_v3_large",
                     weights="MobileNet_V3_Large_Weights.IMAGENET1K_V1", head="classifier.3"),
    ArchitectureSpec(name="mobilenet_v2", family="mobilenet", builder="torchvision.models:mobilenet_v2",
                     weights="MobileNet_V2_Weights.IMAGENET1K_V1", head="classifier.1"),
)

GAUSSIAN_NOISE = TransformSpec(
    name="RandomGaussianNoise",
    build="visionblocks_mobilenet.noise:RandomGaussianNoise",
    params=(Param("std", "float", "Standard deviation", "Standard deviation of the noise, on the 0 to 1 pixel scale.",
                  default=0.05, min=0, max=1),
            Param("p", "float", "Probability", "Probability that an image gets noise.", default=0.5, min=0, max=1)),
    random=True,  # an augmentation: left out for inference
    tensor_only=True,  # works on float tensors; visionblocks puts To tensor before it
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(MOBILENET)


@visionblocks.hookimpl
def visionblocks_register_architectures(register):
    for spec in ARCHITECTURES:
        register(spec)


@visionblocks.hookimpl
def visionblocks_register_transforms(register):
    register(GAUSSIAN_NOISE)


@visionblocks.hookimpl
def visionblocks_register_commands(subparsers):
    from visionblocks_mobilenet.command import add_command

    add_command(subparsers)


@visionblocks.hookimpl
def visionblocks_translation_dirs():
    return [files("visionblocks_mobilenet") / "translations"]
