"""Evaluate Model's whole output folder, from one or two scored datasets.

The folder is a DataFrameDirectory whose table has one row of metrics per scored dataset (the
left input first). Next to it: the charts of each input (the second input's end in ``_compare``),
each confusion matrix as CSV, and the report page. The metadata names all of them, so
``visionblocks report`` and other readers find them without knowing the file names.
"""

from __future__ import annotations

from pathlib import Path

from visionblocks.dataframe import write_dataframe
from visionblocks.evaluation.metrics import (Evaluation, check_comparable, compute_metrics, confusion_frame,
                                             read_scored, results_table)
from visionblocks.evaluation.plots import write_plots
from visionblocks.evaluation.report import write_report

# How each input is named in the table, the charts and the report: Evaluate Model's port labels.
INPUT_NAMES = ("Scored dataset", "Scored dataset to compare")
# The file-name ending of each input's charts and confusion matrix.
SUFFIXES = ("", "_compare")


def write_evaluation_results(out: str | Path, scored: str | Path,
                             scored_to_compare: str | Path | None = None) -> list[Evaluation]:
    """Evaluate ``scored`` (and ``scored_to_compare``) into ``out``; return the evaluations, left
    input first. Two inputs must be the same kind of task (0062)."""
    out = Path(out)
    folders = [scored] if scored_to_compare is None else [scored, scored_to_compare]
    evaluations = [compute_metrics(read_scored(folder, name)) for folder, name in zip(folders, INPUT_NAMES)]
    if len(evaluations) == 2:
        check_comparable(*evaluations)
    out.mkdir(parents=True, exist_ok=True)
    charts = [write_plots(evaluation, out, suffix) for evaluation, suffix in zip(evaluations, SUFFIXES)]
    tables = [_write_confusion(evaluation, out, suffix) for evaluation, suffix in zip(evaluations, SUFFIXES)]
    report = write_report(out, evaluations, charts)
    write_dataframe(out, results_table(evaluations), task=evaluations[0].task,
                    metrics=list(dict.fromkeys(name for evaluation in evaluations for name in evaluation.metrics)),
                    report=report.name, charts=[name for files in charts for name in files.values()],
                    confusion_matrices=tables)
    return evaluations


def _write_confusion(evaluation: Evaluation, out: Path, suffix: str) -> str:
    name = f"confusion_matrix{suffix}.csv"
    confusion_frame(evaluation).to_csv(out / name)
    return name


def summary_line(evaluation: Evaluation) -> str:
    """One line for the run's log: the input, its task and size, and every metric."""
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in evaluation.metrics.items())
    return f"{evaluation.data.name} ({evaluation.task}, {len(evaluation.data.y_true)} images): {metrics}"
