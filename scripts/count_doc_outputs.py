"""Count the ``>>>`` examples of the docs, per language, and how many show what they produce.

For each language: the examples Sybil runs (one per ``>>>`` example, found by the same parsers as
docs/conftest.py), those with an expected output, and those whose expected output is only
``True`` or ``False`` (a check the reader cannot learn anything from). Run from anywhere:

    .venv/bin/python scripts/count_doc_outputs.py [--by-page]
"""

from __future__ import annotations

import argparse
import doctest
import re
from collections import Counter
from pathlib import Path

from sybil import Document

DOCS = Path(__file__).resolve().parent.parent / "docs"
LANGUAGES = ("en", "es", "pt", "ru", "fr")
_SUFFIX = re.compile(r"\.(es|pt|ru|fr)\.md$")


def _parsers() -> list:
    """The parsers the docs pages run with (docs/conftest.py and the doc-test kit use the same)."""
    from visionblocks.docs.page_tests import PARSERS

    return PARSERS


def language(path: Path) -> str:
    match = _SUFFIX.search(path.name)
    return match.group(1) if match else "en"


def examples(path: Path, parsers: list) -> list[doctest.Example]:
    document = Document(path.read_text(encoding="utf-8"), str(path))
    return [region.parsed for parser in parsers for region in parser(document)
            if isinstance(region.parsed, doctest.Example)]


def count(example_list: list[doctest.Example]) -> Counter:
    counts: Counter = Counter(examples=len(example_list))
    for example in example_list:
        want = example.want.strip()
        if want:
            counts["with output"] += 1
            if want in ("True", "False"):
                counts["only True/False"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-page", action="store_true", help="also one line per English page")
    args = parser.parse_args()
    parsers = _parsers()
    totals = {lang: Counter() for lang in LANGUAGES}
    pages: dict[str, Counter] = {}
    for path in sorted(DOCS.rglob("*.md")):
        counts = count(examples(path, parsers))
        totals[language(path)] += counts
        if language(path) == "en":
            pages[str(path.relative_to(DOCS))] = counts
    columns = ("examples", "with output", "only True/False")
    print(f"{'language':<10}" + "".join(f"{c:>18}" for c in columns))
    for lang in LANGUAGES:
        print(f"{lang:<10}" + "".join(f"{totals[lang][c]:>18}" for c in columns))
    total = sum(totals.values(), Counter())
    print(f"{'total':<10}" + "".join(f"{total[c]:>18}" for c in columns))
    if args.by_page:
        print()
        for page, counts in pages.items():
            print(f"{page:<45}" + "".join(f"{counts[c]:>18}" for c in columns))


if __name__ == "__main__":
    main()
