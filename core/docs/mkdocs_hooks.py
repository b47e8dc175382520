"""MkDocs hooks of the docs site (``hooks:`` in mkdocs.yml); loaded by MkDocs, not by visionblocks.

mkdocs-static-i18n builds the default language, then calls MkDocs' build again for every other
language, so each event below runs once per language and must not depend on running once.

- ``on_config``: the generated module pages join the nav under "Modules" as they appear in
  ``docs/modules/`` (their titles come from each language's page), and nav entries whose page
  does not exist yet are left out instead of failing the build; tests/test_site_build.py checks
  that every page named in mkdocs.yml exists.
- ``on_post_build``: search scoped to the reader's language. The i18n plugin merges all languages
  into one lunr index at /search/; this writes one index per language (the default language's at
  /search/, the others' at /<lang>/search/, locations relative to that root) with that language's
  lunr stemmer, and docs/overrides/main.html points every page at its own language's index.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from mkdocs.plugins import event_priority

log = logging.getLogger("mkdocs.hooks.visionblocks")  # info only: a warning fails --strict

MODULE_INDEX = "modules/index.md"


def on_config(config):
    config.nav = _complete_nav(config.nav or [], Path(config.docs_dir))
    return config


def _complete_nav(items: list, docs: Path) -> list:
    completed = []
    for item in items:
        title, target = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(target, list):
            children = _module_pages(docs) if MODULE_INDEX in target else _complete_nav(target, docs)
            if children:
                completed.append({title: children})
        elif (docs / target).is_file() or "://" in target:
            completed.append(item)
        else:
            log.info("nav: %s does not exist yet; left out of the nav", target)
    return completed


def _module_pages(docs: Path) -> list[str]:
    """The module index, then the module pages in the index's order (by category, then name)."""
    folder = docs / "modules"
    pages = {p.name for p in folder.glob("*.md") if p.name.count(".") == 1 and p.name != "index.md"}
    index = docs / MODULE_INDEX
    listed = re.findall(r"\]\(([a-z0-9-]+\.md)\)", index.read_text(encoding="utf-8")) if index.is_file() else []
    ordered = [name for name in dict.fromkeys(listed) if name in pages] + sorted(pages - set(listed))
    return ([MODULE_INDEX] if index.is_file() else []) + [f"modules/{name}" for name in ordered]


@event_priority(-200)  # after the search plugin (0) wrote the index and the i18n plugin (-100) merged it
def on_post_build(config):
    i18n = config.plugins.get("i18n")
    site = Path(config.site_dir)
    merged = site / "search" / "search_index.json"
    if i18n is None or not merged.is_file():
        return
    index = json.loads(merged.read_text(encoding="utf-8"))
    if i18n.building:
        # A nested build of one more language: the index written just now holds only its pages.
        lang = i18n.current_language
        _write_index(site / lang / "search" / "search_index.json", index, lang, f"{lang}/")
    else:
        # The outer build, after every language: keep the default language's pages at the root.
        others = tuple(f"{lang}/" for lang in i18n.build_languages if lang != i18n.default_language)
        index["docs"] = [doc for doc in index["docs"] if not doc["location"].startswith(others)]
        _write_index(merged, index, i18n.default_language, "")


def _write_index(path: Path, index: dict, lang: str, prefix: str) -> None:
    docs = [dict(doc, location=doc["location"][len(prefix):]) for doc in index["docs"]
            if doc["location"].startswith(prefix)]
    # English as well, so code names (ImageDirectory, fraction) are indexed on every language's
    # pages: lunr's Russian trimmer alone would strip Latin words.
    config = dict(index["config"], lang=["en"] if lang == "en" else ["en", lang])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": config, "docs": docs}, ensure_ascii=False, separators=(",", ":")),
                    encoding="utf-8")
    log.info("search: %d entries in %s (%s)", len(docs), path, ", ".join(config["lang"]))
