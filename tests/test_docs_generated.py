"""The generated module pages: fresh, complete, in every language, for every registered module."""

from __future__ import annotations

import re

import pytest

from visionblocks import cli
from visionblocks.docs import pages as docs_gen
from visionblocks.docs.i18n import LANGUAGES, TRANSLATED, Translator
from visionblocks.plugin_host import get_registry

MODULE_IDS = get_registry().ids()


def test_committed_pages_are_fresh():
    pages = docs_gen.render_pages(docs_gen.registered_specs())
    problems = docs_gen.compare(pages)
    assert not problems, (
        "docs/modules is out of date; run `visionblocks docs generate` and commit the result:\n"
        + "\n".join(f"  {p.problem}: {p.name}" for p in problems))


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_every_module_has_a_page_in_every_language(module_id):
    missing = [docs_gen.page_name(module_id, lang) for lang in LANGUAGES
               if not (docs_gen.MODULES_DIR / docs_gen.page_name(module_id, lang)).is_file()]
    assert not missing, f"missing pages of {module_id}: {missing}; run `visionblocks docs generate`"


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_page_shows_all_metadata(module_id):
    spec = get_registry().get(module_id)
    page = (docs_gen.MODULES_DIR / docs_gen.page_name(module_id, "en")).read_text(encoding="utf-8")
    assert page.startswith(f"# {spec.name}\n")
    for port in spec.inputs + spec.outputs:
        assert f"| `{port.name}` | `{port.type}`" in page, port.name
    for param in spec.params:
        assert f"** · `{param.name}`\n:   " in page and f"Type: `{param.type}` · " in page, param.name
    for column, _ in spec.results:
        assert f"| `{column}` |" in page, column
    for err in spec.errors:
        assert f"| `{err.code:04d}` | `{err.name}` |" in page, err.name
    for example in spec.examples:
        assert example.strip("\n") in page
    for related in spec.related:
        if related in get_registry():
            assert f"]({related}.md)" in page, related


def test_index_lists_every_module_under_its_category():
    index = (docs_gen.MODULES_DIR / "index.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", index, flags=re.M)
    for spec in get_registry():
        assert f"[{spec.name}]({spec.id}.md)" in index
        section = index.split(f"## {spec.category}\n", 1)[1].split("\n## ", 1)[0]
        assert f"({spec.id}.md)" in section, f"{spec.id} is not listed under {spec.category!r}"
    assert len(headings) == len({s.category for s in get_registry()})


def test_third_party_module_gets_pages_in_every_language_with_a_note(toy_plugin, tmp_path):
    assert cli.main(["docs", "generate", "--out", str(tmp_path)]) == 0
    english = (tmp_path / "toy-source.md").read_text(encoding="utf-8")
    assert "!!! warning" not in english
    for lang in TRANSLATED:
        page = (tmp_path / f"toy-source.{lang}.md").read_text(encoding="utf-8")
        t = Translator(lang)
        assert f'!!! warning "{t.ui("untranslated.title")}"' in page
        assert "`toy`" in page  # the note names the plugin
        assert "Makes a one-column table." in page  # English text, shown as is
        assert t.ui("section.parameters") in page  # the page's own headings are translated
        index = (tmp_path / f"index.{lang}.md").read_text(encoding="utf-8")
        assert f"[Toy Source](toy-source.md) *({t.ui('untranslated.badge')})*" in index


def test_generate_is_idempotent_and_removes_pages_of_gone_modules(tmp_path):
    pages = docs_gen.render_pages(docs_gen.registered_specs())
    (tmp_path / "gone.md").write_text(f"# Gone\n\n{docs_gen.MARKER}\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Hand-written, kept\n", encoding="utf-8")
    first = docs_gen.write_pages(pages, tmp_path)
    assert {d.name for d in first if d.problem == "extra"} == {"gone.md"}
    assert (tmp_path / "notes.md").is_file() and not (tmp_path / "gone.md").exists()
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert docs_gen.write_pages(pages, tmp_path) == []
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}


def test_check_fails_on_a_stale_page(tmp_path, capsys):
    docs_gen.write_pages(docs_gen.render_pages(docs_gen.registered_specs()), tmp_path)
    assert cli.main(["docs", "generate", "--check", "--out", str(tmp_path)]) == 0
    page = tmp_path / docs_gen.page_name(MODULE_IDS[0], "ru")
    page.write_text(page.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert cli.main(["docs", "generate", "--check", "--out", str(tmp_path)]) == 1
    assert f"stale: {page}" in capsys.readouterr().err


def test_template_keeps_text_as_markdown_and_escapes_table_cells():
    from visionblocks import ports
    from visionblocks.spec import ModuleSpec, Param, Port

    spec = ModuleSpec(
        id="odd-one", name="Odd <One>", category="Odd", summary="Splits `a` & b.",
        description="First.\n\n\nSecond  one.",
        run=lambda ctx: None, steps=("Add\n it.",), notes=("A `note`.",),
        inputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table", "Rows | columns\nof data", optional=True),),
        params=(Param("mode", "enum", "Mode", "How <b>it</b> splits.", default="a", choices=("a", "b`c")),),
        examples=("Intro text\n\n```python\n>>> 1 + 1\n2\n```\n",))
    page = docs_gen.render_pages([spec], languages=("en",))["odd-one.md"]
    assert page.startswith(f"# Odd <One>\n\n{docs_gen.MARKER}\n\nSplits `a` & b.\n\n")  # no HTML escaping
    assert "\n\nFirst.\n\nSecond one.\n\n## How to configure\n\n1. Add it.\n\n## Inputs\n\n" in page
    assert "| Table | `table` | `DataFrameDirectory` (optional) | Rows \\| columns of data |\n" in page
    assert "**Mode** · `mode`\n:   How <b>it</b> splits.\n\n    Type: `enum` · Default: `a` · Allowed values: `a`, `` b`c ``\n" in page
    assert "Intro text\n\n```python\n>>> 1 + 1\n2\n```\n\n## Notes\n\n- A `note`.\n" in page
    assert page.endswith("- A `note`.\n") and "## Outputs\n\nThis module has no outputs.\n\n" in page
