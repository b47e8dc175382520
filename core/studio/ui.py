"""The studio page's own words (buttons, menus, states) in five languages: ``ui/<lang>.json``.

Kept apart from the module catalogs (``translations/``): they are the page's, not a module's, and
the page needs them whole, as one object. English is the source; a key missing in a language
falls back to English, and ``tests/test_studio_api.py`` checks that none is missing. The names of
Evaluate Model's metrics (``metric.<column>``) come from the evaluation report's catalog entries,
so the page and the report name them alike.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from visionblocks.messages import REPORT_TEXT, Phrases, check_language

FOLDER = Path(__file__).resolve().parent / "ui"


@functools.cache
def strings(lang: str) -> dict[str, str]:
    english = json.loads((FOLDER / "en.json").read_text(encoding="utf-8"))
    phrases = Phrases(check_language(lang))
    metrics = {key: phrases.report(key) for key in REPORT_TEXT if key.startswith("metric.")}
    if lang == "en":
        return {**english, **metrics}
    return {**english, **json.loads((FOLDER / f"{lang}.json").read_text(encoding="utf-8")), **metrics}


def text(lang: str, key: str, **fields) -> str:
    phrase = strings(lang)[key]
    return phrase.format(**fields) if fields else phrase
