"""Built-in plugin: Score Image Model and Evaluate Model (Model Scoring & Evaluation).

The work happens in ``visionblocks.learn.score`` (the :class:`~visionblocks.learn.score.Scorer`, shared with
the web service), ``visionblocks.evaluation.metrics`` (metrics), ``visionblocks.evaluation.plots`` (charts) and
``visionblocks.evaluation.report`` (the HTML report); this file holds what users read about the modules.
"""

from __future__ import annotations

from pathlib import Path

import visionblocks
from visionblocks import errors, ports
from visionblocks.learn.choices import DEFAULT_BATCH_SIZE, PRECISIONS, RUNTIMES
from visionblocks.messages import LANGUAGES
from visionblocks.spec import ModuleSpec, Param, Port

CATEGORY = "Model Scoring & Evaluation"
AUTO_LANGUAGE = "auto"  # Evaluate Model's report: the run's language


# -- Score Image Model ----------------------------------------------------------------------------
def run_score(ctx) -> None:
    from visionblocks.imagedir import ImageDirectory
    from visionblocks.learn.distributed import init_distributed
    from visionblocks.learn.onnx_runtime import make_scorer
    from visionblocks.learn.score import score_directory
    from visionblocks.progress import Progress

    p = ctx.params
    # Under torchrun every rank joins first: the model and images are read once rank 0 has them.
    job = init_distributed(ctx.device)
    progress = ctx.progress if job.rank == 0 else Progress(quiet=True)
    scorer = make_scorer(p["runtime"], ctx.inputs["trained_model"], ctx.device, p["precision"], p["batch_size"])
    directory = ImageDirectory.load(ctx.inputs["dataset"], "Dataset")
    how = "its own transformation" if directory.transform else "the model's transformation for inference"
    where = f"{job.world_size} processes" if job.distributed else str(scorer.device)
    progress.log(f"{scorer.config.get('architecture')} with {len(scorer.classes)} classes through {p['runtime']} "
                 f"on {where}, {scorer.precision.reason}; {len(directory)} images through {how}")
    summary = score_directory(scorer, directory, ctx.outputs["scored_dataset"], p["batch_size"], progress)
    progress.log(f"scored {summary.rows} images in {summary.seconds:.1f} s "
                 f"({summary.images_per_second:.1f} images/s)")


_SCORE_EXAMPLE = '''Train a small ResNet for one epoch on a few of the bundled digits, then score images with it:

```python
>>> import visionblocks as vb
>>> from visionblocks.dataframe import read_dataframe
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
>>> scored = vb.run_module(
...     "score-image-model",
...     inputs={"trained_model": trained.outputs["trained_model"],
...             "dataset": images.outputs["output_image_directory"]},
...     out="runs/score")
>>> table = read_dataframe(scored.outputs["scored_dataset"])
>>> table.shape
(20, 13)
>>> print(table.iloc[:3, :5].to_string(index=False, float_format="{:.3f}".format))
 identifier label Scored Labels  Scored Probabilities_0  Scored Probabilities_1
          0     0 ...
          1     0 ...
          2     1 ...
>>> table.filter(like="Scored Probabilities_").sum(axis=1).round(6).unique().tolist()
[1.0]

```
'''

SCORE = ModuleSpec(
    id="score-image-model",
    name="Score Image Model",
    category=CATEGORY,
    summary="Predicts the class of every image in an image directory with a trained image classification model.",
    description=(
        "Score Image Model runs a model trained by Train PyTorch Model on the images of an image directory and "
        "writes one row per image: the image id, the true label when the images are labeled, the predicted "
        "class, and the probability of every class the model knows.\n\n"
        "When the image directory comes from Apply Image Transformation, its images are loaded with that "
        "transformation. When it holds raw images, for example straight from Convert to Image Directory, they "
        "go through the transformation the model was trained with. In both cases random augmentation such as "
        "flips and rotations is left out, so the same image always gets the same scores.\n\n"
        "Images are read and scored in batches, so memory use stays the same however many images there are. "
        "The model runs on a GPU when one is available, else on the CPU. Connect the output to Evaluate Model "
        "to measure how good the predictions are."
    ),
    steps=(
        "Add the Score Image Model module to your pipeline.",
        "Connect the **Trained model** output of Train PyTorch Model to the **Trained model** input.",
        "Connect the images to score to the **Dataset** input, usually the test images after Apply Image "
        "Transformation with a transformation for inference. Labeled images give a label column that Evaluate "
        "Model can compare with the predictions.",
        "Optionally change **Precision**, **Batch size** and **Runtime**.",
        "Run the pipeline, then connect the **Scored dataset** output to Evaluate Model.",
    ),
    inputs=(
        Port("trained_model", ports.MODEL_DIRECTORY, "Trained model",
             "A model trained by Train PyTorch Model."),
        Port("dataset", ports.IMAGE_DIRECTORY, "Dataset",
             "The images to score, labeled or not, prepared like the training images."),
    ),
    outputs=(
        Port("scored_dataset", ports.DATAFRAME_DIRECTORY, "Scored dataset",
             "One row per image with the predicted class and the probability of every class."),
    ),
    params=(
        Param("precision", "enum", "Precision",
              "The number format of the computation. `auto` uses bfloat16 mixed precision where the hardware "
              "runs it natively (GPUs of compute capability 8.0 and up, CPUs with AVX-512 BF16 or AMX) and "
              "32-bit floats elsewhere; `fp16` needs a CUDA GPU. The probabilities are always written as 64-bit "
              "floats.", default="auto", choices=PRECISIONS),
        Param("batch_size", "int", "Batch size",
              "How many images are scored together. Larger batches are faster until memory runs out.",
              default=DEFAULT_BATCH_SIZE, min=0, min_exclusive=True),
        Param("runtime", "enum", "Runtime",
              "What runs the model. `torch` runs it with PyTorch. `onnx` runs its ONNX export with onnxruntime, in "
              "32-bit floats: either a folder written by visionblocks export, or a trained model that is exported "
              "first. The `onnx` runtime needs the onnx extra (pip install visionblocks[onnx]) and takes **Precision** "
              "`auto` or `fp32`.", default="torch", choices=RUNTIMES),
    ),
    results=(
        ("identifier", "The id of the image in the image directory."),
        ("label", "The true class of the image. Only present when the image directory is labeled."),
        ("Scored Labels", "The predicted class: the class with the highest probability."),
        ("Scored Probabilities_<class>", "The probability the model gives to the class, one column per class in "
                                         "class-id order. The probabilities of an image add up to 1."),
    ),
    errors=(errors.InvalidModelDirectoryError, errors.InvalidDatasetError, errors.NullOrEmptyError,
            errors.CouldNotOpenFileError, errors.InvalidTransformationDirectoryError, errors.NotInRangeValueError,
            errors.GreaterThanError, errors.ParameterParsingError, errors.FailedToCompleteOperationError),
    related=("train-pytorch-model", "apply-image-transformation", "evaluate-model"),
    examples=(_SCORE_EXAMPLE,),
    sections=(
        ("Evaluating the scores",
         "Connect the **Scored dataset** output to [Evaluate Model](evaluate-model.md). It finds the label column "
         "and the score columns by their names and reports accuracy, precision, recall, AUC, log loss and the "
         "confusion matrix, with charts and a report page that shows the misclassified images."),
        ("Scoring in real time",
         "The same trained model can answer requests over HTTP: `visionblocks serve MODEL_DIR` starts a web "
         "service that scores images sent to it, with the same transformation and the same columns as this "
         "module. [Publish as a web service](../web-service.md) shows how to start it, send images in the "
         "designer's request format or as files, protect it with a key and stop it."),
        ("Scoring a folder in one command",
         "`visionblocks score MODEL_DIR FOLDER_OR_ARCHIVE --out scores.parquet` does the work of a pipeline of "
         "Convert to Image Directory and this module: it converts the folder or archive of images (an image "
         "directory is used as it is), scores the images in batches through the model's transformation for "
         "inference, and writes the rows to a Parquet file, or to a CSV file when the name ends in `.csv`. The "
         "rows are the ones this module writes, with one more column, `file`: where the image was in the folder "
         "or archive. `--precision`, `--device` and `--batch-size` work like the module's parameters; with "
         "`--precision fp32` the probabilities are the same as this module's in fp32. Given the address of a "
         "running service instead of a model directory, `visionblocks score URL FILE...` sends the image files "
         "to the service and prints their rows, or writes them with `--out`."),
    ),
    notes=(
        "The designer's Score Image Model has no parameters. visionblocks adds **Precision**, **Batch size** and **Runtime**.",
        "Under torchrun every process scores an equal share of the images, in whole batches, and the first process "
        "writes one scored dataset in the original image order, with the same numbers as a single process. "
        "[Scaling out](../scaling-out.md) shows how.",
        "The output is also a valid input for a later run: its metadata names the label column, the score "
        "columns, the model and the scored image directory.",
        "On a CUDA GPU scoring uses the channels-last memory layout, pinned memory and asynchronous copies.",
    ),
    run=run_score,
    distributed=True,
)


# -- Evaluate Model --------------------------------------------------------------------------------
def run_evaluate(ctx) -> None:
    from visionblocks.evaluation.report import REPORT_FILE
    from visionblocks.evaluation.results import summary_line, write_evaluation_results

    out = Path(ctx.outputs["evaluation_results"])
    lang = ctx.params["report_language"]
    evaluations = write_evaluation_results(out, ctx.inputs["scored_dataset"],
                                           ctx.inputs.get("scored_dataset_to_compare"),
                                           ctx.language if lang == AUTO_LANGUAGE else lang)
    for evaluation in evaluations:
        ctx.progress.log(summary_line(evaluation))
    # For run tracking: the first input's metrics by their names, the second's with "compare_" in front.
    ctx.log_metrics({prefix + name: value for evaluation, prefix in zip(evaluations, ("", "compare_"))
                     for name, value in evaluation.metrics.items()}, scope="result")
    for path in sorted(out.glob("*.png")):
        ctx.log_artifact(path, "chart")
    ctx.log_artifact(out / REPORT_FILE, "report")
    # ``out`` is a temporary folder until the run succeeds; say where the report will stay.
    final = Path(ctx.run_dir) / "evaluation_results" if ctx.run_dir else out
    ctx.progress.log(f"report: {final / REPORT_FILE}")


_EVALUATE_EXAMPLE = '''Evaluate a small scored dataset with three classes, written by hand in the layout Score Image Model writes:

```python
>>> import pandas as pd
>>> import visionblocks as vb
>>> from visionblocks.dataframe import read_dataframe, write_dataframe
>>> scored = pd.DataFrame({
...     "identifier": [0, 1, 2, 3, 4, 5],
...     "label": ["cat", "cat", "dog", "dog", "fox", "fox"],
...     "Scored Labels": ["cat", "dog", "dog", "dog", "fox", "cat"],
...     "Scored Probabilities_cat": [0.8, 0.3, 0.1, 0.2, 0.1, 0.5],
...     "Scored Probabilities_dog": [0.1, 0.6, 0.8, 0.7, 0.2, 0.2],
...     "Scored Probabilities_fox": [0.1, 0.1, 0.1, 0.1, 0.7, 0.3],
... })
>>> folder = write_dataframe("scored", scored, label_column_name="label")
>>> result = vb.run_module("evaluate-model", inputs={"scored_dataset": folder}, out="runs/evaluate")
>>> sorted(p.name for p in result.outputs["evaluation_results"].glob("*.png"))
['confusion_matrix.png', 'precision_recall_curves.png', 'roc_curves.png']
>>> metrics = read_dataframe(result.outputs["evaluation_results"])
>>> print(metrics.round(4).iloc[0].to_string())
Scored_Dataset      Scored dataset
Task                   Multi-class
Images                           6
Overall_Accuracy            0.6667
Micro_Precision             0.6667
Micro_Recall                0.6667
Micro_F1_Score              0.6667
Macro_Precision             0.7222
Macro_Recall                0.6667
Macro_F1_Score              0.6556
Macro_AUC                   0.9583
Log_Loss                    0.5946
Precision_cat                  0.5
Recall_cat                     0.5
Precision_dog               0.6667
Recall_dog                     1.0
Precision_fox                  1.0
Recall_fox                     0.5

```
'''

EVALUATE = ModuleSpec(
    id="evaluate-model",
    name="Evaluate Model",
    category=CATEGORY,
    summary="Measures how well a classification model predicts, from its scored dataset, and compares two models.",
    description=(
        "Evaluate Model compares the predicted classes and probabilities of a scored dataset, such as the output "
        "of Score Image Model, with the true labels, and computes the standard metrics of classification. With "
        "two classes it reports a binary evaluation; with more classes, a multi-class evaluation. Every metric "
        "is computed by scikit-learn, so the numbers are the ones scikit-learn gives on the same data.\n\n"
        "Besides the table of metrics, the output folder holds charts as PNG files: the ROC curves, the "
        "precision-recall curves and the confusion matrix. It also holds a report page, `report.html`, that "
        "shows the metrics, the charts and a gallery of the misclassified images with their scores, the most "
        "confident mistakes first.\n\n"
        "Connect a second scored dataset to compare two models on the same kind of task: the table then has "
        "one row per model, the first input first."
    ),
    steps=(
        "Add the Evaluate Model module to your pipeline.",
        "Connect the **Scored dataset** output of Score Image Model to the **Scored dataset** input. The images must "
        "have been labeled.",
        "Optionally connect the scored dataset of a second model to the **Scored dataset to compare** input.",
        "Run the pipeline and open `report.html` in the **Evaluation results** output, or read the metrics table.",
    ),
    inputs=(
        Port("scored_dataset", ports.DATAFRAME_DIRECTORY, "Scored dataset",
             "A scored dataset with a label column and the Scored Labels column, usually with one Scored "
             "Probabilities column per class."),
        Port("scored_dataset_to_compare", ports.DATAFRAME_DIRECTORY, "Scored dataset to compare",
             "An optional second scored dataset, from a model of the same kind of task.", optional=True),
    ),
    outputs=(
        Port("evaluation_results", ports.DATAFRAME_DIRECTORY, "Evaluation results",
             "A table with one row of metrics per scored dataset, plus the charts, the confusion matrices and "
             "the report page."),
    ),
    params=(
        Param("report_language", "enum", "Report language",
              "The language of the report page and of the chart labels: headings and metric names are "
              "translated and numbers are written in the language's notation, such as 0,9861 in Spanish. `auto` "
              "uses the language of the pipeline run (the pipeline's language line or visionblocks run --lang), "
              "and English when none is given.",
              default=AUTO_LANGUAGE, choices=(AUTO_LANGUAGE, *LANGUAGES)),
    ),
    results=(
        ("Overall_Accuracy", "Multi-class: the share of images whose predicted class is the true class."),
        ("Micro_Precision, Micro_Recall, Micro_F1_Score",
         "Multi-class: precision, recall and F1 score counted over all images together; for single-label "
         "classification each of them equals the overall accuracy."),
        ("Macro_Precision, Macro_Recall, Macro_F1_Score",
         "Multi-class: the unweighted mean over the classes of each class's precision, recall and F1 score, so "
         "every class counts the same however many images it has."),
        ("Macro_AUC", "Multi-class: the area under the ROC curve of each class against all the others, averaged "
                      "over the classes."),
        ("Log_Loss", "The cross-entropy of the predicted probabilities: lower is better, 0 is perfect."),
        ("Precision_<class>, Recall_<class>",
         "Multi-class: each class's precision (the share of images predicted as the class that are of the "
         "class) and recall (the share of images of the class that are predicted as the class)."),
        ("Accuracy, Precision, Recall, F1_Score, AUC",
         "Binary: the share of correct predictions, then precision, recall and F1 score of the positive class, "
         "and the area under the ROC curve of the positive class's probability."),
        ("Positive_Label", "Binary: the class that counts as positive (see the notes)."),
        ("confusion_matrix.png, roc_curves.png, precision_recall_curves.png",
         "The charts of the first input; the second input's charts have the same names ending in `_compare.png`."),
        ("confusion_matrix.csv", "The confusion matrix as a table: one row per true class, one column per "
                                 "predicted class."),
        ("report.html", "A page with the metrics, the charts and the misclassified images with their scores."),
    ),
    errors=(errors.NotLabeledDatasetError, errors.NotScoredDatasetError, errors.LearnerTypesNotCompatibleError,
            errors.NotExpectedLabelColumnError, errors.TooFewRowsInDatasetError, errors.InvalidDatasetError,
            errors.NullOrEmptyError),
    related=("score-image-model", "train-pytorch-model"),
    examples=(_EVALUATE_EXAMPLE,),
    notes=(
        "The designer documents the name Overall_Accuracy but not the names of its other multi-class metrics; "
        "visionblocks names them in the same style.",
        "Binary tasks use the designer's rule for the positive class: `True` for `true`/`false` labels, `1` for "
        "`0`/`1` labels, and otherwise the second of the two labels in sorted order, for example `dog` for `cat` "
        "and `dog`.",
        "A metric that is not defined for the data, such as the AUC of a class that none of the scored images belongs to, is "
        "shown as not defined, with the reason in the report, exactly as scikit-learn returns it.",
        "Labels that are not among the model's classes cannot be evaluated against its probabilities and stop "
        "the evaluation with error 0058.",
    ),
    run=run_evaluate,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(SCORE)
    register(EVALUATE)
