"""Phrases in the reader's language, for any layer: the language list, the lookup in the gettext
catalogs, numbers written the way a language writes them, and the English of the evaluation
report's fixed phrases.

The lookup lives here, in the foundation, because both the docs tooling (module pages,
``describe``) and the evaluation report read the catalogs, and neither may import the other.
For the same reason the report's English phrases are here: the report renders them and
``docs extract`` puts them into the catalogs (as ``ui.report.<key>``, through
``visionblocks.docs.ui_text``). Torch-free; polib and Babel only.
"""

from __future__ import annotations

import functools
from pathlib import Path

LANGUAGES = ("en", "es", "pt", "ru", "fr")
TRANSLATED = LANGUAGES[1:]

# The evaluation report's fixed phrases (charts included). ``{name}`` fields are filled in when
# the report is written and must stay in translations. Metric names are keyed by the column
# name of the Evaluation results table.
REPORT_TEXT = {
    "title": "Evaluation report",
    "subtitle.binary": "Binary classification, {classes} classes.",
    "subtitle.multiclass": "Multi-class classification, {classes} classes.",
    "count": "{name}: {images} images",
    "metrics": "Metrics",
    "col.metric": "Metric",
    "per_class": "Per class",
    "col.class": "Class",
    "col.precision": "Precision",
    "col.recall": "Recall",
    "col.f1": "F1 score",
    "col.images": "Images",
    "charts": "Charts",
    "misclassified": "Misclassified images ({mistakes} of {images})",
    "all_correct": "Every image was classified correctly.",
    "most_confident": "The {shown} most confident mistakes are shown.",
    "image": "image {id}",
    "card.true": "true",
    "card.predicted": "predicted",
    "card.true_class": "true class",
    "not_defined": "not defined",
    "source.images": "{count} images",
    "source.model": "model {path}",
    "source.directory": "images {path}",
    "no_thumbnails.unknown": "The scored dataset does not say where its images are, so no thumbnails are shown.",
    "no_thumbnails.moved": "The scored images are no longer at {folder}, so no thumbnails are shown.",
    "metric.Positive_Label": "Positive label",
    "metric.Accuracy": "Accuracy",
    "metric.Precision": "Precision",
    "metric.Recall": "Recall",
    "metric.F1_Score": "F1 score",
    "metric.AUC": "AUC",
    "metric.Log_Loss": "Log loss",
    "metric.Overall_Accuracy": "Overall accuracy",
    "metric.Micro_Precision": "Micro-averaged precision",
    "metric.Micro_Recall": "Micro-averaged recall",
    "metric.Micro_F1_Score": "Micro-averaged F1 score",
    "metric.Macro_Precision": "Macro-averaged precision",
    "metric.Macro_Recall": "Macro-averaged recall",
    "metric.Macro_F1_Score": "Macro-averaged F1 score",
    "metric.Macro_AUC": "Macro-averaged AUC",
    "chart.roc": "ROC curves",
    "chart.precision_recall": "Precision-recall curves",
    "chart.confusion": "Confusion matrix",
    "chart.positive_class": "positive class {label}",
    "chart.one_vs_rest": "one class against the rest",
    "chart.chance": "Chance",
    "chart.micro_average": "Micro-average of {count} classes",
    "chart.false_positive_rate": "False positive rate",
    "chart.true_positive_rate": "True positive rate",
    "chart.confusion_title": "Confusion matrix ({images} images, accuracy {accuracy})",
    "chart.share": "Share of the images of the true class",
    "chart.predicted_label": "Predicted label",
    "chart.true_label": "True label",
}
REPORT_CONTEXT = "ui.report."  # the catalog context of REPORT_TEXT[key] is REPORT_CONTEXT + key


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    return lang


@functools.lru_cache(maxsize=None)
def catalog(lang: str, dirs: tuple[Path, ...]) -> dict[tuple[str, str], str]:
    """{(msgctxt, English): translation} of every ``<dir>/<lang>/LC_MESSAGES/*.po``; fuzzy and
    untranslated entries are left out (their English is shown)."""
    import polib

    table: dict[tuple[str, str], str] = {}
    for base in dirs:
        for po_path in sorted((Path(base) / lang / "LC_MESSAGES").glob("*.po")):
            for entry in polib.pofile(str(po_path)):
                if entry.msgstr and not entry.fuzzy and not entry.obsolete:
                    table[(entry.msgctxt or "", entry.msgid)] = entry.msgstr
    return table


class Phrases:
    """Translations into one language from the installed plugins' catalogs; English passes through."""

    def __init__(self, lang: str = "en", dirs: list[Path] | None = None):
        self.lang = check_language(lang)
        if lang == "en":
            self._table: dict[tuple[str, str], str] = {}
            return
        if dirs is None:
            from visionblocks.plugin_host import translation_dirs

            dirs = translation_dirs()
        self._table = catalog(lang, tuple(Path(d) for d in dirs))

    def __call__(self, context: str, text: str) -> str:
        return self._table.get((context, text), text) if self.lang != "en" and text else text

    def report(self, key: str, **fields) -> str:
        """A report phrase (``REPORT_TEXT[key]``) in this language, ``{fields}`` filled in."""
        text = self(REPORT_CONTEXT + key, REPORT_TEXT[key])
        return text.format(**fields) if fields else text

    def number(self, value: float, decimals: int = 4) -> str:
        """``value`` with ``decimals`` decimals, in this language's notation (``0,9861`` in Russian)."""
        from babel.numbers import format_decimal

        return format_decimal(value, format="#,##0." + "0" * decimals, locale=self.lang)
