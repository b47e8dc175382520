"""The gettext catalogs of the shipped languages (es, pt, ru, fr): complete, current, faithful.

Entries are grouped by the first part of their context: a module id, ``ui`` (fixed phrases of the
pages) or ``error`` (the designer's error messages), so a failure names the module and entries.
"""

from __future__ import annotations

import re
from collections import Counter
from string import Formatter

import polib
import pytest
import yaml

from visionblocks.docs import catalog
from visionblocks import cli
from visionblocks.docs.describe import describe_text
from visionblocks.docs.i18n import TRANSLATED, Translator

TEMPLATE = catalog.TRANSLATIONS / "visionblocks.pot"
PATHS = catalog.catalog_paths()
BUILTIN = catalog.builtin_specs()
GROUPS = sorted({spec.id for spec in BUILTIN}) + ["ui", "error"]
GLOSSARY = yaml.safe_load(catalog.GLOSSARY.read_text(encoding="utf-8"))


def _load(lang: str) -> polib.POFile:
    return polib.pofile(str(PATHS[lang]))


def _group(entry: polib.POEntry) -> str:
    return entry.msgctxt.split(".", 1)[0]


def _key(entry: polib.POEntry) -> tuple[str, str]:
    return entry.msgctxt, entry.msgid


def test_template_and_catalogs_are_current():
    rendered = catalog.render_catalogs(catalog.collect(BUILTIN))
    stale = catalog.out_of_date(rendered)
    assert not stale, f"run `visionblocks docs extract` and commit: out of date: {[str(p) for p in stale]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_missing_or_obsolete_entries(lang):
    expected = {_key(e) for e in polib.pofile(str(TEMPLATE))}
    po = _load(lang)
    present = {_key(e) for e in po if not e.obsolete}
    assert not expected - present, f"missing in {lang}: {sorted(expected - present)}"
    assert not present - expected, f"not in the template any more ({lang}): {sorted(present - expected)}"
    assert not po.obsolete_entries(), f"obsolete entries in {lang}: {[_key(e) for e in po.obsolete_entries()]}"


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_entry_is_translated_and_reviewed(lang, group):
    entries = [e for e in _load(lang) if not e.obsolete and _group(e) == group]
    untranslated = [e.msgctxt for e in entries if not e.msgstr]
    fuzzy = [e.msgctxt for e in entries if e.fuzzy]
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated entries of {group}: {untranslated}"
    assert not fuzzy, f"{lang}: entries of {group} to review (English changed): {fuzzy}"


_CODE = re.compile(r"`+[^`]+`+")
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)")


def _fields(text: str) -> Counter:
    return Counter(name for _, name, _, _ in Formatter().parse(text) if name is not None)


def _faithfulness_problems(entry: polib.POEntry) -> list[str]:
    problems = []
    english, translated = entry.msgid, entry.msgstr
    try:
        if _fields(english) != _fields(translated):
            problems.append(f"placeholders {sorted(_fields(english))} became {sorted(_fields(translated))}")
    except ValueError as exc:  # an unbalanced brace in the translation
        problems.append(f"broken placeholder: {exc}")
    if Counter(_CODE.findall(english)) != Counter(_CODE.findall(translated)):
        problems.append(f"inline code {_CODE.findall(english)} became {_CODE.findall(translated)}")
    if Counter(_LINK_TARGET.findall(english)) != Counter(_LINK_TARGET.findall(translated)):
        problems.append(f"link targets {_LINK_TARGET.findall(english)} became {_LINK_TARGET.findall(translated)}")
    return problems


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_code_and_links_are_kept(lang):
    problems = {e.msgctxt: p for e in _load(lang) if e.msgstr and (p := _faithfulness_problems(e))}
    assert not problems, f"{lang}: " + "; ".join(f"{ctx}: {', '.join(p)}" for ctx, p in problems.items())


def test_every_builtin_module_is_in_the_glossary():
    missing = sorted({spec.id for spec in BUILTIN} - set(GLOSSARY["modules"]))
    assert not missing, f"add the official localized names of {missing} to translations/glossary.yaml"


@pytest.mark.parametrize("module_id", sorted(spec.id for spec in BUILTIN))
@pytest.mark.parametrize("lang", TRANSLATED)
def test_module_name_is_the_official_one(lang, module_id):
    official = GLOSSARY["modules"].get(module_id, {}).get(lang)
    entry = next((e for e in _load(lang) if e.msgctxt == f"{module_id}.name"), None)
    assert entry is not None, f"{module_id}.name is not in the {lang} catalog; run `visionblocks docs extract`"
    assert entry.msgstr == official, f"{module_id} in {lang}: {entry.msgstr!r}, glossary says {official!r}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_module_names_in_running_text_are_the_official_ones(lang):
    """Where the English names a module, the translation uses that module's official name."""
    names = {ids["en"]: ids[lang] for ids in GLOSSARY["modules"].values() if ids["en"] != ids[lang]}
    problems = []
    for entry in _load(lang):
        if not entry.msgstr or entry.msgctxt.endswith(".name"):
            continue
        for english, localized in names.items():
            if re.search(rf"\b{re.escape(english)}\b", entry.msgid) and localized not in entry.msgstr:
                problems.append(f"{entry.msgctxt}: {english!r} should read {localized!r}")
    assert not problems, f"{lang}: " + "; ".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_category_is_translated_the_same_way_everywhere(lang):
    by_english: dict[str, set[str]] = {}
    for entry in _load(lang):
        if entry.msgctxt.endswith(".category") and entry.msgstr:
            by_english.setdefault(entry.msgid, set()).add(entry.msgstr)
    mixed = {english: sorted(found) for english, found in by_english.items() if len(found) > 1}
    assert not mixed, f"{lang}: categories translated in several ways: {mixed}"


def test_update_keeps_translations_and_marks_changed_english_fuzzy():
    old = polib.POFile()
    old.append(polib.POEntry(msgctxt="m.summary", msgid="Splits images.", msgstr="Divide imágenes."))
    old.append(polib.POEntry(msgctxt="m.note.1", msgid="Same.", msgstr="Igual."))
    old.append(polib.POEntry(msgctxt="m.gone", msgid="Removed.", msgstr="Eliminado."))
    template = catalog.build_template([catalog.Message("m.summary", "Splits an image directory."),
                                       catalog.Message("m.note.1", "Same."),
                                       catalog.Message("m.name", "Split Image Directory")])
    po = catalog.update_catalog(template, old, "es", names={"m.name": "Dividir directorio de imágenes"})
    entries = {e.msgctxt: e for e in po}
    assert set(entries) == {"m.summary", "m.note.1", "m.name"}
    changed = entries["m.summary"]
    assert changed.fuzzy and changed.msgstr == "Divide imágenes." and changed.previous_msgid == "Splits images."
    assert not entries["m.note.1"].fuzzy and entries["m.note.1"].msgstr == "Igual."
    assert entries["m.name"].msgstr == "Dividir directorio de imágenes"
    # Updating again is stable: the fuzzy entry keeps its old English for the translator.
    assert str(catalog.update_catalog(template, po, "es")) == str(po)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_describe_reads_the_same_catalogs(lang):
    spec = BUILTIN[0]
    t = Translator(lang)
    text = describe_text(spec, lang)
    assert text.startswith(f"{t(f'{spec.id}.name', spec.name)} ({spec.id})")
    assert any(f"{t.ui('section.outputs')}{colon}" in text for colon in (":", " :"))


def test_a_third_party_plugin_gets_a_template_of_its_own(toy_plugin, tmp_path):
    assert cli.main(["docs", "extract", "--plugin", "toy", "--out", str(tmp_path)]) == 0
    contexts = {e.msgctxt for e in polib.pofile(str(tmp_path / "visionblocks.pot"))}
    assert {"toy-source.name", "toy-add.param.add.help"} <= contexts
    assert not any(ctx.startswith(("ui.", "error.", "split-image-directory.")) for ctx in contexts)
    assert all((tmp_path / lang / "LC_MESSAGES" / "visionblocks.po").is_file() for lang in TRANSLATED)
