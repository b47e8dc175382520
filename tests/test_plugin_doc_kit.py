"""The doc-test kit (``pytest --visionblocks-docs=PLUGIN``, ``visionblocks docs test``) and a
plugin's own site (``visionblocks docs site``), on a small third-party plugin installed outside
the repository. The example plugin, installed from its wheel, is checked in test_wheel_install.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_helpers import install_fake_dist

from visionblocks import cli, errors, plugin_host
from visionblocks.docs import plugin_docs
from visionblocks.docs.i18n import LANGUAGES, Translator

PLUGIN = '''
import visionblocks
from visionblocks.spec import ModuleSpec

EXAMPLE = """Add two numbers:

```python
>>> 1 + 1
{answer}

```
"""

SPEC = ModuleSpec(id="pagekit-add", name="Pagekit Add", category="Kits", summary="Adds numbers.",
                  description="Adds two numbers.", run=lambda ctx: None, examples=(EXAMPLE,))


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(SPEC)
'''


@pytest.fixture
def pagekit(tmp_path, monkeypatch):
    """A plugin with one example, installed in a folder of its own, for this process and subprocesses."""

    def install(answer: int) -> Path:
        source = tmp_path / "pagekit_plugin.py"
        source.write_text(PLUGIN.replace("{answer}", str(answer)), encoding="utf-8")
        site = install_fake_dist(tmp_path / "site", source, dist="pagekit-plugin", ep_name="pagekit")
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
        plugin_host.reset()
        return site

    yield install
    sys.modules.pop("pagekit_plugin", None)
    plugin_host.reset()


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_pytest_option_runs_a_plugins_examples_in_every_language(pagekit, tmp_path):
    pagekit(answer=2)
    empty = tmp_path / "project"
    empty.mkdir()
    proc = _pytest(["--visionblocks-docs=pagekit", str(empty)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "examples of plugin pagekit run per language: en 1, es 1, pt 1, ru 1, fr 1 (total 5)" in proc.stdout
    assert "5 passed" in proc.stdout


def test_a_failing_example_fails_the_kit_and_is_counted(pagekit, tmp_path):
    pagekit(answer=3)
    assert cli.main(["docs", "test", "pagekit"]) == 1
    proc = _pytest(["--visionblocks-docs=pagekit", str(tmp_path / "site")], tmp_path)
    assert proc.returncode == 1
    assert "of which failed: en 1, es 1, pt 1, ru 1, fr 1 (total 5)" in proc.stdout


def test_the_kit_is_off_unless_asked_for(pagekit, tmp_path):
    pagekit(answer=3)  # a failing example that must not run
    (tmp_path / "test_nothing.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
    proc = _pytest(["test_nothing.py"], tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout and "examples of plugin" not in proc.stdout


def test_untranslated_pages_show_english_under_the_note(pagekit, tmp_path):
    pagekit(answer=2)
    written = plugin_docs.write_plugin_pages("pagekit-plugin", tmp_path / "pages")  # the package name works too
    assert {p.name for p in written} >= {"pagekit-add.md", "pagekit-add.ru.md", "index.fr.md"}
    page = (tmp_path / "pages" / "pagekit-add.es.md").read_text(encoding="utf-8")
    assert f'!!! warning "{Translator("es").ui("untranslated.title")}"' in page and "Adds two numbers." in page


def test_unknown_plugin_is_a_clear_error(pagekit):
    pagekit(answer=2)
    with pytest.raises(errors.NotInRangeValueError, match="pagekit"):
        plugin_docs.plugin_specs("no-such-plugin")


def test_plugin_site_builds_with_mkdocs_strict(pagekit, tmp_path):
    pagekit(answer=2)
    out = tmp_path / "site-src"
    assert cli.main(["docs", "site", "--plugin", "pagekit", "--out", str(out), "--site-name", "Pagekit"]) == 0
    assert {p.name for p in (out / "docs").iterdir()} == {f"{stem}{'' if lang == 'en' else '.' + lang}.md"
                                                          for stem in ("index", "pagekit-add") for lang in LANGUAGES}
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=out, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for lang in LANGUAGES:
        folder = out / "site" / ("" if lang == "en" else lang)
        assert (folder / "pagekit-add" / "index.html").is_file(), lang
    assert 'lang="ru"' in (out / "site" / "ru" / "pagekit-add" / "index.html").read_text(encoding="utf-8")
    # Running it again changes nothing.
    assert cli.main(["docs", "site", "--plugin", "pagekit", "--out", str(out), "--site-name", "Pagekit"]) == 0


def test_example_plugins_catalogs_are_fresh_and_fully_translated():
    """examples/plugins/visionblocks-mobilenet (installed next to visionblocks by `make setup`)."""
    import polib

    from visionblocks.docs.i18n import TRANSLATED

    folder = (Path(__file__).resolve().parent.parent / "examples" / "plugins" / "visionblocks-mobilenet"
              / "visionblocks_mobilenet" / "translations")
    assert cli.main(["docs", "extract", "--plugin", "mobilenet", "--out", str(folder), "--check"]) == 0
    for lang in TRANSLATED:
        po = polib.pofile(str(folder / lang / "LC_MESSAGES" / "visionblocks.po"))
        assert len(po) and not po.untranslated_entries() and not po.fuzzy_entries(), lang
