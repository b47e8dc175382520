"""The doc-test kit for plugin authors: a pytest plugin, off unless asked for.

``pytest --visionblocks-docs=PLUGIN`` renders the module pages of the installed plugin ``PLUGIN``
(its entry-point name or its package name; the option may be repeated) in English, Spanish,
Portuguese, Russian and French from its metadata and catalogs, into a temporary folder, and runs
every example on every page with Sybil under the rules of this project's own docs
(:mod:`visionblocks.docs.page_tests`). A page without a translation still runs: it is the English
text under the "not yet translated" note. The summary says how many examples ran per language.

``visionblocks docs test PLUGIN`` does the same without a pytest configuration of one's own.
visionblocks registers this module under pytest's ``pytest11`` entry point, so it is loaded by
every pytest run in an environment where visionblocks is installed; without the option it only
adds the option, and imports nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

OPTION = "--visionblocks-docs"
_NAME = "visionblocks-docs-pages"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("visionblocks", "visionblocks doc-test kit")
    group.addoption(OPTION, action="append", default=[], metavar="PLUGIN",
                    help="render the module pages of visionblocks plugin PLUGIN in en, es, pt, ru and fr and "
                         "run every example on them (repeat the option for several plugins)")


def pytest_configure(config) -> None:
    plugins = config.getoption("visionblocks_docs", default=None)
    if plugins:
        import pytest

        from visionblocks.errors import ModuleError

        try:
            pages = PluginPages(plugins)
        except ModuleError as exc:  # an unknown plugin: a usage error, not an internal one
            raise pytest.UsageError(exc.one_line()) from None
        config.pluginmanager.register(pages, _NAME)
        # The rendered pages are collected with whatever the command line named.
        config.args.append(str(pages.folder))


def pytest_unconfigure(config) -> None:
    pages = config.pluginmanager.get_plugin(_NAME)
    if pages is not None:
        shutil.rmtree(pages.folder, ignore_errors=True)


class PluginPages:
    """The rendered pages of some plugins and the pytest hooks that run and count their examples."""

    def __init__(self, plugins: list[str]):
        from visionblocks.docs.page_tests import page_sybil
        from visionblocks.docs.plugin_docs import write_plugin_pages

        self.plugins = plugins
        self.folder = Path(tempfile.mkdtemp(prefix="visionblocks-docs-pages-"))
        try:
            for plugin in plugins:
                write_plugin_pages(plugin, self.folder / plugin)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.pytest_collect_file = page_sybil(self.folder).pytest()
        self.nodeids: set[str] = set()

    def pytest_collection_modifyitems(self, items) -> None:
        for item in items:
            if self.folder in Path(item.path).parents:
                self.nodeids.add(item.nodeid)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        from visionblocks.docs.page_tests import count_line, examples_run

        ran, failed = examples_run(terminalreporter, self.nodeids)
        title = f"examples of plugin {', '.join(self.plugins)} run per language"
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(count_line(title, ran))
        if failed:
            terminalreporter.write_line(count_line("of which failed", failed))
