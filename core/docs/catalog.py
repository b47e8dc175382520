"""The gettext catalogs: extract ``visionblocks.pot`` from the registry and update the ``.po`` files.

``translations/visionblocks.pot`` holds every English text a reader sees: the metadata of the
built-in modules (context ``<module-id>.<field>``), the fixed phrases of the generated pages
(``ui.<key>``) and the designer's error messages (``error.<ClassName>``). Third-party modules are
left out: their plugins ship their own catalogs (``visionblocks docs extract --plugin NAME``
writes a template for them).

Updating a language keeps every existing translation. The context is the stable key, so when
the English text under a context changes, the old translation is kept, marked fuzzy and the old
English is recorded as ``#| msgid``: the translator sees exactly what changed, and the page shows
English until the entry is reviewed (fuzzy entries are not used). Entries whose context is gone
are dropped, so a catalog never carries obsolete entries. Module names that are still empty
are filled in from ``translations/glossary.yaml`` (the designer's official localized names).

Writing is idempotent: a file is rewritten only when its content changes, and no dates go into
the headers, so running the command twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import polib
import yaml

from visionblocks.docs.i18n import DOMAIN, TRANSLATED, error_messages, module_messages, ui_messages
from visionblocks.spec import ModuleSpec
from visionblocks.translations import FOLDER

# The built-in catalogs, found as package data: the top-level translations/ in an editable install
# (where `docs extract` writes, the source of truth), site-packages/visionblocks/translations in a wheel.
TRANSLATIONS = FOLDER
GLOSSARY = TRANSLATIONS / "glossary.yaml"
WRAP = 100

# What a translator needs to know about an entry, by the kind of field (last part of the context).
_COMMENTS = {
    "name": "Module name: use the designer's official localized name from translations/glossary.yaml.",
    "category": "Module category: translate it the same way for every module of the category.",
    "label": "Display name of a port or parameter, as in the designer.",
}


@dataclass(frozen=True)
class Message:
    context: str
    text: str

    @property
    def comment(self) -> str:
        kind = self.context.rsplit(".", 1)[-1]
        if ".result." in self.context:  # e.g. score-image-model.result.label: a column, not a port
            return "Description of an output column or file named in the context; keep the name itself."
        if ".choice." in self.context:  # e.g. apply-image-transformation.param.mode.choice.For training
            return "Display name of an option value, shown next to the value users type (the English text)."
        if ".example." in self.context:
            return "Text of an example; the example's code stays in English, identical in every language."
        if self.context.startswith("ui."):
            return "Fixed phrase of the generated pages; keep {fields}, `code` and link targets."
        return _COMMENTS.get(kind, "")


def builtin_specs() -> list[ModuleSpec]:
    """The modules registered by visionblocks' own plugins (``visionblocks.plugins.*``)."""
    from visionblocks.plugin_host import get_plugin_manager, get_registry

    pm = get_plugin_manager()
    builtin = {name for name, plugin in pm.list_name_plugin()
               if getattr(plugin, "__name__", "").startswith("visionblocks.plugins.")}
    return [spec for spec in get_registry() if spec.plugin in builtin]


def collect(specs: Iterable[ModuleSpec], include_shared: bool = True) -> list[Message]:
    """The messages of ``specs`` (sorted by module id), then the shared UI and error messages."""
    found: list[Message] = []
    for spec in sorted(specs, key=lambda s: s.id):
        found.extend(Message(ctx, text) for ctx, text in module_messages(spec) if text)
    if include_shared:
        found.extend(Message(ctx, text) for ctx, text in ui_messages())
        found.extend(Message(ctx, text) for ctx, text in error_messages())
    return found


def _header(lang: str | None) -> dict[str, str]:
    meta = {"Project-Id-Version": "visionblocks", "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
    if lang:
        meta["Language"] = lang
    return meta


def build_template(messages: Iterable[Message]) -> polib.POFile:
    pot = polib.POFile(wrapwidth=WRAP)
    pot.header = "Template of the visionblocks catalogs, written by `visionblocks docs extract`; do not edit."
    pot.metadata = _header(None)
    for message in messages:
        pot.append(polib.POEntry(msgctxt=message.context, msgid=message.text, msgstr="",
                                 comment=message.comment))
    return pot


def update_catalog(pot: polib.POFile, old: polib.POFile | None, lang: str,
                   names: dict[str, str] | None = None) -> polib.POFile:
    """The catalog for ``lang``: the template's entries with ``old``'s translations carried over.

    ``names`` maps ``<module-id>.name`` contexts to official names used for empty name entries.
    """
    by_context = {}
    if old is not None:
        for entry in old:
            if not entry.obsolete:
                by_context.setdefault(entry.msgctxt, []).append(entry)
    po = polib.POFile(wrapwidth=WRAP)
    po.header = (f"visionblocks: the {lang} translation of the module reference and of the docs' fixed "
                 "phrases.\nUpdated by `visionblocks docs extract`, which keeps every translation; see "
                 "translations/glossary.yaml.")
    po.metadata = _header(lang)
    for item in pot:
        entry = polib.POEntry(msgctxt=item.msgctxt, msgid=item.msgid, msgstr="", comment=item.comment)
        candidates = by_context.get(item.msgctxt, [])
        same = next((c for c in candidates if c.msgid == item.msgid), None)
        if same is not None:
            entry.msgstr = same.msgstr
            if same.fuzzy:
                entry.flags.append("fuzzy")
                entry.previous_msgid = same.previous_msgid
        else:
            changed = next((c for c in candidates if c.msgstr), None)
            if changed is not None:
                # The English changed under the same key: keep the old translation for review.
                entry.msgstr = changed.msgstr
                entry.flags.append("fuzzy")
                entry.previous_msgid = changed.previous_msgid if changed.fuzzy else changed.msgid
        if not entry.msgstr and names and item.msgctxt in names:
            entry.msgstr = names[item.msgctxt]
        po.append(entry)
    return po


def official_names(lang: str, glossary: Path = GLOSSARY) -> dict[str, str]:
    """``{"<module-id>.name": official name}`` for ``lang`` from the glossary."""
    if not glossary.is_file():
        return {}
    data = yaml.safe_load(glossary.read_text(encoding="utf-8")) or {}
    return {f"{module_id}.name": names[lang] for module_id, names in (data.get("modules") or {}).items()
            if lang in names}


def catalog_paths(folder: Path = TRANSLATIONS, languages: Iterable[str] = TRANSLATED) -> dict[str, Path]:
    return {lang: folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po" for lang in languages}


def render_catalogs(messages: list[Message], folder: Path = TRANSLATIONS,
                    languages: Iterable[str] = TRANSLATED, use_glossary: bool = True,
                    plugin: str | None = None) -> dict[Path, str]:
    """The text of the template and of every language's catalog after an update, by path.
    ``plugin``: the catalogs are a third-party plugin's own (their headers say so)."""
    pot = build_template(messages)
    command = f"`visionblocks docs extract --plugin {plugin}`"
    if plugin:
        pot.header = f"Template of the catalogs of the visionblocks plugin {plugin}, written by {command}; do not edit."
    result = {folder / f"{DOMAIN}.pot": str(pot)}
    for lang, path in catalog_paths(folder, languages).items():
        old = polib.pofile(str(path), wrapwidth=WRAP) if path.is_file() else None
        names = official_names(lang) if use_glossary else None
        po = update_catalog(pot, old, lang, names)
        if plugin:
            po.header = (f"The {lang} translation of the module pages of the visionblocks plugin {plugin}.\n"
                         f"Updated by {command}, which keeps every translation.")
        result[path] = str(po)
    return result


def out_of_date(rendered: dict[Path, str]) -> list[Path]:
    """The paths whose file content differs from ``rendered``."""
    return [path for path, text in rendered.items()
            if not (path.is_file() and path.read_text(encoding="utf-8") == text)]


def write_changed(rendered: dict[Path, str]) -> list[Path]:
    """Write the files of ``rendered`` that changed (only those); the paths written."""
    changed = out_of_date(rendered)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered[path], encoding="utf-8")
    return changed
