"""Evaluate Model's report page: one self-contained HTML file next to the metrics and charts.

It shows the metrics of each scored dataset (side by side when two are compared), any note on a
metric that is not defined, the per-class table, the charts (PNG files in the same folder), and a
gallery of misclassified images — the most confident mistakes first — with their scores. The
gallery's thumbnails are embedded in the page, so the report still shows them after the scored
images are deleted or the folder is copied elsewhere.

This file chooses what the page shows; ``templates/report.html.j2`` lays it out. The template is
rendered with autoescape on, because class names, identifiers and paths come from the user's data.
Headings, metric names and the other fixed phrases come from the catalogs
(:class:`visionblocks.messages.Phrases`, ``ui.report.<key>``), numbers in the language's notation
(Babel): ``0,9861`` in Russian, ``0.9861`` in English.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from visionblocks.evaluation.metrics import BINARY, Evaluation, ScoredData, input_label
from visionblocks.messages import REPORT_TEXT, Phrases

REPORT_FILE = "report.html"
GALLERY_SIZE = 40  # misclassified images shown per scored dataset
THUMBNAIL = 112  # longest side of a thumbnail, in pixels
TOP_SCORES = 3  # class probabilities shown under each thumbnail
CHART_CAPTIONS = {"roc_curves": "chart.roc", "precision_recall_curves": "chart.precision_recall",
                  "confusion_matrix": "chart.confusion"}  # phrase keys


@dataclass
class _Card:
    """One misclassified image of the gallery."""

    identifier: object
    thumbnail: str  # a data URI, or "" when the image cannot be shown
    true_label: str
    predicted: str
    scores: list[tuple[str, float]]  # the top class probabilities; empty without probabilities
    true_probability: float | None


@dataclass
class _Gallery:
    mistakes: int
    images: int
    cards: list[_Card]  # the most confident mistakes first
    problem: tuple[str, dict] | None  # why there are no thumbnails: (phrase key, fields)


@dataclass
class _EvaluationView:
    """What the report shows of one scored dataset."""

    name: str  # in the report's language
    notes: list[str]
    source: list[str]  # facts about where the scores come from
    per_class: list[dict]
    charts: list[tuple[str, str]]  # (file name, caption)
    gallery: _Gallery


def write_report(folder: Path, evaluations: list[Evaluation], charts: list[dict[str, str]],
                 text: Phrases | None = None, name: str = REPORT_FILE) -> Path:
    """Write the report page ``name`` into ``folder`` (where ``charts``' PNG files already are), in
    ``text``'s language (English by default)."""
    text = text or Phrases("en")
    page = _template().render(
        lang=text.lang,
        t=text.report,
        number=functools.partial(_number, text=text),
        subtitle=_subtitle(evaluations, text),
        metric_rows=_metric_rows(evaluations, text),
        evaluations=[_view(evaluation, files, text) for evaluation, files in zip(evaluations, charts)],
    )
    path = Path(folder) / name
    path.write_text(page, encoding="utf-8")
    return path


@functools.lru_cache(maxsize=None)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # HTML with the user's class names and paths in it
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render instead of vanishing
    )
    return env.get_template("report.html.j2")


def _number(value, decimals: int = 4, text: Phrases | None = None):
    """A number as shown: ``decimals`` decimals in the language's notation, "not defined" for
    NaN; anything else (a class name) unchanged."""
    text = text or Phrases("en")
    if isinstance(value, (float, np.floating)):
        return text.report("not_defined") if math.isnan(value) else text.number(float(value), decimals)
    return value


def _subtitle(evaluations: list[Evaluation], text: Phrases) -> str:
    first = evaluations[0]
    task = "subtitle.binary" if first.task == BINARY else "subtitle.multiclass"
    counts = ", ".join(text.report("count", name=input_label(e.data.name, text), images=len(e.data.y_true))
                       for e in evaluations)
    return f"{text.report(task, classes=len(first.data.classes))} {counts}."


def metric_label(name: str, text: Phrases) -> str:
    """A metric's name for people ("Overall accuracy", "Общая доля правильных ответов"); the
    table's column name when there is no phrase for it."""
    key = f"metric.{name}"
    return text.report(key) if key in REPORT_TEXT else name


def _metric_rows(evaluations: list[Evaluation], text: Phrases) -> list[tuple[str, str, list]]:
    """(label, column name, one value per evaluation); a binary task's positive class first."""
    rows = []
    if evaluations[0].data.positive is not None:
        rows.append(("Positive_Label", [e.data.positive for e in evaluations]))
    for name in dict.fromkeys(name for e in evaluations for name in e.metrics):
        rows.append((name, [e.metrics.get(name, float("nan")) for e in evaluations]))
    return [(metric_label(name, text), name, values) for name, values in rows]


def _view(evaluation: Evaluation, files: dict[str, str], text: Phrases) -> _EvaluationView:
    return _EvaluationView(
        name=input_label(evaluation.data.name, text),
        notes=evaluation.notes,
        source=_source(evaluation.data, text),
        per_class=evaluation.per_class.to_dict("records"),
        charts=[(name, text.report(CHART_CAPTIONS[key]) if key in CHART_CAPTIONS else key) for key, name in files.items()],
        gallery=_gallery(evaluation.data),
    )


def _source(data: ScoredData, text: Phrases) -> list[str]:
    facts = [text.report("source.images", count=len(data.y_true))]
    if data.meta.get("model"):
        facts.append(text.report("source.model", path=data.meta["model"]))
    if data.meta.get("image_directory"):
        facts.append(text.report("source.directory", path=data.meta["image_directory"]))
    return facts


def _gallery(data: ScoredData) -> _Gallery:
    wrong = np.flatnonzero(data.y_true != data.y_pred)
    if len(wrong) == 0:
        return _Gallery(0, len(data.y_true), [], None)
    if data.probabilities is not None:
        confidence = data.probabilities[wrong, [data.classes.index(c) for c in data.y_pred[wrong]]]
        wrong = wrong[np.argsort(-confidence, kind="stable")]
    paths, problem = _image_paths(data)
    cards = [_card(data, int(i), paths) for i in wrong[:GALLERY_SIZE]]
    return _Gallery(len(wrong), len(data.y_true), cards, problem)


def _image_paths(data: ScoredData) -> tuple[dict, tuple[str, dict] | None]:
    """{identifier: image path} from the image directory the scored dataset names, or why not
    (a phrase key and its fields)."""
    from visionblocks import errors
    from visionblocks.imagedir import ImageDirectory

    folder = data.meta.get("image_directory")
    if data.identifiers is None or not folder:
        return {}, ("no_thumbnails.unknown", {})
    try:
        directory = ImageDirectory.load(folder)
    except errors.ModuleError:
        return {}, ("no_thumbnails.moved", {"folder": folder})
    return {entry.id: directory.path_of(entry) for entry in directory.entries}, None


def _card(data: ScoredData, index: int, paths: dict) -> _Card:
    identifier = data.identifiers[index] if data.identifiers is not None else index
    path = paths.get(int(identifier)) if paths else None
    scores, true_probability = [], None
    if data.probabilities is not None:
        probs = data.probabilities[index]
        scores = [(data.classes[k], float(probs[k])) for k in np.argsort(-probs, kind="stable")[:TOP_SCORES]]
        true_probability = float(probs[data.classes.index(data.y_true[index])])
    return _Card(identifier, _thumbnail(path) if path else "", data.y_true[index], data.y_pred[index], scores,
                 true_probability)


def _thumbnail(path: Path) -> str:
    """A PNG data URI of the image, upscaled without smoothing when tiny (digits stay crisp)."""
    from PIL import Image

    from visionblocks import errors
    from visionblocks.images import open_rgb

    try:
        image = open_rgb(path)[0]
    except (OSError, ValueError, errors.ModuleError):  # e.g. over the pixel limit: the card shows no picture
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
