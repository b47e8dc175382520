"""Built-in plugin: the image classification architectures ResNet and DenseNet.

Each module writes an UntrainedModelDirectory: the architecture name and its options as JSON,
never pickled code. Train PyTorch Model builds the network from it and sizes the classifier
head to the training data's classes.

The architectures themselves (torchvision's builders and ImageNet weights) are registered through
``visionblocks_register_architectures``, the hook a third-party plugin uses to add one; each
module's Model name offers every registered architecture of its family.
"""

from __future__ import annotations

import visionblocks
from visionblocks import errors, ports
from visionblocks.learn.choices import architecture_choices
from visionblocks.learn.weights import PRETRAINED_WEIGHTS
from visionblocks.spec import ArchitectureSpec, ModuleSpec, Param, Port

CATEGORY = "Computer Vision / Image Classification"


def _torchvision(name: str, weights: str, family: str, head: str, option: str) -> ArchitectureSpec:
    """A torchvision architecture: built by ``torchvision.models.<name>`` (imported when a model is
    built), with the IMAGENET1K_V1 weights torchvision publishes (the designer's ``pretrained=True``)."""
    return ArchitectureSpec(name=name, family=family, builder=f"torchvision.models:{name}", input_size=224,
                            weights=f"{weights}.{PRETRAINED_WEIGHTS}", head=head, options=(option,))


def _resnet(name: str, weights: str) -> ArchitectureSpec:
    return _torchvision(name, weights, "resnet", "fc", "zero_init_residual")


def _densenet(name: str, weights: str) -> ArchitectureSpec:
    return _torchvision(name, weights, "densenet", "classifier", "memory_efficient")


ARCHITECTURES = (
    _resnet("resnet18", "ResNet18_Weights"),
    _resnet("resnet34", "ResNet34_Weights"),
    _resnet("resnet50", "ResNet50_Weights"),
    _resnet("resnet101", "ResNet101_Weights"),
    _resnet("resnet152", "ResNet152_Weights"),
    _resnet("resnext50_32x4d", "ResNeXt50_32X4D_Weights"),
    _resnet("resnext101_32x8d", "ResNeXt101_32X8D_Weights"),
    _resnet("wide_resnet50_2", "Wide_ResNet50_2_Weights"),
    _resnet("wide_resnet101_2", "Wide_ResNet101_2_Weights"),
    _densenet("densenet121", "DenseNet121_Weights"),
    _densenet("densenet161", "DenseNet161_Weights"),
    _densenet("densenet169", "DenseNet169_Weights"),
    _densenet("densenet201", "DenseNet201_Weights"),
)

_OUTPUT = Port("untrained_model", ports.UNTRAINED_MODEL_DIRECTORY, "Untrained model",
               "The architecture and its options, to connect to the **Untrained model** input of Train PyTorch Model.")


def _pretrained_param() -> Param:
    return Param("pretrained", "bool", "Pretrained",
                 "Start from weights trained on ImageNet and fine-tune them, instead of starting from random "
                 "weights. The weights file is read from **Weights path**, or from the local torch hub cache, "
                 "where it is downloaded and checked the first time unless downloads are turned off.",
                 default=True)


def _weights_path_param() -> Param:
    return Param("weights_path", "path", "Weights path",
                 "Optional path of the ImageNet weights file to use when **Pretrained** is on. When empty, the file "
                 "is looked up in the torch hub cache under the name torchvision gives it.",
                 default=None, enabled_by="pretrained")


def _write(ctx, config: dict) -> None:
    from visionblocks.learn import models

    if config["pretrained"]:
        # Fetch (or fail) here, at the first module, rather than after the data has been prepared.
        models.require_pretrained_file(config, ctx.progress)
    models.save_untrained(ctx.outputs["untrained_model"], config)
    weights = f"ImageNet weights from {models.pretrained_path(config)}" if config["pretrained"] else "random weights"
    ctx.progress.log(f"{config['architecture']} with {weights}")


def run_resnet(ctx) -> None:
    from visionblocks.learn import models

    p = ctx.params
    _write(ctx, models.untrained_config(p["model_name"], p["pretrained"], p["weights_path"],
                                        zero_init_residual=p["zero_init_residual"]))


def run_densenet(ctx) -> None:
    from visionblocks.learn import models

    p = ctx.params
    _write(ctx, models.untrained_config(p["model_name"], p["pretrained"], p["weights_path"],
                                        memory_efficient=p["memory_efficient"]))


_EXAMPLE = '''Create an untrained `{arch}` model that will learn from random weights:

```python
>>> import json
>>> import visionblocks as vb
>>> result = vb.run_module("{id}", params={{"model_name": "{arch}", "pretrained": False}}, out="runs/{id}")
>>> config = json.loads((result.outputs["untrained_model"] / "_config.json").read_text())
>>> config["architecture"], config["pretrained"], config["weights_path"]
('{arch}', False, None)

```
'''

_OFFLINE_NOTE = ("With **Pretrained** on, the weights are read from the file given as **Weights path**, or from the file "
                 "torchvision caches, for example `$TORCH_HOME/hub/checkpoints/{file}` for {arch}. When that "
                 "file is missing, it is downloaded from torchvision's address, or from the mirror that "
                 "`VISIONBLOCKS_WEIGHTS_MIRROR` names, and kept only when its SHA-256 matches the hash in its "
                 "name. With `VISIONBLOCKS_OFFLINE=1` nothing is downloaded and the error names the exact path "
                 "to put the file at; see [Pretrained weights, mirrors and offline machines]"
                 "(../pretrained-weights.md).")
_WEIGHTS_NOTE = ("**Pretrained** means torchvision's IMAGENET1K_V1 weights, the ones the designer's `pretrained=True` "
                 "loaded.")

RESNET = ModuleSpec(
    id="resnet",
    name="ResNet",
    category=CATEGORY,
    summary="Creates an image classification model with the ResNet architecture.",
    description=(
        "ResNet is a family of deep convolutional networks built from residual blocks, in which each "
        "block adds its input to its output, so that very deep networks can still be trained. This "
        "module chooses one ResNet, ResNeXt or Wide ResNet variant and its options and writes them as "
        "an untrained model. Connect the output to Train PyTorch Model together with a labeled image "
        "directory; training sizes the last layer to the number of classes in the training images. "
        "Larger variants are more accurate on large data sets but train much more slowly."
    ),
    steps=(
        "Add the ResNet module to your pipeline.",
        "In **Model name**, choose the variant, for example resnet18 for a small, fast model or "
        "resnext101_32x8d for the most accurate one.",
        "Turn **Pretrained** on to fine-tune ImageNet weights, which needs much less data, or off to train from "
        "random weights. With **Pretrained** on, the weights are downloaded the first time unless this machine is "
        "offline; then put the weights file on this machine first.",
        "Optionally turn on **Zero init residual**.",
        "Connect the **Untrained model** output to the first input of Train PyTorch Model.",
    ),
    outputs=(_OUTPUT,),
    params=(
        Param("model_name", "enum", "Model name", "The ResNet variant to use.",
              default="resnext101_32x8d", choices=architecture_choices("resnet")),
        _pretrained_param(),
        Param("zero_init_residual", "bool", "Zero init residual",
              "Set the last batch normalization of each residual block to zero at the start, so every block "
              "starts as an identity mapping. This often helps training from random weights.", default=False),
        _weights_path_param(),
    ),
    errors=(errors.NotInRangeValueError, errors.ParameterParsingError, errors.CouldNotOpenFileError),
    related=("densenet", "train-pytorch-model", "score-image-model"),
    examples=(_EXAMPLE.format(id="resnet", arch="resnet18"),),
    notes=(
        _OFFLINE_NOTE.format(file="resnet18-f37072fd.pth", arch="resnet18"),
        _WEIGHTS_NOTE,
        "Missing weights are downloaded, or reported, when this module runs, not only later during training.",
    ),
    run=run_resnet,
)

DENSENET = ModuleSpec(
    id="densenet",
    name="DenseNet",
    category=CATEGORY,
    summary="Creates an image classification model with the DenseNet architecture.",
    description=(
        "DenseNet is a family of convolutional networks in which every layer of a block receives the "
        "feature maps of all layers before it, which reuses features and needs fewer parameters than "
        "other networks of the same accuracy. This module chooses a DenseNet variant and its options "
        "and writes them as an untrained model. Connect the output to Train PyTorch Model together "
        "with a labeled image directory; training sizes the last layer to the number of classes in "
        "the training images."
    ),
    steps=(
        "Add the DenseNet module to your pipeline.",
        "In **Model name**, choose the variant: densenet121 is the smallest, densenet201 the deepest.",
        "Turn **Pretrained** on to fine-tune ImageNet weights, or off to train from random weights. With "
        "**Pretrained** on, the weights are downloaded the first time unless this machine is offline; then put "
        "the weights file on this machine first.",
        "Turn **Memory efficient** on when training runs out of memory; training is then slower.",
        "Connect the **Untrained model** output to the first input of Train PyTorch Model.",
    ),
    outputs=(_OUTPUT,),
    params=(
        Param("model_name", "enum", "Model name", "The DenseNet variant to use.",
              default="densenet201", choices=architecture_choices("densenet")),
        _pretrained_param(),
        Param("memory_efficient", "bool", "Memory efficient",
              "Use gradient checkpointing: intermediate results are recomputed during the backward pass "
              "instead of kept, which uses much less memory and takes longer.", default=False),
        _weights_path_param(),
    ),
    errors=(errors.NotInRangeValueError, errors.ParameterParsingError, errors.CouldNotOpenFileError),
    related=("resnet", "train-pytorch-model", "score-image-model"),
    examples=(_EXAMPLE.format(id="densenet", arch="densenet121"),),
    notes=(
        _OFFLINE_NOTE.format(file="densenet121-a639ec97.pth", arch="densenet121"),
        _WEIGHTS_NOTE,
        "Missing weights are downloaded, or reported, when this module runs, not only later during training.",
    ),
    run=run_densenet,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(RESNET)
    register(DENSENET)


@visionblocks.hookimpl
def visionblocks_register_architectures(register):
    for spec in ARCHITECTURES:
        register(spec)
