"""Evaluate Model's charts as PNG files: ROC curves, precision-recall curves, confusion matrix.

Figures are drawn on matplotlib's ``Figure`` objects (Agg canvas) rather than through pyplot, so
no display is needed and no global plotting state of the caller is touched. Every chart has a title naming the scored dataset, labelled axes and
class names; the confusion matrix writes its counts in the cells. Titles, axis labels and legends
come from the report's phrases (:class:`visionblocks.messages.Phrases`), in the report's language,
with numbers in that language's notation.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from visionblocks.evaluation.metrics import BINARY, Evaluation, input_label
from visionblocks.messages import Phrases

ENGLISH = Phrases("en")

# Up to this many classes get their own labelled curve; beyond it the legend would hide the chart,
# so classes are drawn thin and grey under the micro-averaged curve.
MAX_LABELLED_CURVES = 12
# Up to this many classes show their counts inside the confusion-matrix cells.
MAX_ANNOTATED_CLASSES = 30
DPI = 110


def write_plots(evaluation: Evaluation, folder: Path, suffix: str = "", text: Phrases = ENGLISH) -> dict[str, str]:
    """Draw every chart of ``evaluation`` into ``folder`` in ``text``'s language; return {chart:
    file name}. ``suffix`` ends each file's name (before ``.png``)."""
    files = {"confusion_matrix": f"confusion_matrix{suffix}.png"}
    plot_confusion_matrix(evaluation, folder / files["confusion_matrix"], text)
    if evaluation.data.probabilities is not None:
        files["roc_curves"] = f"roc_curves{suffix}.png"
        files["precision_recall_curves"] = f"precision_recall_curves{suffix}.png"
        plot_roc_curves(evaluation, folder / files["roc_curves"], text)
        plot_precision_recall_curves(evaluation, folder / files["precision_recall_curves"], text)
    return files


def _curves(evaluation: Evaluation):
    """(class name, binary truth, score) for each curve to draw: the positive class only for a
    binary task, every class one-vs-rest otherwise (classes without any image are skipped)."""
    data = evaluation.data
    classes = [data.positive] if evaluation.task == BINARY else data.classes
    for name in classes:
        truth = data.y_true == name
        if truth.any() and not truth.all():
            yield name, truth, data.probabilities[:, data.classes.index(name)]


def _curve_chart(evaluation: Evaluation):
    """A figure for one curve per class: (figure, axes, curves, whether each curve gets a legend
    entry, colour map). Past MAX_LABELLED_CURVES classes the curves are drawn grey and unlabelled."""
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    curves = list(_curves(evaluation))
    colors = matplotlib.colormaps["tab10" if len(curves) <= 10 else "tab20"]
    return fig, ax, curves, len(curves) <= MAX_LABELLED_CURVES, colors


def _pooled(curves) -> tuple[np.ndarray, np.ndarray]:
    """Every class's one-against-the-rest labels and scores as one sample: the micro-average."""
    return np.concatenate([t for _, t, _ in curves]), np.concatenate([s for _, _, s in curves])


def plot_roc_curves(evaluation: Evaluation, path: Path, text: Phrases = ENGLISH) -> None:
    from sklearn.metrics import auc, roc_curve

    data = evaluation.data
    fig, ax, curves, labelled, colors = _curve_chart(evaluation)
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label=text.report("chart.chance"))
    for k, (name, truth, score) in enumerate(curves):
        fpr, tpr, _ = roc_curve(truth, score)
        if labelled:
            ax.plot(fpr, tpr, color=colors(k % colors.N), linewidth=1.6,
                    label=f"{name} (AUC {text.number(auc(fpr, tpr), 3)})")
        else:
            ax.plot(fpr, tpr, color="0.75", linewidth=0.6)
    if not labelled:
        truth, score = _pooled(curves)
        fpr, tpr, _ = roc_curve(truth, score)
        ax.plot(fpr, tpr, color="C0", linewidth=2, label=f"{text.report('chart.micro_average', count=len(curves))} "
                                                         f"(AUC {text.number(auc(fpr, tpr), 3)})")
    _finish(ax, f"{text.report('chart.roc')} ({_kind(evaluation, text)})\n{input_label(data.name, text)}",
            text.report("chart.false_positive_rate"), text.report("chart.true_positive_rate"), "lower right", text)
    _save(fig, path)


def plot_precision_recall_curves(evaluation: Evaluation, path: Path, text: Phrases = ENGLISH) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    data = evaluation.data
    fig, ax, curves, labelled, colors = _curve_chart(evaluation)
    for k, (name, truth, score) in enumerate(curves):
        precision, recall, _ = precision_recall_curve(truth, score)
        if labelled:
            ap = average_precision_score(truth, score)
            ax.step(recall, precision, where="post", color=colors(k % colors.N), linewidth=1.6,
                    label=f"{name} (AP {text.number(ap, 3)})")
        else:
            ax.step(recall, precision, where="post", color="0.75", linewidth=0.6)
    if not labelled:
        truth, score = _pooled(curves)
        precision, recall, _ = precision_recall_curve(truth, score)
        ax.step(recall, precision, where="post", color="C0", linewidth=2,
                label=f"{text.report('chart.micro_average', count=len(curves))} "
                      f"(AP {text.number(average_precision_score(truth, score), 3)})")
    _finish(ax, f"{text.report('chart.precision_recall')} ({_kind(evaluation, text)})\n{input_label(data.name, text)}",
            text.report("col.recall"), text.report("col.precision"), "lower left", text)
    _save(fig, path)


def plot_confusion_matrix(evaluation: Evaluation, path: Path, text: Phrases = ENGLISH) -> None:
    data = evaluation.data
    counts = evaluation.confusion
    n = len(data.classes)
    totals = counts.sum(axis=1, keepdims=True)
    # Colour = share of the true class (row), so a rare class's mistakes show as clearly as a
    # common one's; the cell text gives the count.
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    edge = min(14.0, max(5.0, 0.55 * n + 2.5))
    fig = Figure(figsize=(edge + 1.2, edge))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(text.report("chart.share"))
    bar.ax.yaxis.set_major_formatter(_number_format(text))
    ticks = np.arange(n)
    ax.set_xticks(ticks, labels=data.classes, rotation=45 if max(len(c) for c in data.classes) > 3 else 0,
                  ha="right" if max(len(c) for c in data.classes) > 3 else "center")
    ax.set_yticks(ticks, labels=data.classes)
    if n <= MAX_ANNOTATED_CLASSES:
        size = 11 if n <= 10 else 8 if n <= 20 else 6
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=size,
                        color="white" if shares[i, j] > 0.5 else "black")
    accuracy = np.trace(counts) / max(1, counts.sum())
    title = text.report("chart.confusion_title", images=counts.sum(), accuracy=text.number(accuracy, 3))
    ax.set_title(f"{title}\n{input_label(data.name, text)}")
    ax.set_xlabel(text.report("chart.predicted_label"))
    ax.set_ylabel(text.report("chart.true_label"))
    _save(fig, path)


def _kind(evaluation: Evaluation, text: Phrases) -> str:
    if evaluation.task == BINARY:
        return text.report("chart.positive_class", label=evaluation.data.positive)
    return text.report("chart.one_vs_rest")


def _number_format(text: Phrases):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: text.number(value, 1))


def _finish(ax, title: str, xlabel: str, ylabel: str, legend_at: str, text: Phrases = ENGLISH) -> None:
    ax.xaxis.set_major_formatter(_number_format(text))
    ax.yaxis.set_major_formatter(_number_format(text))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.02)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_at, fontsize=8, framealpha=0.9)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
