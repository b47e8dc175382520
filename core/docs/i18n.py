"""Translating module metadata through gettext catalogs (read with polib).

English in the ModuleSpec is the source text. Each translatable field has a context
``<module-id>.<field>`` (for example ``score-image-model.param.fraction.help``), so the same
English sentence in two modules can be translated differently. Catalogs come from every
plugin's ``visionblocks_translation_dirs`` hook; the built-in ones live in ``translations/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from visionblocks.messages import LANGUAGES, TRANSLATED, catalog as _catalog  # noqa: F401 (re-exported)
from visionblocks.spec import ModuleSpec

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
        for value in choices_with_display_names(param):
            yield choice_context(spec.id, param.name, value), value
    for column, text in spec.results:
        yield f"{p}.result.{column}", text
    for i, note in enumerate(spec.notes, 1):
        yield f"{p}.note.{i}", note
    for i, (title, body) in enumerate(spec.sections, 1):
        yield f"{p}.section.{i}.title", title
        yield f"{p}.section.{i}.body", body
    for i, example in enumerate(spec.examples, 1):
        for k, (is_code, text) in enumerate(example_parts(example)):
            if not is_code:
                yield f"{p}.example.{i}.{k}", text


def choices_with_display_names(param) -> tuple[str, ...]:
    """The values of an enum parameter that get a display name per language (``For training`` is
    "Para entrenamiento" in Spanish): the fixed choices a module defines. Choices looked up at run
    time (:class:`visionblocks.spec.DynamicChoices`, architectures a plugin may add) are names of
    things, shown as typed."""
    from visionblocks.spec import DynamicChoices

    if param.type != "enum" or isinstance(param.choices, DynamicChoices):
        return ()
    return tuple(str(value) for value in param.choices)


def choice_context(module_id: str, param_name: str, value: str) -> str:
    """``apply-image-transformation.param.mode.choice.For training``: the English text is the value
    a user types, the translation its display name in that language."""
    return f"{module_id}.param.{param_name}.choice.{value}"


# A fenced block: an opening fence (``` or ~~~, any info string) up to the same fence on its own line.
_FENCED = re.compile(r"^(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^(?P=fence)[ \t]*$", re.M | re.S)


def example_parts(example: str) -> list[tuple[bool, str]]:
    """An example split into ``(is_code, text)`` parts, in order: fenced blocks are code, kept
    byte for byte in every language; the prose between them (stripped) is translated."""
    parts: list[tuple[bool, str]] = []
    position = 0
    for fence in _FENCED.finditer(example):
        prose = example[position:fence.start()].strip()
        if prose:
            parts.append((False, prose))
        parts.append((True, fence.group(0)))
        position = fence.end()
    prose = example[position:].strip()
    if prose:
        parts.append((False, prose))
    return parts


def ui_messages() -> Iterator[tuple[str, str]]:
    """The fixed phrases of the generated pages and of ``describe`` (context ``ui.<key>``)."""
    from visionblocks.docs.ui_text import UI_TEXT

    for key, text in UI_TEXT.items():
        yield f"ui.{key}", text


def error_context(cls) -> str:
    """``error.<name in visionblocks.errors>``, e.g. ``error.NotLabeledDatasetError``.

    The attribute name, not the class name: classes made by ``errors._error`` are named after the
    designer's error (``LibraryExceptionError``) while the module exposes the name code uses
    (``LibraryError``)."""
    from visionblocks import errors

    name = next((attr for attr, value in vars(errors).items() if value is cls), cls.__name__)
    return f"error.{name}"


def error_messages() -> Iterator[tuple[str, str]]:
    """The designer's default message of every error class."""
    from visionblocks.errors import all_errors

    # Sorted, because all_errors() is built from a set.
    for context, cls in sorted(((error_context(cls), cls) for cls in all_errors()), key=lambda pair: pair[0]):
        yield context, cls.default_message


class Translator:
    """Looks up translations for one language; English passes through unchanged."""

    def __init__(self, lang: str = "en", dirs: list[Path] | None = None):
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        self.lang = lang
        if dirs is None:
            from visionblocks.plugin_host import translation_dirs

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

    def ui(self, key: str, **fields) -> str:
        """A fixed phrase (``ui_text.UI_TEXT[key]``) in this language, ``{fields}`` filled in."""
        from visionblocks.docs.ui_text import UI_TEXT

        text = self(f"ui.{key}", UI_TEXT[key])
        return text.format(**fields) if fields else text

    def error_message(self, cls) -> str:
        """The default message of error class ``cls`` in this language."""
        return self(error_context(cls), cls.default_message)
