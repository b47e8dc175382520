"""Running the examples of documentation pages with Sybil, the way this project's CI does.

Shared by the repository's ``docs/conftest.py`` and the doc-test kit for plugin authors
(:mod:`visionblocks.docs.pytest_plugin`, ``visionblocks docs test PLUGIN``), so a plugin's pages
are checked exactly like the built-in ones:

- a page is one namespace: its examples run in order, like a reader would type them;
- each page runs in a fresh temporary working directory, so examples write nothing next to the pages;
- plugins an example registers in-process are unregistered when its page is done, so one page
  cannot change what another sees;
- the examples that ran are counted per language, by the page's suffix (``resnet.es.md`` is Spanish).

Sybil is a test dependency: this module is imported only when examples are about to run.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path
from typing import Iterable

from sybil import Sybil
from sybil.parsers.markdown import ClearNamespaceParser, PythonCodeBlockParser, SkipParser

from visionblocks.docs.i18n import LANGUAGES

_SUFFIX = re.compile(r"\.([a-z]{2})\.md$")

# What runs on a page; tests/test_examples_identical.py compares what these parsers find across languages.
PARSERS = [
    PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
    SkipParser(),
    ClearNamespaceParser(),
]


def _loaded_plugins() -> set[str]:
    from visionblocks.plugin_host import list_plugins

    return {plugin["name"] for plugin in list_plugins()}


class _PageSandbox:
    """Sybil's setup and teardown of a page: a temporary working directory, and the plugins
    registered by the page's examples removed afterwards."""

    def __init__(self) -> None:
        self._pages: dict[int, tuple[str, str, set[str]]] = {}  # id(namespace) -> (cwd, work dir, plugins)

    def start(self, namespace: dict) -> None:
        workdir = tempfile.mkdtemp(prefix="visionblocks-docs-")
        self._pages[id(namespace)] = (os.getcwd(), workdir, _loaded_plugins())
        os.chdir(workdir)

    def end(self, namespace: dict) -> None:
        from visionblocks.plugin_host import unregister_plugin

        previous, workdir, plugins = self._pages.pop(id(namespace))
        os.chdir(previous)
        shutil.rmtree(workdir, ignore_errors=True)
        for name in _loaded_plugins() - plugins:
            unregister_plugin(name)


def page_sybil(path: Path, patterns: Iterable[str] = ("*.md",)) -> Sybil:
    """A Sybil that runs the examples of the Markdown pages under ``path`` (an absolute folder)."""
    sandbox = _PageSandbox()
    return Sybil(parsers=PARSERS, path=str(Path(path).resolve()), patterns=list(patterns),
                 setup=sandbox.start, teardown=sandbox.end)


def page_language(nodeid: str) -> str | None:
    """``es`` for ``docs/modules/resnet.es.md::line:40,column:1``; None for a non-docs item."""
    path = nodeid.split("::", 1)[0]
    if not path.endswith(".md"):
        return None
    match = _SUFFIX.search(path)
    return match.group(1) if match and match.group(1) in LANGUAGES else LANGUAGES[0]


def count_line(title: str, ran: Counter[str]) -> str:
    """``<title>: en 4, es 4, pt 0, ru 8, fr 0 (total 16)``."""
    counts = ", ".join(f"{lang} {ran[lang]}" for lang in LANGUAGES)
    return f"{title}: {counts} (total {sum(ran.values())})"


def examples_run(terminalreporter, nodeids: set[str] | None = None) -> tuple[Counter[str], Counter[str]]:
    """(examples that ran, examples that failed) per language, from pytest's reports; only the
    items in ``nodeids`` when given."""
    ran: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            lang = page_language(nodeid)
            if lang and report.when == "call" and (nodeids is None or nodeid in nodeids):
                ran[lang] += 1
                if outcome == "failed":
                    failed[lang] += 1
    return ran, failed
