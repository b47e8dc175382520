"""Built-in plugin: Train PyTorch Model and Train Linear Image Classifier.

Both take an untrained model and labeled image directories and write a ModelDirectory; the first
fine-tunes the whole network, the second fits a linear classifier on the frozen network's
features (cvtk's "DNN or SVM as classifier" choice, as two modules: each page then lists only
parameters that apply).
"""

from __future__ import annotations

from pathlib import Path

import visionblocks
from visionblocks import errors, ports
from visionblocks.device import launch
from visionblocks.learn.choices import LINEAR_CLASSIFIERS, PRECISIONS
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
    train(cfg, untrained, train_dir, val_dir, out, ctx.device, ctx.progress, ctx.log_metrics)
    if job.rank == 0:  # the only process that writes checkpoints
        _remove_if_empty(cfg.checkpoint_dir)
    ctx.log_artifact(out, "model")  # run tracking keeps the model (MLflow: as a pyfunc model)


def _remove_if_empty(folder: Path) -> None:
    for path in (folder, folder.parent):
        try:
            path.rmdir()
        except OSError:
            return


_EXAMPLE = '''Train a small ResNet on a few of the bundled digits, for one epoch, from random weights:

```python
>>> import json
>>> import pandas as pd
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> raw = write_digits("digits", size=16, per_class=2)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="runs/convert")
>>> resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out="runs/resnet")
>>> trained = vb.run_module(
...     "train-pytorch-model",
...     inputs={"untrained_model": resnet.outputs["untrained_model"],
...             "training_dataset": images.outputs["output_image_directory"]},
...     params={"epochs": 1, "batch_size": 8, "learning_rate": 0.01},
...     out="runs/train")
>>> model_dir = trained.outputs["trained_model"]
>>> json.loads((model_dir / "_id_to_class.json").read_text())
['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
>>> sorted(p.name for p in model_dir.iterdir())
['_config.json', '_id_to_class.json', '_meta.yaml', '_model.pth', '_transforms.json', 'metrics.csv', 'training_curve.png']
>>> metrics = pd.read_csv(model_dir / "metrics.csv")
>>> print(metrics[["epoch", "learning_rate", "train_loss", "train_accuracy"]].to_string(index=False))
 epoch  learning_rate  train_loss  train_accuracy
     1           0.01 ...

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
        "epoch, training stops early once the validation loss has not decreased for **Patience** epochs, and "
        "the weights of the epoch with the lowest validation loss are kept. Progress is reported per epoch "
        "and every **Print frequency** batches with the loss, the accuracy and the number of images per second. "
        "A checkpoint is written after every epoch, so a run that is interrupted and started again with the "
        "same inputs and parameters continues where it stopped. Started with torchrun, the module trains on "
        "several processes or GPUs at once."
    ),
    steps=(
        "Add a ResNet or DenseNet module and connect its output to the **Untrained model** input.",
        "Connect a labeled image directory to the **Training dataset** input, usually after Apply Image "
        "Transformation with a transformation for training.",
        "Optionally connect a second labeled image directory with the same classes to the **Validation dataset** "
        "input, for example the second output of Split Image Directory after a transformation for inference.",
        "Set **Epochs**, **Batch size**, **Learning rate** and the other parameters. From random weights, a learning rate "
        "between 0.02 and 0.05 works well (with random data augmentation 0.02 trains more smoothly, and the "
        "digits pipeline uses it); to fine-tune pretrained weights, keep the default of 0.001.",
        "Run the pipeline and connect the **Trained model** output to Score Image Model.",
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
              "For how many epochs the learning rate rises linearly from almost zero to **Learning rate** at the "
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
              "The number format of the computation. `auto` uses bfloat16 mixed precision where the hardware "
              "runs it natively (GPUs of compute capability 8.0 and up, CPUs with AVX-512 BF16 or AMX) and "
              "32-bit floats elsewhere; `fp16` needs a CUDA GPU. On a CPU, `auto` uses 32-bit floats to train on "
              "images smaller than 64x64 pixels, which measured faster for them.",
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
        "text). visionblocks uses 0.001: with **Pretrained** on by default, training fine-tunes ImageNet weights, "
        "and 0.001 with momentum is the usual rate for that; 0.1 suits training from random weights with "
        "batches of 256 images and makes the loss diverge with the default batch size of 16.",
        "The designer does not document the optimizer's details. visionblocks uses momentum 0.9, weight decay "
        "0.0001, a linear warm-up and a decay of the learning rate by the power 2 of the remaining share of "
        "training steps.",
        "Checkpoints are written after every epoch to a sub-folder of `.checkpoints` in the run folder, named "
        "after a hash of the inputs and parameters, and removed when training ends. Running the same module again "
        "with the same inputs and parameters resumes from the last checkpoint; on a CPU with **Precision** `fp32` the "
        "result is the same model as an uninterrupted run, bit for bit (bfloat16 kernels are not bit-reproducible).",
        "Distributed training: `torchrun --nproc_per_node=N -m visionblocks module run train-pytorch-model ...` "
        "trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs). Each process trains on its share of "
        "the images, the learning rate is multiplied by N as the designer does, and only the first process "
        "writes the output.",
        "On a CUDA GPU training uses automatic mixed precision (see **Precision**), the channels-last memory "
        "layout, pinned memory and asynchronous copies to the GPU.",
        "On a CPU, when the decoded training and validation images fit in memory (up to 2 GiB and a quarter of "
        "the free memory), they are decoded once before the first epoch instead of in every epoch, and the "
        "weight gradients of convolutions with outputs of one to four pixels, which are slow in the standard "
        "CPU library, are computed as one matrix product. The results are the same, up to floating-point rounding.",
        "A CPU's support for bfloat16 is read from its flags (avx512_bf16, amx_bf16); CPUs with only AVX2 "
        "would emulate bfloat16 slower than they compute in 32 bits, so `auto` uses `fp32` there.",
    ),
    run=run_train,
    distributed=True,
)


def run_linear(ctx) -> None:
    from visionblocks.learn import models
    from visionblocks.learn.linear import LinearConfig, train_linear

    p = ctx.params
    cfg = LinearConfig(classifier=p["classifier"], c=p["c"], batch_size=p["batch_size"], seed=p["random_seed"],
                       precision=p["precision"])
    untrained = models.load_untrained(ctx.inputs["untrained_model"])
    train_linear(cfg, untrained, ctx.inputs["training_dataset"], ctx.inputs["validation_dataset"],
                 ctx.outputs["trained_model"], ctx.device, ctx.progress)


_LINEAR_EXAMPLE = '''Fit a logistic regression on the features of a small ResNet for a few of the bundled digits. The
network keeps random weights here so that the example needs no download; with real photographs, use
pretrained weights:

```python
>>> import pandas as pd
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> raw = write_digits("digits", size=16, per_class=4)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="runs/convert")
>>> resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out="runs/resnet")
>>> trained = vb.run_module(
...     "train-linear-image-classifier",
...     inputs={"untrained_model": resnet.outputs["untrained_model"],
...             "training_dataset": images.outputs["output_image_directory"]},
...     params={"classifier": "logistic_regression"},
...     out="runs/train")
>>> model_dir = trained.outputs["trained_model"]
>>> sorted(p.name for p in model_dir.iterdir())
['_config.json', '_id_to_class.json', '_meta.yaml', '_model.pth', '_transforms.json', 'metrics.csv']
>>> metrics = pd.read_csv(model_dir / "metrics.csv")
>>> metrics.loc[0, "classifier"], metrics.loc[0, "calibrated_on"]
('logistic_regression', 'cross-validation')

```
'''

LINEAR = ModuleSpec(
    id="train-linear-image-classifier",
    name="Train Linear Image Classifier",
    category="Model Training / Train",
    summary="Trains a linear classifier on the features of a frozen ResNet or DenseNet, in seconds on a CPU.",
    description=(
        "Train Linear Image Classifier keeps the network of an untrained model from the ResNet or DenseNet "
        "module as it is and trains only a new last layer. Every training and validation image goes once "
        "through the network, which turns it into a vector of features (512 numbers for resnet18, 2048 for "
        "resnet50). A logistic regression or a linear support vector machine from scikit-learn is then fitted "
        "on the standardized features, and its scores are calibrated with one temperature so that the "
        "probabilities it gives are reliable. Standardization, classifier and temperature together are one "
        "linear function of the features, so they become the weights of the network's last layer: the output "
        "is a trained model like the one Train PyTorch Model writes, and Score Image Model, Evaluate Model "
        "and the web service use it unchanged. This is much faster than fine-tuning the whole network and "
        "needs fewer images, but it can only use the features the network already computes, so it works best "
        "with pretrained weights and images that resemble ImageNet photographs."
    ),
    steps=(
        "Add a ResNet or DenseNet module, usually with **Pretrained** on, and connect its output to the **Untrained "
        "model** input.",
        "Connect a labeled image directory to the **Training dataset** input. Its image transformation is applied "
        "in inference mode: random augmentation steps are left out, because each image is seen once.",
        "Optionally connect a second labeled image directory with the same classes to the **Validation dataset** "
        "input; the probabilities are then calibrated on it and its accuracy and log loss are recorded.",
        "Choose the **Classifier** and run the pipeline. Connect the **Trained model** output to Score Image Model.",
    ),
    inputs=(
        Port("untrained_model", ports.UNTRAINED_MODEL_DIRECTORY, "Untrained model",
             "The network whose features are used, from the ResNet or DenseNet module."),
        Port("training_dataset", ports.IMAGE_DIRECTORY, "Training dataset",
             "A labeled image directory to learn from, with at least one image of every class."),
        Port("validation_dataset", ports.IMAGE_DIRECTORY, "Validation dataset",
             "An optional labeled image directory with the same classes, used to calibrate the probabilities.",
             optional=True),
    ),
    outputs=(
        Port("trained_model", ports.MODEL_DIRECTORY, "Trained model",
             "The network with the classifier as its last layer, the class names, the image transformation of "
             "the training data and the metrics of the fit."),
    ),
    params=(
        Param("classifier", "enum", "Classifier",
              "The linear model fitted on the features: `logistic_regression` (multinomial logistic regression) or "
              "`linear_svm` (linear support vector machine, scikit-learn's LinearSVC, as in the 2018 Computer "
              "Vision package).", default="logistic_regression", choices=LINEAR_CLASSIFIERS),
        Param("c", "float", "C",
              "Inverse of the regularization strength: smaller values keep the weights smaller and fit the "
              "training images less closely. The features are standardized first, so the default suits most "
              "networks.", default=1.0, min=0, min_exclusive=True),
        Param("batch_size", "int", "Batch size",
              "How many images go through the network together while the features are computed.",
              default=32, min=0, min_exclusive=True),
        Param("random_seed", "int", "Random seed",
              "Seed of the network's weights when it starts from random ones, of the folds used for calibration "
              "without a validation dataset, and of the linear support vector machine.", default=1),
        Param("precision", "enum", "Precision",
              "The number format of the network while it computes the features. `auto` uses bfloat16 mixed "
              "precision where the hardware runs it natively and 32-bit floats elsewhere; `fp16` needs a CUDA GPU. "
              "The classifier itself is always fitted in 64-bit floats.",
              default="auto", choices=PRECISIONS),
    ),
    results=(
        ("metrics.csv", "One row: the classifier, **C**, the log loss and accuracy on the training images and, with a "
                        "validation dataset, on the validation images (with the log loss before calibration), the "
                        "temperature and what it was fitted on, whether the solver converged, the number of features "
                        "and the seconds spent computing the features and fitting."),
    ),
    errors=(errors.InvalidModelDirectoryError, errors.NotLabeledDatasetError, errors.InvalidDatasetError,
            errors.TooFewRowsInDatasetError, errors.CouldNotOpenFileError, errors.GreaterThanError,
            errors.NotInRangeValueError, errors.ParameterParsingError, errors.FailedToCompleteOperationError),
    related=("resnet", "densenet", "train-pytorch-model", "score-image-model"),
    examples=(_LINEAR_EXAMPLE,),
    notes=(
        "The designer has no such module; it follows the 2018 Computer Vision package, which could train "
        "either the network or a linear support vector machine on the network's features. visionblocks also "
        "offers logistic regression, and calibrates both, so that the scored probabilities are real "
        "probabilities rather than rescaled margins.",
        "Calibration: the temperature is fitted on the validation dataset when one is connected, otherwise on "
        "out-of-fold scores of the training images (five-fold cross-validation, fewer folds for classes with "
        "fewer images); `calibrated_on` in metrics.csv says which. A temperature changes how sure the model "
        "is, never which class it predicts, and it is kept only when it lowers the log loss.",
        "The features are computed in eval mode, as when scoring, and kept in memory: one pass over the "
        "images, whatever the classifier.",
        "Unlike Train PyTorch Model, this module runs in one process; under torchrun every process would "
        "compute the same features.",
    ),
    run=run_linear,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(TRAIN)
    register(LINEAR)
