"""MkDocs hooks of the docs site (``hooks:`` in mkdocs.yml); loaded by MkDocs, not by visionblocks.

mkdocs-static-i18n builds the default language, then calls MkDocs' build again for every other
language, so each event below runs once per language and must not depend on running once.

- ``on_config``: the generated module pages join the nav under "Modules", grouped by category in
  the order of the module index of the language being built (``docs/modules/index.<lang>.md``:
  categories in pipeline order, modules alphabetically by their name in that language; section
  titles are the translated category names). Nav entries whose page does not exist yet are left
  out instead of failing the build; tests/test_site_build.py checks that every page named in
  mkdocs.yml exists.
- ``on_page_markdown``: doctest examples (```` ```python ```` blocks that start with ``>>>``) are
  highlighted as ``pycon``, so Pygments marks prompts (``.gp``) and output (``.go``) and the copy
  button leaves them out (docs/assets/js/copy-code.js); the Markdown files stay as Sybil runs them. Generated module pages get their summary as meta description and no "edit
  this page" link (their text comes from plugins/ and translations/, not from the file).
- ``on_page_context``: absolute ``hreflang`` alternates of the page (plus ``x-default``, the
  default language's page) for docs/overrides/main.html; the language switcher keeps its
  relative links, so the site also works on another address than ``site_url``.
- ``on_template_context`` / ``on_post_template``: one "page not found" page per language
  (docs/overrides/404.html), written to ``/<lang>/404.html`` for every language but the default,
  whose page stays at ``/404.html``; the sitemap (docs/overrides/sitemap.xml) gets ``x-default``.
- ``on_post_build``: search scoped to the reader's language. The i18n plugin merges all languages
  into one lunr index at /search/; this writes one index per language (the default language's at
  /search/, the others' at /<lang>/search/, locations relative to that root) with that language's
  lunr stemmer, and docs/overrides/main.html points every page at its own language's index.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from mkdocs.plugins import event_priority

from visionblocks.docs.catalog import TRANSLATIONS
from visionblocks.docs.i18n import LANGUAGES, Translator
from visionblocks.docs.pages import MARKER

log = logging.getLogger("mkdocs.hooks.visionblocks")  # info only: a warning fails --strict

MODULE_INDEX = "modules/index.md"
# Open Graph wants language_TERRITORY; the territory is the one the site's translations follow.
OG_LOCALES = {"en": "en_US", "es": "es_ES", "pt": "pt_BR", "ru": "ru_RU", "fr": "fr_FR"}


def _language(config) -> str:
    """The language being built (the i18n plugin sets it before each language's build)."""
    i18n = config.plugins.get("i18n")
    if i18n is None:
        return LANGUAGES[0]
    return i18n.current_language or i18n.default_language


def _default_language(config) -> str:
    i18n = config.plugins.get("i18n")
    return i18n.default_language if i18n is not None else LANGUAGES[0]


def on_config(config):
    lang = _language(config)
    config.nav = _complete_nav(config.nav or [], Path(config.docs_dir), lang)
    return config


def _complete_nav(items: list, docs: Path, lang: str) -> list:
    # Runs again for every language on the nav it returned before: the Modules section is
    # recognised by its first entry and rebuilt, so this is idempotent.
    completed = []
    for item in items:
        title, target = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(target, list):
            children = _module_nav(docs, lang) if MODULE_INDEX in target else _complete_nav(target, docs, lang)
            if children:
                completed.append({title: children})
        elif (docs / target).is_file() or "://" in target:
            completed.append(item)
        else:
            log.info("nav: %s does not exist yet; left out of the nav", target)
    return completed


def _module_nav(docs: Path, lang: str) -> list:
    """The module index, then one section per category holding its module pages, as the index
    page of ``lang`` lists them; pages the index does not list come last."""
    folder = docs / "modules"
    pages = {p.name for p in folder.glob("*.md") if p.name.count(".") == 1 and p.name != "index.md"}
    index = folder / ("index.md" if lang == LANGUAGES[0] else f"index.{lang}.md")
    if not index.is_file():
        index = docs / MODULE_INDEX
    nav: list = [MODULE_INDEX] if index.is_file() else []
    listed: set[str] = set()
    for category, names in _index_sections(index):
        members = [f"modules/{name}" for name in names if name in pages and name not in listed]
        listed.update(names)
        if members:
            nav.append({category: members})
    nav.extend(f"modules/{name}" for name in sorted(pages - listed))
    return nav


def _index_sections(index: Path) -> list[tuple[str, list[str]]]:
    """(category heading, linked page names) of a module index page, in order."""
    if not index.is_file():
        return []
    sections: list[tuple[str, list[str]]] = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].extend(re.findall(r"\]\(([a-z0-9-]+\.md)\)", line))
    return sections


# Pages ------------------------------------------------------------------------------------------

_DOCTEST_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})python[ \t]*$")


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        page.edit_url = None
        if not page.meta.get("description"):
            page.meta["description"] = _summary(markdown)
    return doctest_fences_as_pycon(markdown)


def doctest_fences_as_pycon(markdown: str) -> str:
    """```` ```python ```` fences whose first line is a ``>>>`` prompt, renamed ```` ```pycon ````."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines[:-1]):
        match = _DOCTEST_FENCE.match(line)
        if match and lines[i + 1].lstrip().startswith(">>>"):
            lines[i] = f"{match['indent']}{match['fence']}pycon"
    return "\n".join(lines)


def _summary(markdown: str) -> str:
    """The paragraph after the generator's marker line, as plain text."""
    after = markdown.split(MARKER, 1)[1].split("\n", 1)[-1]
    paragraph = next((block for block in after.split("\n\n") if block.strip()), "")
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(paragraph.split()))
    return text.replace("`", "").replace("**", "")


def on_page_context(context, page, config, nav):
    if config.site_url:
        context["vb_alternates"] = _absolute_alternates(config)
    context["vb_og_locale"] = OG_LOCALES.get(_language(config), _language(config))
    return context


def _absolute_alternates(config) -> list[dict]:
    """The page in every language (``config.extra.alternate``, which the i18n plugin points at the
    same page per language) as absolute URLs, then ``x-default``: the default language's page.
    The plugin's links are relative to the site's root (``fr/modules/resnet/``), or absolute paths
    that include site_url's path (``/fr/``)."""
    alternates = [{"lang": alt["lang"], "href": urljoin(config.site_url, alt["link"])}
                  for alt in _switcher(config) if alt.get("lang")]
    default = next((alt for alt in alternates if alt["lang"] == _default_language(config)), None)
    return alternates + ([{"lang": "x-default", "href": default["href"]}] if default else [])


def _switcher(config) -> list[dict]:
    # The i18n plugin sets the switcher's links as an attribute of ``config.extra`` (which is what
    # the theme's templates read), not as its "alternate" item.
    return getattr(config.extra, "alternate", None) or config.extra.get("alternate") or []


# The 404 page and the sitemap -------------------------------------------------------------------


def on_template_context(context, template_name, config):
    if template_name == "404.html":
        lang = _language(config)
        i18n = config.plugins.get("i18n")
        if i18n is not None and i18n.extra_alternate:
            # Otherwise the switcher keeps the links of the last page built: offer each language's home.
            config.extra.alternate = copy.deepcopy(i18n.extra_alternate)
            context["i18n_config"] = i18n.config  # main.html's search scoping reads the languages
        context["i18n_page_locale"] = lang
        context["notfound"] = _not_found_text(config, lang)
    elif template_name == "sitemap.xml":
        context["vb_default_language"] = _default_language(config)
    return context


def _not_found_text(config, lang: str) -> dict:
    t = Translator(lang, dirs=[TRANSLATIONS])
    root = urlsplit(config.site_url or "/").path.rstrip("/") + "/"
    home = root if lang == _default_language(config) else f"{root}{lang}/"
    return {"title": t.ui("notfound.title"), "body": t.ui("notfound.body"),
            "links": [(t.ui("notfound.home"), home), (t.ui("index.title"), f"{home}modules/")]}


def on_post_template(output_content, template_name, config):
    """Every language's build renders 404.html into the site's root: move the non-default
    languages' pages to ``/<lang>/404.html`` (returning nothing keeps MkDocs from writing it)."""
    lang = _language(config)
    if template_name != "404.html" or lang == _default_language(config):
        return output_content
    path = Path(config.site_dir) / lang / "404.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(output_content, encoding="utf-8")
    return ""


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
