"""Built-in plugin: Train PyTorch Model."""

from __future__ import annotations

from pathlib import Path

import visionblocks
from visionblocks import errors, ports
from visionblocks.device import launch
from visionblocks.learn.choices import PRECISIONS
from visionblocks.spec import ModuleSpec, Param, Port

CHECKPOINTS = ".checkpoints"


def run_train(ctx) -> None:
    from visionblocks.learn import models
    from visionblocks.learn.train import TrainConfig, run_fingerprint, train

    p = ctx.params
    untrained = models.load_untrained(ctx.inputs["untrained_model"])
    train_dir, val_dir = ctx.inputs["training_dataset"], ctx.inputs["validation_dataset"]
    out = ctx.outputs["trained_model"]
    cfg = TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], warmup_epochs=p["warmup_step_number"],
                      learning_rate=p["learning_rate"], seed=p["random_seed"], patience=p["patience"],
                      print_frequency=p["print_frequency"], precision=p["precision"])
    # Checkpoints live in the run folder (where the output is published), keyed by everything
    # that changes the weights, so running the same command again resumes.
    job = launch()
    key = run_fingerprint(cfg, untrained, train_dir, val_dir, job.world_size)
    cfg.checkpoint_dir = Path(ctx.run_dir or Path(out).parent) / CHECKPOINTS / key
    train(cfg, untrained, train_dir, val_dir, out, ctx.device, ctx.progress)
    if job.rank == 0:  # the only process that writes checkpoints
        _remove_if_empty(cfg.checkpoint_dir)


def _remove_if_empty(folder: Path) -> None:
    for path in (folder, folder.parent):
        try:
            path.rmdir()
        except OSError:
            return


_EXAMPLE = '''Train a small ResNet on a few of the bundled digits, for one epoch, from random weights:

```python
>>> import json, tempfile
>>> from pathlib import Path
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> work = Path(tempfile.mkdtemp())
>>> raw = write_digits(work / "raw", size=16, per_class=2)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=work / "convert")
>>> resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out=work / "resnet")
>>> trained = vb.run_module(
...     "train-pytorch-model",
...     inputs={"untrained_model": resnet.outputs["untrained_model"],
...             "training_dataset": images.outputs["output_image_directory"]},
...     params={"epochs": 1, "batch_size": 8, "learning_rate": 0.01},
...     out=work / "train")
>>> model_dir = trained.outputs["trained_model"]
>>> json.loads((model_dir / "_id_to_class.json").read_text())
['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
>>> sorted(p.name for p in model_dir.iterdir())
['_config.json', '_id_to_class.json', '_meta.yaml', '_model.pth', '_transforms.json', 'metrics.csv', 'training_curve.png']

```
'''

TRAIN = ModuleSpec(
    id="train-pytorch-model",
    name="Train PyTorch Model",
    category="Model Training / Train",
    summary="Trains an image classification model from ResNet or DenseNet on a labeled image directory.",
    description=(
        "Train PyTorch Model trains the network described by an untrained model from the ResNet or "
        "DenseNet module on a labeled image directory. The last layer of the network is sized to the "
        "number of classes in the training images. Training uses stochastic gradient descent with "
        "momentum, an optional linear warm-up, and a learning rate that decays polynomially to zero over "
        "the planned epochs. When a validation dataset is connected, the model is evaluated after every "
        "epoch, training stops early once the validation loss has not decreased for Patience epochs, and "
        "the weights of the epoch with the lowest validation loss are kept. Progress is reported per epoch "
        "and every Print frequency batches with the loss, the accuracy and the number of images per second. "
        "A checkpoint is written after every epoch, so a run that is interrupted and started again with the "
        "same inputs and parameters continues where it stopped. Started with torchrun, the module trains on "
        "several processes or GPUs at once."
    ),
    steps=(
        "Add a ResNet or DenseNet module and connect its output to the Untrained model input.",
        "Connect a labeled image directory to the Training dataset input, usually after Apply Image "
        "Transformation with a transformation for training.",
        "Optionally connect a second labeled image directory with the same classes to the Validation dataset "
        "input, for example the second output of Split Image Directory after a transformation for inference.",
        "Set Epochs, Batch size, Learning rate and the other parameters. From random weights, a learning rate "
        "around 0.05 works well; to fine-tune pretrained weights, keep the default of 0.001.",
        "Run the pipeline and connect the Trained model output to Score Image Model.",
    ),
    inputs=(
        Port("untrained_model", ports.UNTRAINED_MODEL_DIRECTORY, "Untrained model",
             "The architecture to train, from the ResNet or DenseNet module."),
        Port("training_dataset", ports.IMAGE_DIRECTORY, "Training dataset",
             "A labeled image directory to learn from."),
        Port("validation_dataset", ports.IMAGE_DIRECTORY, "Validation dataset",
             "An optional labeled image directory with the same classes, evaluated after every epoch.",
             optional=True),
    ),
    outputs=(
        Port("trained_model", ports.MODEL_DIRECTORY, "Trained model",
             "The trained weights with the class names, the image transformation of the training data, the "
             "metrics of every epoch and a chart of the training curve."),
    ),
    params=(
        Param("epochs", "int", "Epochs", "How many times training goes through all training images.",
              default=5, min=0, min_exclusive=True),
        Param("batch_size", "int", "Batch size", "How many images are processed together in one training step.",
              default=16, min=0, min_exclusive=True),
        Param("warmup_step_number", "int", "Warmup step number",
              "For how many epochs the learning rate rises linearly from almost zero to Learning rate at the "
              "start of training. Zero turns the warm-up off.", default=0, min=0),
        Param("learning_rate", "float", "Learning rate",
              "The initial step size of the optimizer. A loss that becomes not a number usually means the "
              "learning rate is too large. Under torchrun it is multiplied by the number of processes.",
              default=0.001, min=0, min_exclusive=True),
        Param("random_seed", "int", "Random seed",
              "Seed of the initial weights, the order of the images and the random augmentation; the same "
              "seed gives the same model on a CPU.", default=1),
        Param("patience", "int", "Patience",
              "Stop training after this many consecutive epochs without a decrease of the validation loss. "
              "Only used with a validation dataset.", default=3, min=0, min_exclusive=True),
        Param("print_frequency", "int", "Print frequency",
              "Report the loss, the accuracy and the speed every this many batches.", default=10, min=0,
              min_exclusive=True),
        Param("precision", "enum", "Precision",
              "The number format of the computation. auto uses bfloat16 mixed precision where the hardware "
              "runs it natively (GPUs of compute capability 8.0 and up, CPUs with AVX-512 BF16 or AMX) and "
              "32-bit floats elsewhere; fp16 needs a CUDA GPU. On a CPU, auto trains images smaller than 64x64 "
              "pixels in 32-bit floats, which measured faster for them.",
              default="auto", choices=PRECISIONS),
    ),
    results=(
        ("metrics.csv", "Training loss and accuracy, validation loss and accuracy, learning rate and images per "
                        "second of every epoch."),
        ("training_curve.png", "A chart of the loss and the accuracy per epoch, for training and validation."),
    ),
    errors=(errors.InvalidModelDirectoryError, errors.NotLabeledDatasetError, errors.InvalidDatasetError,
            errors.TooFewRowsInDatasetError, errors.CouldNotOpenFileError, errors.GreaterThanError,
            errors.GreaterThanOrEqualToError, errors.NotInRangeValueError, errors.ParameterParsingError,
            errors.FailedToCompleteOperationError),
    related=("resnet", "densenet", "apply-image-transformation", "split-image-directory", "score-image-model"),
    examples=(_EXAMPLE,),
    notes=(
        "The designer's pages disagree on the default learning rate (0.1 in the parameter table, 0.001 in the "
        "text). visionblocks uses 0.001: with Pretrained on by default, training fine-tunes ImageNet weights, "
        "and 0.001 with momentum is the usual rate for that; 0.1 suits training from random weights with "
        "batches of 256 images and makes the loss diverge with the default batch size of 16.",
        "The designer does not document the optimizer's details. visionblocks uses momentum 0.9, weight decay "
        "0.0001, a linear warm-up and a decay of the learning rate by the power 2 of the remaining share of "
        "training steps.",
        "Checkpoints are written after every epoch to a sub-folder of `.checkpoints` in the run folder, named "
        "after a hash of the inputs and parameters, and removed when training ends. Running the same module again "
        "with the same inputs and parameters resumes from the last checkpoint; on a CPU with Precision `fp32` the "
        "result is the same model as an uninterrupted run, bit for bit (bfloat16 kernels are not bit-reproducible).",
        "Distributed training: `torchrun --nproc_per_node=N -m visionblocks module run train-pytorch-model ...` "
        "trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs). Each process trains on its share of "
        "the images, the learning rate is multiplied by N as the designer does, and only the first process "
        "writes the output.",
        "On a CUDA GPU training uses automatic mixed precision (see Precision), the channels-last memory "
        "layout, pinned memory and asynchronous copies to the GPU.",
        "On a CPU, when the decoded training and validation images fit in memory (up to 2 GiB and a quarter of "
        "the free memory), they are decoded once before the first epoch instead of in every epoch, and the "
        "weight gradients of convolutions with outputs of one to four pixels, which are slow in the standard "
        "CPU library, are computed as one matrix product. The results are the same, up to floating-point rounding.",
        "A CPU's support for bfloat16 is read from its flags (avx512_bf16, amx_bf16); CPUs with only AVX2 "
        "would emulate bfloat16 slower than they compute in 32 bits, so auto uses fp32 there.",
    ),
    run=run_train,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(TRAIN)
