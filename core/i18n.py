"""Translating module metadata through gettext catalogs (read with polib).

English in the ModuleSpec is the source text. Each translatable field has a context
``<module-id>.<field>`` (for example ``score-image-model.param.fraction.help``), so the same
English sentence in two modules can be translated differently. Catalogs come from every
plugin's ``visionblocks_translation_dirs`` hook; the built-in ones live in ``translations/``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator

import polib

from .spec import ModuleSpec

LANGUAGES = ("en", "es", "pt", "ru", "fr")
TRANSLATED = LANGUAGES[1:]
DOMAIN = "visionblocks"


def module_messages(spec: ModuleSpec) -> Iterator[tuple[str, str]]:
    """Every (context, English text) pair of ``spec`` that a reader sees."""
    p = spec.id
    yield f"{p}.name", spec.name
    yield f"{p}.category", spec.category
    yield f"{p}.summary", spec.summary
    yield f"{p}.description", spec.description
    for i, step in enumerate(spec.steps, 1):
        yield f"{p}.step.{i}", step
    for kind, group in (("input", spec.inputs), ("output", spec.outputs)):
        for port in group:
            yield f"{p}.{kind}.{port.name}.label", port.label
            if port.description:
                yield f"{p}.{kind}.{port.name}.description", port.description
    for param in spec.params:
        yield f"{p}.param.{param.name}.label", param.label
        yield f"{p}.param.{param.name}.help", param.help
    for column, text in spec.results:
        yield f"{p}.result.{column}", text
    for i, note in enumerate(spec.notes, 1):
        yield f"{p}.note.{i}", note


@functools.lru_cache(maxsize=None)
def _catalog(lang: str, dirs: tuple[Path, ...]) -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for base in dirs:
        for po_path in sorted((Path(base) / lang / "LC_MESSAGES").glob("*.po")):
            for entry in polib.pofile(str(po_path)):
                if entry.msgstr and not entry.fuzzy and not entry.obsolete:
                    table[(entry.msgctxt or "", entry.msgid)] = entry.msgstr
    return table


class Translator:
    """Looks up translations for one language; English passes through unchanged."""

    def __init__(self, lang: str = "en", dirs: list[Path] | None = None):
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        self.lang = lang
        if dirs is None:
            from .plugin_host import translation_dirs

            dirs = translation_dirs()
        self._table = {} if lang == "en" else _catalog(lang, tuple(Path(d) for d in dirs))

    def lookup(self, context: str, text: str) -> str | None:
        """The translation, or None when there is none (English: the text itself)."""
        if self.lang == "en" or not text:
            return text
        return self._table.get((context, text))

    def __call__(self, context: str, text: str) -> str:
        found = self.lookup(context, text)
        return text if found is None else found

    def is_complete(self, spec: ModuleSpec) -> bool:
        return all(self.lookup(ctx, text) is not None for ctx, text in module_messages(spec))
