"""The module MobileNet: an untrained MobileNet for Train PyTorch Model.

Like the built-in ResNet and DenseNet modules, it writes an UntrainedModelDirectory (the
architecture's name and options as JSON); Train PyTorch Model builds the network through the
architecture registered in plugin.py and sizes its head to the training data's classes.
"""

from visionblocks import errors, ports
from visionblocks.learn.choices import architecture_choices
from visionblocks.spec import ModuleSpec, Param, Port


def run_mobilenet(ctx) -> None:
    from visionblocks.learn import models

    config = models.untrained_config(ctx.params["model_name"], ctx.params["pretrained"], ctx.params["weights_path"])
    if config["pretrained"]:
        models.require_pretrained_file(config, ctx.progress)  # fetch (or fail) now, not after the data is ready
    models.save_untrained(ctx.outputs["untrained_model"], config)
    ctx.progress.log(f"{config['architecture']}, pretrained: {config['pretrained']}")


EXAMPLE = '''Train a small MobileNet for one epoch on a few of the bundled digits, with the plugin's noise added to the training images, then score the images:

```python
>>> import pandas as pd
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> raw = write_digits("raw", size=16, per_class=1)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="images")
>>> noise = vb.run_module("init-image-transformation", out="noise", params={
...     "resize": False, "center_crop": False, "random_horizontal_flip": False,
...     "operations": '[["RandomGaussianNoise", {"std": 0.1}]]'})
>>> noisy = vb.run_module(
...     "apply-image-transformation", params={"mode": "For training"}, out="noisy",
...     inputs={"input_image_directory": images.outputs["output_image_directory"],
...             "input_image_transformation": noise.outputs["output_image_transformation"]})
>>> mobilenet = vb.run_module("mobilenet", params={"model_name": "mobilenet_v3_small", "pretrained": False},
...                           out="mobilenet")
>>> trained = vb.run_module(
...     "train-pytorch-model",
...     inputs={"untrained_model": mobilenet.outputs["untrained_model"],
...             "training_dataset": noisy.outputs["output_image_directory"]},
...     params={"epochs": 1, "batch_size": 10, "learning_rate": 0.01},
...     out="trained")
>>> scored = vb.run_module(
...     "score-image-model",
...     inputs={"trained_model": trained.outputs["trained_model"],
...             "dataset": images.outputs["output_image_directory"]},
...     out="scored")
>>> table = pd.read_parquet(scored.outputs["scored_dataset"] / "data.parquet")
>>> len(table), set(table["Scored Labels"]) <= set("0123456789")
(10, True)

```

Scoring leaves the noise out: it is a random operation, used only for training.
'''

MOBILENET = ModuleSpec(
    id="mobilenet",
    name="MobileNet",
    category="Computer Vision / Image Classification",
    summary="Creates an image classification model with the MobileNet architecture.",
    description=(
        "MobileNet is a family of light convolutional networks designed for phones and other small "
        "devices: depthwise separable convolutions make them much smaller and faster than ResNet, at a "
        "small cost in accuracy. This module chooses a MobileNet variant and writes it as an untrained "
        "model. Connect the output to Train PyTorch Model together with a labeled image directory; "
        "training sizes the last layer to the number of classes in the training images."
    ),
    steps=(
        "Add the MobileNet module to your pipeline.",
        "In **Model name**, choose the variant: mobilenet_v3_small is the smallest and fastest, "
        "mobilenet_v3_large the most accurate.",
        "Turn **Pretrained** on to fine-tune ImageNet weights, or off to train from random weights.",
        "Connect the **Untrained model** output to the first input of Train PyTorch Model.",
    ),
    outputs=(Port("untrained_model", ports.UNTRAINED_MODEL_DIRECTORY, "Untrained model",
                  "The architecture and its options, to connect to the **Untrained model** input of "
                  "Train PyTorch Model."),),
    params=(
        Param("model_name", "enum", "Model name", "The MobileNet variant to use.",
              default="mobilenet_v3_small", choices=architecture_choices("mobilenet")),
        Param("pretrained", "bool", "Pretrained",
              "Start from weights trained on ImageNet and fine-tune them, instead of starting from random weights.",
              default=True),
        Param("weights_path", "path", "Weights path",
              "Optional path of the ImageNet weights file to use when **Pretrained** is on. When empty, the file is "
              "looked up in the torch hub cache under the name torchvision gives it.",
              default=None, enabled_by="pretrained"),
    ),
    errors=(errors.NotInRangeValueError, errors.ParameterParsingError, errors.CouldNotOpenFileError),
    related=("resnet", "train-pytorch-model", "score-image-model"),
    examples=(EXAMPLE,),
    notes=(
        "The plugin also adds the transform operation `RandomGaussianNoise` (arguments `std` and `p`), which "
        "Init Image Transformation accepts in **Additional operations**, and the command `visionblocks mobilenet`, "
        "which lists the MobileNet variants with their number of parameters.",
    ),
    run=run_mobilenet,
)
