"""A plugin's own documentation site: ``visionblocks docs site --plugin NAME --out DIR``.

Writes a complete MkDocs project that builds with ``mkdocs build --strict`` wherever
visionblocks, mkdocs-material and mkdocs-static-i18n are installed (no checkout of this repository):

```
DIR/mkdocs.yml          mkdocs-material + mkdocs-static-i18n (suffix layout, English first)
DIR/hooks.py            visionblocks' page hooks (doctest examples shown as Python sessions)
DIR/docs/index[.<lang>].md   the plugin's module index, the home page of each language
DIR/docs/<id>[.<lang>].md    the module pages, as on visionblocks' own site
```

The pages are real files (mkdocs-static-i18n drops in-memory ones); they are rewritten only when
their text changes, so the command can be run again after every change of the plugin.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from visionblocks.docs import pages
from visionblocks.docs.i18n import LANGUAGES
from visionblocks.docs.plugin_docs import plugin_specs

# The language switcher's names, each in its own language.
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português", "ru": "Русский", "fr": "Français"}


def render_site(plugin: str, site_name: str | None = None) -> dict[str, str]:
    """Every file of the site, by path relative to its folder."""
    specs = plugin_specs(plugin)
    files = {f"docs/{name}": text for name, text in pages.render_pages(specs).items()}
    order = sorted(specs, key=lambda s: (pages.category_rank(s.category), s.category, pages.sort_key(s.name)))
    env = jinja2.Environment(loader=jinja2.PackageLoader("visionblocks.docs", "templates/site"),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["quoted"] = lambda text: json.dumps(text, ensure_ascii=False)  # a YAML string, any text
    files["mkdocs.yml"] = env.get_template("mkdocs.yml.j2").render(
        plugin=plugin, site_name=site_name or plugin,
        description=f"Module reference of the visionblocks plugin {plugin}.",
        languages=[{"code": lang, "name": LANGUAGE_NAMES[lang]} for lang in LANGUAGES],
        nav=[pages.page_name(pages.INDEX, LANGUAGES[0])] + [pages.page_name(s.id, LANGUAGES[0]) for s in order])
    files["hooks.py"] = env.get_template("hooks.py.j2").render()
    return files


def write_site(plugin: str, out: Path, site_name: str | None = None) -> list[Path]:
    """Write the site of ``plugin`` into ``out``; the files whose text changed."""
    rendered = render_site(plugin, site_name)
    docs = out / "docs"
    # The pages as `docs generate` writes them: changed ones only, those of modules the plugin no longer has removed.
    changes = pages.write_pages({name.removeprefix("docs/"): text for name, text in rendered.items()
                                 if name.startswith("docs/")}, docs)
    written = [docs / change.name for change in changes if change.problem != "extra"]
    for name, text in rendered.items():
        path = out / name
        if not name.startswith("docs/") and not (path.is_file() and path.read_text(encoding="utf-8") == text):
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
