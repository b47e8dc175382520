"""Interface labels — ports, parameters, option values — are marked the same way in all five languages.

Running text writes a label in **bold**, as Microsoft's designer pages do, in English and in every
translation: "Connect the **Trained model** output …", "Conecte la salida **Modelo entrenado** …".
Russian no longer quotes labels with «…» (quotes are kept for real quotations and module names).
Values a user types (`For training`, `fp32`, `dog`) are code; on the module pages the display name
of an option value in the page's language comes next to it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import polib
import pytest
import yaml

from docs_site import untranslated_module_page
from visionblocks.docs import catalog
from visionblocks.docs.i18n import TRANSLATED, choices_with_display_names, module_messages

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SPECS = sorted(catalog.builtin_specs(), key=lambda spec: spec.id)
MODULE_NAMES = [ids["en"] for ids in yaml.safe_load(catalog.GLOSSARY.read_text(encoding="utf-8"))["modules"].values()]
CATALOGS = {lang: {entry.msgctxt: entry.msgstr for entry in polib.pofile(str(path))}
            for lang, path in catalog.catalog_paths().items()}

_BOLD = re.compile(r"\*\*([^*]+)\*\*")
# What is not running text inside a text: code, link texts and targets, bold labels already marked.
_NOT_PROSE = re.compile(r"`+[^`]+`+|\[[^\]]*\]\([^)]*\)|\*\*[^*]+\*\*")
_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
_IDENTIFIER = re.compile(r"^[a-z0-9_]+$")
_QUOTED = re.compile(r"«\s?([^»]+?)\s?»|“([^”]+)”")
# Prose fields of a module (not its name, category, labels, option display names, section titles or examples).
_NOT_RUNNING_TEXT = re.compile(r"\.(name|category|label|title)$|\.choice\.|\.example\.")


def _label_contexts(spec):
    """(context, English) of every label of ``spec``: ports, parameters, option values."""
    for kind, group in (("input", spec.inputs), ("output", spec.outputs)):
        for port in group:
            yield f"{spec.id}.{kind}.{port.name}.label", port.label
    for param in spec.params:
        yield f"{spec.id}.param.{param.name}.label", param.label
        for value in choices_with_display_names(param):
            yield f"{spec.id}.param.{param.name}.choice.{value}", value


def _labels(lang: str, first=None) -> dict[str, str]:
    """English label -> its text in ``lang``; ``first``'s own labels win over other modules' labels of
    the same English (running text may name another module's port: "the **Trained model** output")."""
    found: dict[str, str] = {}
    for spec in ([first] if first else []) + SPECS:
        for context, english in _label_contexts(spec):
            found.setdefault(english, english if lang == "en" else CATALOGS[lang].get(context) or english)
    return found


def _running_text(spec):
    return [(context, english) for context, english in module_messages(spec)
            if not _NOT_RUNNING_TEXT.search(context)]


# -- module text (catalogs and ModuleSpec prose) -------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_english_marks_every_label_it_names(spec):
    """Every port, parameter or option label that the English prose names is in bold, and every bold
    span is such a label."""
    labels = sorted(_labels("en"), key=len, reverse=True)
    # Values that are identifiers (`fp32`, `torch`) are written as code, and the same words occur as
    # plain words ("the torch hub cache"), so only labels in words are looked for unmarked.
    unmarked_candidates = [label for label in labels if not _IDENTIFIER.match(label)]
    problems = []
    for context, english in _running_text(spec):
        for span in _BOLD.findall(english):
            if span not in labels:
                problems.append(f"{context}: **{span}** is not a port, parameter or option label")
        prose = _NOT_PROSE.sub(" ", english)
        for name in MODULE_NAMES:  # a module's name may contain a label's word (Train Linear Image Classifier)
            prose = prose.replace(name, " ")
        for label in unmarked_candidates:
            if re.search(rf"(?<![\w*]){re.escape(label)}(?![\w*])", prose):
                problems.append(f"{context}: {label!r} is not in bold")
                prose = prose.replace(label, " ")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_translation_marks_the_same_labels(spec, lang):
    """Each translated text has in bold exactly the labels the English has in bold, in their
    translated form, and quotes none of them."""
    labels = _labels(lang, spec)
    translated_labels = set(labels.values())
    problems = []
    for context, english in _running_text(spec):
        translation = CATALOGS[lang].get(context)
        if not translation:
            continue
        expected = Counter(labels.get(span, span) for span in _BOLD.findall(english))
        found = Counter(_BOLD.findall(translation))
        if expected != found:
            problems.append(f"{context}: bold {sorted(found.elements())}, expected {sorted(expected.elements())}")
        quoted = [a or b for a, b in _QUOTED.findall(translation) if (a or b) in translated_labels]
        if quoted:
            problems.append(f"{context}: labels in quotes instead of bold: {quoted}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_option_value_has_a_display_name(lang):
    missing = [f"{spec.id}.{param.name}={value}" for spec in SPECS for param in spec.params
               for value in choices_with_display_names(param)
               if not CATALOGS[lang].get(f"{spec.id}.param.{param.name}.choice.{value}")]
    assert not missing, f"{lang}: option values without a display name: {missing}"


def test_module_pages_show_display_names_next_to_typed_values():
    page = (DOCS / "modules" / "apply-image-transformation.es.md").read_text(encoding="utf-8")
    assert "`For training` (Para entrenamiento), `For inference` (Para inferencia)" in page
    assert "Establezca **Modo** en **Para entrenamiento**" in page
    english = (DOCS / "modules" / "apply-image-transformation.md").read_text(encoding="utf-8")
    assert "Allowed values: `For training`, `For inference`" in english  # no display name repeating the value


# -- pages ---------------------------------------------------------------------------------------


def _page_groups() -> list[list[Path]]:
    """Each page with its translations: [page.md, page.es.md, page.pt.md, page.ru.md, page.fr.md]."""
    groups = []
    for english in sorted(DOCS.rglob("*.md")):
        if english.name.count(".") != 1:
            continue
        group = [english] + [english.with_name(f"{english.stem}.{lang}.md") for lang in TRANSLATED]
        if all(path.is_file() for path in group) and not any(untranslated_module_page(path) for path in group):
            groups.append(group)
    return groups


def _bold_labels(path: Path, lang: str) -> list[str]:
    """The bold spans of the running text of ``path`` that are labels in ``lang`` (parameter headings
    of the module pages left out: they are the labels' definitions, not running text)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"^\*\*[^*]+\*\* · `[a-z0-9_]+`$", "", text, flags=re.M)
    labels = set(_labels(lang).values())
    return [span for span in _BOLD.findall(" ".join(text.split())) if span in labels]


@pytest.mark.parametrize("group", _page_groups(), ids=lambda group: str(group[0].relative_to(DOCS)))
def test_every_language_of_a_page_marks_as_many_labels(group):
    counts = {lang: len(_bold_labels(path, lang)) for path, lang in zip(group, ("en",) + TRANSLATED)}
    assert len(set(counts.values())) == 1, f"{group[0].relative_to(REPO)}: bold labels per language {counts}"


@pytest.mark.parametrize("group", _page_groups(), ids=lambda group: str(group[0].relative_to(DOCS)))
def test_pages_neither_quote_labels_nor_italicize_typed_values(group):
    problems = []
    for path, lang in zip(group, ("en",) + TRANSLATED):
        text = " ".join(_FENCE.sub("", path.read_text(encoding="utf-8")).split())
        labels = set(_labels(lang).values())
        quoted = [a or b for a, b in _QUOTED.findall(text) if (a or b) in labels]
        italic = re.findall(r"(?<![*\w])\*(For training|For inference)\*", text)
        if quoted or italic:
            problems.append(f"{path.name}: quoted labels {quoted}, italic values {italic}")
    assert not problems, "; ".join(problems)
