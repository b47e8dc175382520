"""Evaluate Model's report page: one self-contained HTML file next to the metrics and charts.

It shows the metrics of each scored dataset (side by side when two are compared), any note on a
metric that is not defined, the per-class table, the charts (PNG files in the same folder), and a
gallery of misclassified images — the most confident mistakes first — with their scores. The
gallery's thumbnails are embedded in the page, so the report still shows them after the scored
images are deleted or the folder is copied elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from visionblocks.evaluation.metrics import Evaluation

REPORT_FILE = "report.html"
GALLERY_SIZE = 40  # misclassified images shown per scored dataset
THUMBNAIL = 112  # longest side of a thumbnail, in pixels
TOP_SCORES = 3  # class probabilities shown under each thumbnail

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
.muted { color: #59636e; font-size: .92rem; }
table { border-collapse: collapse; margin: .8rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .3rem .7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { background: #f6f8fa; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; } .charts img { max-width: 100%; border: 1px solid #d0d7de; }
.charts figure { margin: 0; flex: 1 1 30rem; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .8rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; font-size: .85rem; }
.card img { display: block; margin: 0 auto .4rem; image-rendering: pixelated; max-width: 100%; }
.wrong { color: #b42318; font-weight: 600; } .right { color: #1a7f37; font-weight: 600; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: .4rem .7rem; border-radius: 6px; }
"""


def write_report(folder: Path, evaluations: list[Evaluation], charts: list[dict[str, str]]) -> Path:
    """Write ``report.html`` into ``folder`` (where ``charts``' PNG files already are)."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Evaluation report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f'<p class="muted">{_e(_subtitle(evaluations))}</p>',
        "<h2>Metrics</h2>", _metrics_table(evaluations),
    ]
    for evaluation in evaluations:
        for note in evaluation.notes:
            parts.append(f'<p class="note">{_e(evaluation.data.name)}: {_e(note)}</p>')
    for evaluation, files in zip(evaluations, charts):
        parts.append(f"<h2>{_e(evaluation.data.name)}</h2>")
        parts.append(_source_line(evaluation))
        parts.append(_per_class_table(evaluation))
        parts.append(_charts(files))
        parts.append(_gallery(evaluation))
    parts.append("</body></html>")
    path = Path(folder) / REPORT_FILE
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _number(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "not defined" if math.isnan(value) else f"{value:.4f}"
    return _e(value)


def _subtitle(evaluations: list[Evaluation]) -> str:
    first = evaluations[0]
    counts = ", ".join(f"{e.data.name}: {len(e.data.y_true)} images" for e in evaluations)
    return f"{first.task} classification, {len(first.data.classes)} classes. {counts}."


def _metrics_table(evaluations: list[Evaluation]) -> str:
    names = list(dict.fromkeys(name for e in evaluations for name in e.metrics))
    head = "".join(f"<th>{_e(e.data.name)}</th>" for e in evaluations)
    rows = []
    if evaluations[0].data.positive is not None:
        rows.append("<tr><td>Positive_Label</td>" + "".join(f"<td>{_e(e.data.positive)}</td>" for e in evaluations)
                    + "</tr>")
    for name in names:
        cells = "".join(f"<td>{_number(e.metrics.get(name, float('nan')))}</td>" for e in evaluations)
        rows.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    return f"<table><thead><tr><th>Metric</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _source_line(evaluation: Evaluation) -> str:
    meta = evaluation.data.meta
    bits = [f"{len(evaluation.data.y_true)} images"]
    if meta.get("model"):
        bits.append(f"model {meta['model']}")
    if meta.get("image_directory"):
        bits.append(f"images {meta['image_directory']}")
    return f'<p class="muted">{_e("; ".join(bits))}</p>'


def _per_class_table(evaluation: Evaluation) -> str:
    rows = "".join(
        f"<tr><td>{_e(r.label)}</td><td>{_number(r.precision)}</td><td>{_number(r.recall)}</td>"
        f"<td>{_number(r.f1_score)}</td><td>{int(r.support)}</td></tr>"
        for r in evaluation.per_class.itertuples())
    return ("<h3>Per class</h3><table><thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1 score</th>"
            f"<th>Images</th></tr></thead><tbody>{rows}</tbody></table>")


def _charts(files: dict[str, str]) -> str:
    captions = {"roc_curves": "ROC curves", "precision_recall_curves": "Precision-recall curves",
                "confusion_matrix": "Confusion matrix"}
    figures = "".join(f'<figure><img src="{_e(name)}" alt="{_e(captions.get(key, key))}"></figure>'
                      for key, name in files.items())
    return f'<h3>Charts</h3><div class="charts">{figures}</div>'


def _gallery(evaluation: Evaluation) -> str:
    data = evaluation.data
    wrong = np.flatnonzero(data.y_true != data.y_pred)
    title = f"<h3>Misclassified images ({len(wrong)} of {len(data.y_true)})</h3>"
    if len(wrong) == 0:
        return title + "<p>Every image was classified correctly.</p>"
    if data.probabilities is not None:
        confidence = data.probabilities[wrong, [data.classes.index(c) for c in data.y_pred[wrong]]]
        wrong = wrong[np.argsort(-confidence, kind="stable")]
    shown = wrong[:GALLERY_SIZE]
    paths, problem = _image_paths(data)
    cards = "".join(_card(data, int(i), paths) for i in shown)
    more = f"<p class=\"muted\">The {len(shown)} most confident mistakes are shown.</p>" if len(wrong) > len(shown) else ""
    note = f'<p class="note">{_e(problem)}</p>' if problem else ""
    return f'{title}{more}{note}<div class="gallery">{cards}</div>'


def _image_paths(data) -> tuple[dict, str]:
    """{identifier: image path} from the image directory the scored dataset names, or a reason."""
    from visionblocks import errors
    from visionblocks.imagedir import ImageDirectory

    folder = data.meta.get("image_directory")
    if data.identifiers is None or not folder:
        return {}, "The scored dataset does not say where its images are, so no thumbnails are shown."
    try:
        directory = ImageDirectory.load(folder)
    except errors.ModuleError:
        return {}, f"The scored images are no longer at {folder}, so no thumbnails are shown."
    return {entry.id: directory.path_of(entry) for entry in directory.entries}, ""


def _card(data, index: int, paths: dict) -> str:
    identifier = data.identifiers[index] if data.identifiers is not None else index
    path = paths.get(int(identifier)) if paths else None
    image = f'<img src="{_thumbnail(path)}" alt="image {_e(identifier)}">' if path else ""
    lines = [f"<div>image {_e(identifier)}</div>",
             f'<div>true <span class="right">{_e(data.y_true[index])}</span>, '
             f'predicted <span class="wrong">{_e(data.y_pred[index])}</span></div>']
    if data.probabilities is not None:
        probs = data.probabilities[index]
        top = np.argsort(-probs, kind="stable")[:TOP_SCORES]
        scores = ", ".join(f"{_e(data.classes[k])}: {probs[k]:.3f}" for k in top)
        true_p = probs[data.classes.index(data.y_true[index])]
        lines.append(f'<div class="muted">{scores}; true class {true_p:.3f}</div>')
    return f'<div class="card">{image}{"".join(lines)}</div>'


def _thumbnail(path: Path) -> str:
    """A PNG data URI of the image, upscaled without smoothing when tiny (digits stay crisp)."""
    from PIL import Image

    from visionblocks.images import open_rgb

    try:
        image = open_rgb(path)[0]
    except (OSError, ValueError):
        return ""
    longest = max(image.size)
    if longest < THUMBNAIL:  # whole-number upscaling keeps every source pixel the same size
        scale, resample = max(1, THUMBNAIL // longest), Image.Resampling.NEAREST
    else:
        scale, resample = THUMBNAIL / longest, Image.Resampling.LANCZOS
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    buffer = io.BytesIO()
    image.resize(size, resample).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
