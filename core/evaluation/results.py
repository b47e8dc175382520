"""Evaluate Model's whole output folder, from one or two scored datasets.

The folder is a DataFrameDirectory whose table has one row of metrics per scored dataset (the
left input first). Next to it: the charts of each input (the second input's end in ``_compare``),
each confusion matrix as CSV, and the report page, with the chart labels and the report's
phrases in the run's language. The metadata names all of them, the language and the scored
datasets, so ``visionblocks report`` and other readers find them without knowing the file names,
and ``visionblocks report --lang`` can write the report again in another language.
"""

from __future__ import annotations

from pathlib import Path

from visionblocks import errors, ports
from visionblocks.dataframe import write_dataframe
from visionblocks.evaluation.metrics import (INPUT_NAMES, INPUT_PORTS, Evaluation, check_comparable,  # noqa: F401
                                             compute_metrics, confusion_frame, input_label, read_scored,
                                             results_table)
from visionblocks.evaluation.plots import write_plots
from visionblocks.evaluation.report import REPORT_FILE, write_report
from visionblocks.messages import Phrases

# The file-name ending of each input's charts and confusion matrix.
SUFFIXES = ("", "_compare")


def write_evaluation_results(out: str | Path, scored: str | Path,
                             scored_to_compare: str | Path | None = None, lang: str = "en") -> list[Evaluation]:
    """Evaluate ``scored`` (and ``scored_to_compare``) into ``out``, the report and charts in
    ``lang``; return the evaluations, left input first. Two inputs must be the same kind of task (0062)."""
    out = Path(out)
    folders = [scored] if scored_to_compare is None else [scored, scored_to_compare]
    evaluations = _evaluate(folders)
    out.mkdir(parents=True, exist_ok=True)
    text = Phrases(lang)
    charts = [write_plots(evaluation, out, suffix, text) for evaluation, suffix in zip(evaluations, SUFFIXES)]
    tables = [_write_confusion(evaluation, out, suffix) for evaluation, suffix in zip(evaluations, SUFFIXES)]
    report = write_report(out, evaluations, charts, text)
    write_dataframe(out, results_table(evaluations), task=evaluations[0].task,
                    metrics=list(dict.fromkeys(name for evaluation in evaluations for name in evaluation.metrics)),
                    report=report.name, charts=[name for files in charts for name in files.values()],
                    confusion_matrices=tables, language=lang,
                    scored_datasets=[str(Path(folder).resolve()) for folder in folders])
    return evaluations


def _evaluate(folders: list) -> list[Evaluation]:
    evaluations = [compute_metrics(read_scored(folder, name)) for folder, name in zip(folders, INPUT_NAMES)]
    if len(evaluations) == 2:
        check_comparable(*evaluations)
    return evaluations


def report_in(folder: str | Path, lang: str) -> Path:
    """The report of the Evaluation results ``folder`` in ``lang``: the folder's own report when it
    was written in ``lang``, else ``report.<lang>.html`` with charts ``<chart>.<lang>.png``, written
    (again) from the scored datasets the folder names."""
    folder = Path(folder)
    meta = ports.read_meta(folder)
    if meta.get("language", "en") == lang:
        return folder / meta.get("report", REPORT_FILE)
    scored = meta.get("scored_datasets") or []
    missing = [path for path in scored if not Path(path).is_dir()]
    if not scored or missing:
        raise errors.NullOrEmptyError(
            f"Cannot write the report of {folder} in another language: "
            + (f"the scored dataset {missing[0]} is gone." if missing else "it does not name its scored datasets."),
            hint="Run Evaluate Model again with the language you want (visionblocks run --lang).")
    evaluations = _evaluate(scored)
    text = Phrases(lang)
    charts = [write_plots(evaluation, folder, f"{suffix}.{lang}", text)
              for evaluation, suffix in zip(evaluations, SUFFIXES)]
    return write_report(folder, evaluations, charts, text, name=f"report.{lang}.html")


def _write_confusion(evaluation: Evaluation, out: Path, suffix: str) -> str:
    name = f"confusion_matrix{suffix}.csv"
    confusion_frame(evaluation).to_csv(out / name)
    return name


def summary_line(evaluation: Evaluation) -> str:
    """One line for the run's log: the input, its task and size, and every metric."""
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in evaluation.metrics.items())
    return f"{evaluation.data.name} ({evaluation.task}, {len(evaluation.data.y_true)} images): {metrics}"
