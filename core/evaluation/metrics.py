"""Evaluate Model's metrics for a scored dataset (designer-spec §10), computed by scikit-learn.

A scored dataset is a table with a true-label column, ``Scored Labels`` and, usually, one
``Scored Probabilities_<class>`` column per class (Score Image Model's output) or a single
``Scored Probabilities`` column (a two-class model's probability of the positive class).

Task type: two classes are a binary task, more are multi-class.

- Binary: Accuracy, Precision, Recall, F1_Score, AUC and Log_Loss for the positive class, chosen
  by the designer's rule: for boolean labels ``True``, for integer labels 0/1 the ``1``,
  otherwise the second of the two labels in sorted order (alphabetical for text).
- Multi-class: Overall_Accuracy; Micro_ and Macro_ Precision, Recall and F1_Score; Macro_AUC
  (one-vs-rest, macro averaged); Log_Loss; per class Precision_<class> and Recall_<class>; the
  confusion matrix.

Labels are compared as text (``3`` and ``"3"`` are the same class), so a label column read back
as integers still matches probability columns named after the classes. Class order is the order
of the probability columns (the model's class-id order), else the sorted labels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from visionblocks import errors, ports
from visionblocks.dataframe import read_dataframe
from visionblocks.dataframe import IDENTIFIER_COLUMN, LABEL_COLUMN, PROBABILITY_PREFIX, SCORED_LABELS
from visionblocks.messages import Phrases

# How each input is named in the table, the charts and the report: Evaluate Model's port labels.
INPUT_NAMES = ("Scored dataset", "Scored dataset to compare")
INPUT_PORTS = ("scored_dataset", "scored_dataset_to_compare")


def input_label(name: str, text: Phrases) -> str:
    """An input's name in ``text``'s language: Evaluate Model's port label, from the catalogs."""
    if name not in INPUT_NAMES:
        return name
    port = INPUT_PORTS[INPUT_NAMES.index(name)]
    return text(f"evaluate-model.input.{port}.label", name)


BINARY = "Binary"
MULTICLASS = "Multi-class"
# The positive-class probability of a two-class model, when it is a single column.
BINARY_PROBABILITY = "Scored Probabilities"
# Label column names recognised when the meta does not name one (the designer's docs call it Labels).
LABEL_CANDIDATES = (LABEL_COLUMN, "Label", "Labels", "labels")


@dataclass
class ScoredData:
    """A scored dataset read and checked: labels as text, probabilities in class order."""

    name: str  # which input it came from ("Scored dataset", "Scored dataset to compare")
    y_true: np.ndarray  # object array of str
    y_pred: np.ndarray  # object array of str
    classes: list[str]
    probabilities: np.ndarray | None  # rows × classes, or None when the data has no probability column
    positive: str | None  # the positive class of a binary task
    identifiers: np.ndarray | None
    meta: dict = field(default_factory=dict)
    dropped_unlabeled: int = 0

    @property
    def task(self) -> str:
        return BINARY if len(self.classes) == 2 else MULTICLASS


@dataclass
class Evaluation:
    data: ScoredData
    metrics: dict[str, float]  # summary metrics in display order
    per_class: pd.DataFrame  # class, precision, recall, f1_score, support
    confusion: np.ndarray  # rows: true class, columns: predicted class, in data.classes order
    notes: list[str] = field(default_factory=list)  # why a metric is not defined

    @property
    def task(self) -> str:
        return self.data.task

    def row(self) -> dict:
        """This evaluation as one row of the Evaluation results table."""
        row = {"Scored_Dataset": self.data.name, "Task": self.task, "Images": int(len(self.data.y_true))}
        if self.task == BINARY:
            row["Positive_Label"] = self.data.positive
        row.update(self.metrics)
        if self.task == MULTICLASS:
            for record in self.per_class.itertuples():
                row[f"Precision_{record.label}"] = record.precision
                row[f"Recall_{record.label}"] = record.recall
        return row


# -- reading ------------------------------------------------------------------------------------

def read_scored(folder: str | Path, name: str) -> ScoredData:
    """Read and check a scored DataFrameDirectory; 0024 without labels, 0025 without scores."""
    folder = Path(folder)
    frame = read_dataframe(folder, name)
    meta = ports.read_meta(folder)
    return scored_from_frame(frame, name, meta)


def scored_from_frame(frame: pd.DataFrame, name: str, meta: dict | None = None) -> ScoredData:
    meta = meta or {}
    label_column = _label_column(frame, meta, name)
    scored_column = _scored_label_column(frame, meta, name)
    probability_columns = [c for c in frame.columns if str(c).startswith(PROBABILITY_PREFIX)]
    single_probability = BINARY_PROBABILITY in frame.columns and not probability_columns
    if len(frame) == 0:
        raise errors.TooFewRowsInDatasetError(f"Input '{name}' has no rows to evaluate.")

    labeled = frame[label_column].notna().to_numpy()
    dropped = int((~labeled).sum())
    if not labeled.any():
        raise errors.NotLabeledDatasetError(
            f"Input '{name}': the label column '{label_column}' has no value in any row.",
            hint="Score a labeled image directory to evaluate the model.")
    frame = frame[labeled]
    raw_true = frame[label_column]
    raw_pred = frame[scored_column]
    y_true = _as_text(raw_true)
    y_pred = _as_text(raw_pred)

    probabilities = None
    if probability_columns:
        classes = [str(c)[len(PROBABILITY_PREFIX):] for c in probability_columns]
        probabilities = frame[probability_columns].to_numpy(dtype=np.float64)
    else:
        classes = _sorted_labels(pd.concat([raw_true, raw_pred], ignore_index=True))
    unknown = sorted((set(y_true) | set(y_pred)) - set(classes))
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise errors.NotExpectedLabelColumnError(
            f"Input '{name}': labels {shown} are not among the scored classes ({', '.join(classes[:20])}).",
            hint="Score images whose classes the model was trained on.")
    positive = None
    if len(classes) == 2:
        positive = positive_class(raw_true, classes)
    elif single_probability or len(classes) < 2:
        raise errors.NotExpectedLabelColumnError(
            f"Input '{name}' has {len(classes)} classes ({', '.join(classes[:20])}); a single "
            f"'{BINARY_PROBABILITY}' column needs exactly two.")
    if single_probability:
        p = frame[BINARY_PROBABILITY].to_numpy(dtype=np.float64)
        negative = classes[0] if classes[1] == positive else classes[1]
        classes = [negative, positive]
        probabilities = np.column_stack([1.0 - p, p])
    identifiers = frame[IDENTIFIER_COLUMN].to_numpy() if IDENTIFIER_COLUMN in frame.columns else None
    return ScoredData(name, y_true, y_pred, classes, probabilities, positive, identifiers, meta, dropped)


def _label_column(frame: pd.DataFrame, meta: dict, name: str) -> str:
    named = meta.get("label_column_name")
    candidates = ([named] if named else []) + list(LABEL_CANDIDATES)
    for column in candidates:
        if column in frame.columns:
            return column
    raise errors.NotLabeledDatasetError(
        f"Input '{name}' has no label column (looked for {', '.join(repr(c) for c in dict.fromkeys(candidates))}).",
        hint="Score a labeled image directory: Score Image Model adds the 'label' column when the images have classes.")


def _scored_label_column(frame: pd.DataFrame, meta: dict, name: str) -> str:
    mapped = (meta.get("score_columns") or {}).get("Multi Class Assigned Labels")
    for column in (mapped, SCORED_LABELS):
        if column and column in frame.columns:
            return column
    raise errors.NotScoredDatasetError(
        f"Input '{name}' has no score column '{SCORED_LABELS}'.",
        hint="Connect the output of Score Image Model.")


def _as_text(values: pd.Series) -> np.ndarray:
    return np.array([_text(v) for v in values], dtype=object)


def _text(value) -> str:
    # 3.0 read back from a float column is the class "3"; True stays "True".
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def _sorted_labels(values: pd.Series) -> list[str]:
    unique = pd.unique(values.dropna())
    try:
        ordered = sorted(unique)  # numbers numerically, text alphabetically
    except TypeError:
        ordered = sorted(unique, key=str)
    return list(dict.fromkeys(_text(v) for v in ordered))


def positive_class(labels: pd.Series, classes: list[str]) -> str:
    """The designer's positive class of a two-class task (see the module docstring)."""
    values = pd.Series(labels).dropna()
    if pd.api.types.is_bool_dtype(values) or set(classes) == {"True", "False"}:
        return "True"
    if set(classes) == {"0", "1"}:
        return "1"
    numeric = pd.to_numeric(pd.Series(classes), errors="coerce")
    if pd.api.types.is_numeric_dtype(values) and numeric.notna().all():
        return classes[int(np.argmax(numeric.to_numpy()))]
    return sorted(classes)[1]


# -- metrics ------------------------------------------------------------------------------------

def compute_metrics(data: ScoredData) -> Evaluation:
    """Every metric of ``data`` by scikit-learn: the summary metrics of its task, the per-class
    table, the confusion matrix, and a note for each metric that is not defined."""
    from sklearn import metrics as skm

    y_true, y_pred, classes = data.y_true, data.y_pred, data.classes
    notes: list[str] = []
    confusion = skm.confusion_matrix(y_true, y_pred, labels=classes)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=0)
    per_class = pd.DataFrame({"label": classes, "precision": precision, "recall": recall, "f1_score": f1,
                              "support": support.astype(int)})
    if data.task == BINARY:
        pos = data.positive
        values = {
            "Accuracy": skm.accuracy_score(y_true, y_pred),
            "Precision": skm.precision_score(y_true, y_pred, pos_label=pos, zero_division=0),
            "Recall": skm.recall_score(y_true, y_pred, pos_label=pos, zero_division=0),
            "F1_Score": skm.f1_score(y_true, y_pred, pos_label=pos, zero_division=0),
        }
        if data.probabilities is not None:
            p_pos = data.probabilities[:, classes.index(pos)]
            values["AUC"] = _auc(lambda: skm.roc_auc_score(y_true == pos, p_pos), notes)
            values["Log_Loss"] = skm.log_loss(y_true == pos, p_pos, labels=[False, True])
    else:
        values = {"Overall_Accuracy": skm.accuracy_score(y_true, y_pred)}
        for average in ("micro", "macro"):
            p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=classes, average=average,
                                                             zero_division=0)
            title = average.capitalize()
            values.update({f"{title}_Precision": p, f"{title}_Recall": r, f"{title}_F1_Score": f})
        if data.probabilities is not None:
            # scikit-learn reads probability columns in sorted label order (roc_auc_score refuses
            # other orders, log_loss assumes it), so hand them over sorted.
            order = np.argsort(np.array(classes, dtype=object), kind="stable")
            labels, probabilities = [classes[i] for i in order], data.probabilities[:, order]
            values["Macro_AUC"] = _auc(lambda: skm.roc_auc_score(
                y_true, probabilities, multi_class="ovr", average="macro", labels=labels), notes)
            values["Log_Loss"] = skm.log_loss(y_true, probabilities, labels=labels)
    if data.probabilities is None:
        notes.append("AUC and log loss need probability columns, which this scored dataset does not have.")
    missing = [c for c, n in zip(classes, support) if n == 0]
    if missing:
        notes.append(f"No image of class {', '.join(missing[:10])} was scored, so its recall is 0 and AUC is not "
                     "defined for it.")
    if data.dropped_unlabeled:
        notes.append(f"{data.dropped_unlabeled} rows without a label were left out.")
    return Evaluation(data, {k: float(v) for k, v in values.items()}, per_class, confusion, notes)


def _auc(compute, notes: list[str]) -> float:
    """scikit-learn's AUC; NaN (with a note) where it is not defined, as scikit-learn returns it."""
    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndefinedMetricWarning)
        try:
            value = compute()
        except ValueError as exc:  # e.g. probabilities that do not sum to 1 over the classes
            notes.append(f"AUC could not be computed: {exc}")
            return float("nan")
    for warning in caught:
        if issubclass(warning.category, UndefinedMetricWarning):
            notes.append(f"AUC is not defined: {warning.message}")
    return float(value)


def check_comparable(first: Evaluation, second: Evaluation) -> None:
    """Both inputs must be the same kind of task (0062), as the designer requires."""
    if first.task != second.task:
        raise errors.LearnerTypesNotCompatibleError(
            f"'{first.data.name}' is a {first.task.lower()} task ({len(first.data.classes)} classes) but "
            f"'{second.data.name}' is a {second.task.lower()} task ({len(second.data.classes)} classes).",
            hint="Compare two models of the same kind of task.")


def results_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """The Evaluation results table: one row per input, the left input first."""
    return pd.DataFrame([e.row() for e in evaluations])


def confusion_frame(evaluation: Evaluation) -> pd.DataFrame:
    classes = evaluation.data.classes
    frame = pd.DataFrame(evaluation.confusion, index=classes, columns=classes)
    frame.index.name = "true \\ predicted"
    return frame
