"""The publishing side of the built site: absolute sitemap and language links, a "page not found"
page per language, grouped module menu, copy-friendly examples, API reference, page metadata.

The five-language site is built once per session (tests/docs_site.py); tests/test_browser.py
checks the same things a reader sees in Chromium.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from docs_site import LANGUAGES, REPO, SITE_URL, built_site, page_dir
from visionblocks.docs import mkdocs_hooks, pages
from visionblocks.docs.i18n import Translator
from visionblocks.plugin_host import get_registry

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
MODULE = "score-image-model"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    build = built_site(tmp_path_factory)
    assert build.returncode == 0, build.log[-3000:]
    return build.site


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _built_pages(site: Path) -> list[str]:
    """The URL of every page of every language in the built site."""
    return sorted(SITE_URL + p.parent.relative_to(site).as_posix().removeprefix(".") + "/"
                  if p.parent != site else SITE_URL
                  for p in site.rglob("index.html"))


def _url(site_path: str) -> str:
    return SITE_URL + site_path


def _language_of(url: str) -> str:
    first = url.removeprefix(SITE_URL).split("/", 1)[0]
    return first if first in LANGUAGES[1:] else LANGUAGES[0]


def _same_page_in(url: str, lang: str) -> str:
    path = url.removeprefix(SITE_URL)
    source = _language_of(url)
    if source != LANGUAGES[0]:
        path = path.removeprefix(f"{source}/")
    return _url(path if lang == LANGUAGES[0] else f"{lang}/{path}")


# The 404 page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_own_not_found_page(site, lang):
    page = _read(page_dir(site, lang, "") / "404.html")
    t = Translator(lang)
    assert f'<html lang="{lang}"' in page
    assert f"<h1>{html.escape(t.ui('notfound.title'))}</h1>" in page
    assert html.escape(t.ui("notfound.body"), quote=False) in page.replace("&#39;", "'")
    # Served for any missing address, so its links are absolute paths, and its language switcher
    # offers every language's home (not the last page built).
    home = "/" if lang == LANGUAGES[0] else f"/{lang}/"
    assert f'href="{home}modules/"' in page
    switcher = dict((code, href) for href, code in re.findall(r'<a href="([^"]+)" hreflang="([a-z]+)"', page))
    assert switcher == {code: "/" if code == LANGUAGES[0] else f"/{code}/" for code in LANGUAGES}
    assert 'href="/assets/stylesheets/' in page


# Sitemap and language links -------------------------------------------------------------------


def test_sitemap_lists_every_page_with_absolute_alternates_in_every_language(site):
    text = _read(site / "sitemap.xml")
    assert "None" not in text
    urls = ET.fromstring(text).findall(f"{SITEMAP}url")
    listed = {url.find(f"{SITEMAP}loc").text: url for url in urls}
    assert len(listed) == len(urls), "a page is listed twice"
    assert sorted(listed) == _built_pages(site)
    for loc, url in listed.items():
        alternates = {link.get("hreflang"): link.get("href") for link in url.findall(f"{XHTML}link")}
        expected = {lang: _same_page_in(loc, lang) for lang in LANGUAGES}
        expected["x-default"] = expected[LANGUAGES[0]]
        assert alternates == expected, loc


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_has_a_canonical_link_and_absolute_alternates(site, lang):
    for url in _built_pages(site):
        if _language_of(url) != lang:
            continue
        index = site / url.removeprefix(SITE_URL) / "index.html"
        head = _read(index).split("</head>", 1)[0]
        assert f'<link rel="canonical" href="{url}">' in head
        alternates = dict(re.findall(r'<link rel="alternate" hreflang="([a-zA-Z-]+)" href="([^"]+)">', head))
        expected = {code: _same_page_in(url, code) for code in LANGUAGES}
        expected["x-default"] = expected[LANGUAGES[0]]
        assert alternates == expected, url
        assert f'<meta property="og:url" content="{url}">' in head


# Page metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_have_their_own_description(site, lang):
    t = Translator(lang)
    descriptions = {}
    for spec in get_registry():
        head = _read(page_dir(site, lang, f"modules/{spec.id}/") / "index.html").split("</head>", 1)[0]
        found = html.unescape(re.search(r'<meta name="description" content="([^"]*)">', head).group(1))
        summary = t(f"{spec.id}.summary", spec.summary).replace("`", "")
        assert found == " ".join(summary.split()), spec.id
        assert f'<meta property="og:description" content="' in head
        descriptions[spec.id] = found
    api = _read(page_dir(site, lang, "api/") / "index.html")
    descriptions["api"] = re.search(r'<meta name="description" content="([^"]*)">', api).group(1)
    assert len(set(descriptions.values())) == len(descriptions)


def test_generated_pages_have_no_edit_link_and_every_page_a_date(site):
    # No repository URL in a test build: no page has an edit link; the date comes from git or
    # from the build, so every page shows one.
    for lang in LANGUAGES:
        page = _read(page_dir(site, lang, f"modules/{MODULE}/") / "index.html")
        assert "md-content__button" not in page
        assert "git-revision-date-localized-plugin-date" in page


# Navigation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_module_index_groups_categories_in_pipeline_order_and_sorts_names(lang):
    renderer = pages._PageRenderer(Translator(lang), {spec.id: spec for spec in get_registry()})
    groups = renderer.index_groups()
    english = {renderer.group_title([spec]): spec.category for spec in get_registry()}
    ranks = [pages.category_rank(english.get(title, title)) for title, _ in groups]
    assert ranks == sorted(ranks)
    for _, modules in groups:
        names = [re.match(r"\[([^\]]+)\]", module["link"]).group(1) for module in modules]
        assert names == sorted(names, key=pages.sort_key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_modules_menu_follows_the_module_index_of_each_language(lang):
    docs = REPO / "docs"
    nav = mkdocs_hooks._module_nav(docs, lang)
    index = docs / "modules" / ("index.md" if lang == "en" else f"index.{lang}.md")
    sections = mkdocs_hooks._index_sections(index)
    assert nav[0] == mkdocs_hooks.MODULE_INDEX
    assert [next(iter(item)) for item in nav[1:] if isinstance(item, dict)] == [title for title, _ in sections]
    assert [page for item in nav[1:] if isinstance(item, dict) for page in next(iter(item.values()))] == \
        [f"modules/{name}" for _, names in sections for name in names]


def test_sort_key_ignores_case_and_accents():
    assert sorted(["évaluer", "Entraîner", "Zèbre", "appliquer"], key=pages.sort_key) == \
        ["appliquer", "Entraîner", "évaluer", "Zèbre"]


# Examples: highlighted as console sessions -----------------------------------------------------


def test_doctest_fences_are_highlighted_as_console_sessions():
    text = "```python\n>>> 1 + 1\n2\n```\n\n```python\nx = 1\n```\n\n    ```python\n    >>> x\n    ```\n"
    assert mkdocs_hooks.doctest_fences_as_pycon(text) == \
        "```pycon\n>>> 1 + 1\n2\n```\n\n```python\nx = 1\n```\n\n    ```pycon\n    >>> x\n    ```\n"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_examples_mark_prompts_and_output_for_the_copy_button(site, lang):
    page = _read(page_dir(site, lang, f"modules/{MODULE}/") / "index.html")
    assert '<span class="gp">&gt;&gt;&gt; </span>' in page
    assert '<span class="go">' in page
    assert re.search(r'<script src="(\.\./)+assets/js/copy-code\.js', page)  # sets what a copy button copies


# Parameter reference -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_parameters_are_a_definition_list_with_the_facts_under_the_description(lang):
    t = Translator(lang)
    spec = get_registry().get(MODULE)
    text = _read(REPO / "docs" / "modules" / pages.page_name(MODULE, lang))
    section = text.split("\n## ")[[i for i, part in enumerate(text.split("\n## "))
                                   if part.startswith(t.ui("section.parameters"))][0]]
    assert "|---|" not in section
    for param in spec.params:
        label = t(f"{MODULE}.param.{param.name}.label", param.label)
        assert f"**{label}** · `{param.name}`\n:   " in section
    assert t.ui("param.facts", type="`int`", default="`64`", allowed="`> 0`") in section


# API reference -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_api_reference_is_built_in_every_language(site, lang):
    page = _read(page_dir(site, lang, "api/") / "index.html")
    for anchor in ("visionblocks.run_module", "visionblocks.run_pipeline", "visionblocks.describe",
                   "visionblocks.modules", "visionblocks.imagedir.ImageDirectory", "visionblocks.spec.ModuleSpec",
                   "visionblocks.spec.Param", "visionblocks.spec.Port",
                   "visionblocks.hookspecs.visionblocks_register_modules"):
        assert f'id="{anchor}"' in page, anchor
    # The docstrings are English; every other language says so in a note.
    assert ('class="admonition note"' in page) == (lang != LANGUAGES[0])
