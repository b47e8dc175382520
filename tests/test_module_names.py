"""Module names: the glossary against Microsoft's localized names, and every page against the glossary.

``translations/glossary.yaml`` holds each built-in module's name per language, the entry of
``official-names.md`` (Microsoft's localized designer reference, read from the localized
azure-docs repositories) it comes from, and the reason wherever it departs from Microsoft's wording.
The pages — generated module pages and hand-written pages, in five languages — must use those
names: in titles, in links to module pages, and never a retired name in running text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from docs_site import untranslated_module_page
from visionblocks.docs import catalog
from visionblocks.docs.i18n import TRANSLATED

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
GLOSSARY = yaml.safe_load(catalog.GLOSSARY.read_text(encoding="utf-8"))["modules"]
# Kept next to the repository, with the designer spec (see DESIGN.md); a bare checkout has no copy.
# A copy of the brief's reference/official-names.md kept with the glossary, so CI checks it too.
OFFICIAL_NAMES = REPO / "translations" / "official-names.md"
LOCALES = {"es": "es-ES", "pt": "pt-BR", "ru": "ru-RU", "fr": "fr-FR"}

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`+[^`\n]+`+")
# A link to a module page: modules/<id>.md from a hand-written page, <id>.md between module pages.
_MODULE_LINK = re.compile(r"\[([^\]]+)\]\((\.\./)?(modules/)?([a-z0-9-]+)\.md(#[^)]*)?\)")


def _same_letters(text: str) -> str:
    """The site writes French with the straight apostrophe; Microsoft's pages often use the curly one."""
    return " ".join(text.replace("\u2019", "'").split())


def _official_rows(locale: str, module_id: str) -> str:
    """The rows of ``module_id`` (its own row and the 〃 rows of older forks under it) in the table
    of ``locale`` in official-names.md."""
    text = OFFICIAL_NAMES.read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(locale)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"official-names.md has no section for {locale}"
    rows, inside = [], False
    for line in section.group(1).splitlines():
        if line.startswith(f"| {module_id} |"):
            inside = True
        elif not line.startswith("| 〃 |"):
            inside = False
        if inside:
            rows.append(line)
    return _same_letters("\n".join(rows))


def _pages() -> list[tuple[Path, str]]:
    """(page, language) of every Markdown page of the site."""
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        parts = path.name.split(".")
        found.append((path, parts[1] if len(parts) == 3 and parts[1] in TRANSLATED else "en"))
    return found


def _prose(path: Path) -> str:
    """A page without its code blocks and inline code (code is the same in every language), on one
    line, so that a name wrapped across two lines is still found."""
    return " ".join(_INLINE_CODE.sub("", _FENCE.sub("", path.read_text(encoding="utf-8"))).split())


# -- the glossary against official-names.md ------------------------------------------------------


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("module_id", sorted(GLOSSARY))
def test_glossary_name_has_a_source_and_any_departure_a_reason(module_id, lang):
    names = GLOSSARY[module_id]
    assert names.get(lang), f"{module_id}: no {lang} name in the glossary"
    assert (names.get("source") or {}).get(lang), f"{module_id}: say where the {lang} name comes from (source.{lang})"
    for key in ("departure", "note"):
        reason = (names.get(key) or {}).get(lang)
        assert reason is None or (isinstance(reason, str) and len(reason.split()) >= 5), (
            f"{module_id}: {key}.{lang} must give a reason in words, not {reason!r}")


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("module_id", sorted(GLOSSARY))
def test_glossary_name_is_microsofts_unless_a_departure_is_recorded(module_id, lang):
    names = GLOSSARY[module_id]
    rows = _official_rows(LOCALES[lang], module_id)
    departure = (names.get("departure") or {}).get(lang)
    if _same_letters(names[lang]) in rows:
        return
    assert departure, (
        f"{module_id} in {lang}: {names[lang]!r} is not among Microsoft's names for it in {OFFICIAL_NAMES.name} "
        f"({rows or 'no row'}); use one of them or record why not as departure.{lang} in translations/glossary.yaml")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_names_of_a_language_have_one_form(lang):
    """The menu does not mix noun and verb forms: es and ru names are nouns, pt and fr verbs."""
    verbs = {"pt": ("Converter", "Inicializar", "Aplicar", "Dividir", "Treinar", "Pontuar", "Avaliar"),
             "fr": ("Convertir", "Initialiser", "Appliquer", "Diviser", "Effectuer", "Scorer", "Évaluer")}
    nouns = {"es": ("Conversión", "Inicialización", "Aplicación", "División", "Entrenamiento", "Puntuación",
                    "Evaluación"),
             "ru": ("Преобразование", "Инициализация", "Применение", "Разделение", "Обучение", "Оценка")}
    first_words = {ids[lang].split()[0] for ids in GLOSSARY.values() if ids[lang] not in ("ResNet", "DenseNet")}
    allowed = set(verbs.get(lang, ()) + nouns.get(lang, ()))
    assert first_words <= allowed, f"{lang}: names starting with {sorted(first_words - allowed)} change the form"


# -- every page against the glossary -------------------------------------------------------------


@pytest.mark.parametrize("lang", ("en",) + TRANSLATED)
@pytest.mark.parametrize("module_id", sorted(GLOSSARY))
def test_module_page_title_is_the_glossary_name(module_id, lang):
    name = f"{module_id}.md" if lang == "en" else f"{module_id}.{lang}.md"
    first_line = (DOCS / "modules" / name).read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line == f"# {GLOSSARY[module_id][lang]}"


@pytest.mark.parametrize("path,lang", _pages(), ids=lambda value: getattr(value, "name", value))
def test_links_to_module_pages_carry_the_glossary_name(path, lang):
    problems = []
    for match in _MODULE_LINK.finditer(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        text, module_id = match.group(1), match.group(4)
        if module_id not in GLOSSARY or (path.parent.name != "modules" and not match.group(3)):
            continue
        # Russian may quote a name («…»), as its running text does.
        shown = _same_letters(text).removeprefix("«").removesuffix("»")
        if shown != _same_letters(GLOSSARY[module_id][lang]):
            problems.append(f"[{text}] should read [{GLOSSARY[module_id][lang]}]")
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)


@pytest.mark.parametrize("path,lang", [(p, lang) for p, lang in _pages() if lang != "en"],
                         ids=lambda value: getattr(value, "name", value))
def test_no_retired_or_english_name_in_running_text(path, lang):
    prose = _prose(path)
    problems = []
    for module_id, names in GLOSSARY.items():
        for retired in (names.get("retired") or {}).get(lang, ()):
            if re.search(rf"(?<!\w){re.escape(retired)}(?!\w)", prose):
                problems.append(f"{retired!r} is retired; write {names[lang]!r}")
        if names["en"] != names[lang] and not untranslated_module_page(path) and re.search(rf"\b{re.escape(names['en'])}\b", prose):
            problems.append(f"English {names['en']!r}; write {names[lang]!r}")
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_retired_name_in_the_catalogs(lang):
    text = "\n".join(entry.msgstr for entry in __import__("polib").pofile(str(catalog.catalog_paths()[lang])))
    found = [retired for names in GLOSSARY.values() for retired in (names.get("retired") or {}).get(lang, ())
             if re.search(rf"(?<!\w){re.escape(retired)}(?!\w)", text)]
    assert not found, f"{lang} catalog still uses retired names: {found}"
