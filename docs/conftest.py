"""Every Python example on every docs page, in every language, runs as a test (Sybil).

The rules are visionblocks.docs.page_tests', shared with the doc-test kit plugin authors run
(``pytest --visionblocks-docs=PLUGIN``): a page is one namespace whose examples run in order in a
fresh temporary working directory, and plugins an example registers are unregistered when the page
is done. pytest's own doctest plugin stays off (``-p no:doctest`` in pyproject.toml), or the
``>>>`` lines would run twice. The summary line "docs examples run per language" counts the
examples that ran (Sybil runs each ``>>>`` example as one test), by the page's language suffix.

This file is excluded from the site (``exclude_docs`` in mkdocs.yml).
"""

from __future__ import annotations

from pathlib import Path

from visionblocks.docs.page_tests import count_line, examples_run, page_sybil

pytest_collect_file = page_sybil(Path(__file__).parent).pytest()


def pytest_terminal_summary(terminalreporter) -> None:
    ran, _ = examples_run(terminalreporter)
    if ran:
        terminalreporter.write_sep("-", "docs examples run per language")
        terminalreporter.write_line(count_line("docs examples run per language", ran))
