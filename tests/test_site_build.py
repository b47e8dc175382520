"""``mkdocs build --strict`` of the five-language site: clean, complete, search scoped per language."""

from __future__ import annotations

import html
import json
import re

import pytest

from docs_site import LANGUAGES, REPO, built_site, mkdocs_build, nav_pages, page_dir
from visionblocks.docs.i18n import Translator
from visionblocks.plugin_host import get_registry


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


def test_strict_build_is_clean(site):
    assert site.returncode == 0, site.log[-3000:]
    noisy = [line for line in site.log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not noisy, "\n".join(noisy)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_nav_page_exists(lang):
    missing = [page for page in nav_pages()
               if not (REPO / "docs" / (page if lang == "en" else page.replace(".md", f".{lang}.md"))).is_file()]
    assert not missing, f"pages named in mkdocs.yml's nav without a {lang} version: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_module_page_is_built_with_its_localized_title(site, lang):
    t = Translator(lang)
    for spec in get_registry():
        page = page_dir(site.site, lang, f"modules/{spec.id}/") / "index.html"
        assert page.is_file(), f"{spec.id} has no {lang} page in the site"
        text = page.read_text(encoding="utf-8")
        assert f'<html lang="{lang}"' in text
        title = html.unescape(re.search(r"<h1[^>]*>(.*?)<", text).group(1))
        assert title == t(f"{spec.id}.name", spec.name)


def test_switcher_links_to_the_same_page_in_every_language(site):
    module = get_registry().ids()[0]
    html = (page_dir(site.site, "es", f"modules/{module}/") / "index.html").read_text(encoding="utf-8")
    links = dict((lang, href) for href, lang in re.findall(r'<a href="([^"]+)" hreflang="([a-z]+)"', html))
    assert links["fr"].endswith(f"fr/modules/{module}/")
    assert links["en"].endswith(f"/modules/{module}/") and "/es/" not in links["en"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_has_its_own_search_index(site, lang):
    index = json.loads((page_dir(site.site, lang, "search") / "search_index.json").read_text(encoding="utf-8"))
    assert lang in index["config"]["lang"]
    others = tuple(f"{other}/" for other in LANGUAGES[1:])
    assert index["docs"] and not any(doc["location"].startswith(others) for doc in index["docs"])
    module = get_registry().ids()[0]
    titles = {doc["title"] for doc in index["docs"] if doc["location"] == f"modules/{module}/"}
    spec = get_registry().get(module)
    assert titles == {Translator(lang)(f"{module}.name", spec.name)}


def test_docs_sources_are_not_published(site):
    assert not (site.site / "conftest.py").exists()
    assert not (site.site / "overrides").exists()


def test_one_language_builds_alone(tmp_path):
    build = mkdocs_build(tmp_path / "es-site", only_locale="es")
    assert build.returncode == 0, build.log[-3000:]
    home = (build.site / "index.html").read_text(encoding="utf-8")
    assert '<html lang="es"' in home
    assert not (build.site / "fr").exists() and not (build.site / "es").exists()
