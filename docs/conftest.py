"""Every Python example on every docs page, in every language, runs as a test (Sybil).

A page is one namespace: its examples run in order, like a reader would type them. Each page
runs in a fresh temporary working directory, so examples write nothing into the repository, and
plugins an example registers in-process are unregistered when the page is done, so one page
cannot change what another sees. pytest's own doctest plugin stays off (``-p no:doctest`` in
pyproject.toml), or the ``>>>`` lines would run twice. The summary line "docs examples run per
language" counts the examples that ran (Sybil runs each ``>>>`` example as one test), by the
page's language suffix.

This file is excluded from the site (``exclude_docs`` in mkdocs.yml).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

from sybil import Sybil
from sybil.parsers.markdown import ClearNamespaceParser, PythonCodeBlockParser, SkipParser

LANGUAGES = ("en", "es", "pt", "ru", "fr")
_SUFFIX = re.compile(r"\.([a-z]{2})\.md$")
_pages: dict[int, tuple[str, str, set[str]]] = {}  # id(namespace) -> (previous cwd, temp dir, plugins before)


def _loaded_plugins() -> set[str]:
    from visionblocks.plugin_host import list_plugins

    return {plugin["name"] for plugin in list_plugins()}


def _start_page(namespace: dict) -> None:
    workdir = tempfile.mkdtemp(prefix="visionblocks-docs-")
    _pages[id(namespace)] = (os.getcwd(), workdir, _loaded_plugins())
    os.chdir(workdir)


def _end_page(namespace: dict) -> None:
    from visionblocks.plugin_host import unregister_plugin

    previous, workdir, plugins = _pages.pop(id(namespace))
    os.chdir(previous)
    shutil.rmtree(workdir, ignore_errors=True)
    for name in _loaded_plugins() - plugins:
        unregister_plugin(name)


# What runs on a page; tests/test_examples_identical.py compares what these parsers find across languages.
PARSERS = [
    PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
    SkipParser(),
    ClearNamespaceParser(),
]

pytest_collect_file = Sybil(
    parsers=PARSERS,
    patterns=["*.md"],
    setup=_start_page,
    teardown=_end_page,
).pytest()


def page_language(nodeid: str) -> str | None:
    """``es`` for ``docs/modules/resnet.es.md::line:40,column:1``; None for a non-docs item."""
    path = nodeid.split("::", 1)[0]
    if not path.endswith(".md"):
        return None
    match = _SUFFIX.search(path)
    return match.group(1) if match and match.group(1) in LANGUAGES else "en"


def pytest_terminal_summary(terminalreporter) -> None:
    ran: Counter[str] = Counter()
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            lang = page_language(getattr(report, "nodeid", ""))
            if lang and report.when == "call":
                ran[lang] += 1
    if not ran:
        return
    counts = ", ".join(f"{lang} {ran[lang]}" for lang in LANGUAGES)
    terminalreporter.write_sep("-", "docs examples run per language")
    terminalreporter.write_line(f"docs examples run per language: {counts} (total {sum(ran.values())})")
