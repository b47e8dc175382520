"""The code of every example is byte-identical in the five language versions of each page.

Only prose is translated. What runs must be the same, in the same order, so that a test passing in
one language means the same thing in all of them: every region that the docs' own Sybil parsers
find (``python`` fences and their ``>>>`` examples, ``invisible-code-block``/``code-block``
directives, ``skip`` and ``clear-namespace``; visionblocks.docs.page_tests ``PARSERS``), and what a reader
copies without it running (bash, JSON, YAML, TOML and other fenced blocks).
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

DOCS = Path(__file__).resolve().parent.parent / "docs"
LANGUAGES = ("en", "es", "pt", "ru", "fr")
_SUFFIXED = re.compile(r"\.(es|pt|ru|fr)\.md$")


def _docs_parsers() -> list:
    """The parsers the docs pages run with (docs/conftest.py and the doc-test kit use the same)."""
    from visionblocks.docs.page_tests import PARSERS

    return PARSERS


# Fenced blocks that do not run but that readers copy: every language but python (whose fences
# the docs' parsers already cover).
_FENCES = FencedCodeBlockLexer(language=r"(?!python\b)[^\s`]+")
# In these, a "#" starts a comment: prose for the reader, which a translation may translate.
_COMMENTED = {"bash", "sh", "shell", "console", "yaml", "yml", "toml"}
_COMMENT = re.compile(r"(^|\s)#(\s.*)?$")


def _pages() -> list[str]:
    """Every page stem, relative to docs/ (``modules/resnet``), whatever languages it exists in."""
    stems = {_SUFFIXED.sub("", str(p.relative_to(DOCS))).removesuffix(".md") for p in DOCS.rglob("*.md")}
    return sorted(stems)


def _path(stem: str, lang: str) -> Path:
    return DOCS / (f"{stem}.md" if lang == "en" else f"{stem}.{lang}.md")


def _what_runs(parser, region) -> str:
    """One region found by a docs parser, as what it makes Sybil do: a code block's or directive's
    lexemes (language, source), a ``>>>`` example's source and expected output, a skip's or
    clear-namespace's parsed arguments."""
    parsed = region.parsed
    if region.lexemes:
        content = sorted((key, str(value)) for key, value in region.lexemes.items())
    elif isinstance(parsed, doctest.Example):
        content = [parsed.source, parsed.want, sorted(parsed.options.items())]
    else:
        content = parsed
    return f"{type(parser).__name__}: {content!r}"


def _fence(region) -> str:
    """A fenced block that does not run: its language and its text, comments left out where the
    language has them."""
    language, source = region.lexemes["language"], str(region.lexemes["source"])
    if language in _COMMENTED:
        lines = (_COMMENT.sub("", line).rstrip() for line in source.splitlines())
        source = "\n".join(line for line in lines if line)
    return f"{language} block: {source!r}"


def code_of(text: str, parsers=None) -> list[str]:
    """What runs on the page (every region the docs' Sybil parsers find) and every other fenced
    block, in page order."""
    document = Document(text, "page.md")
    found = [(region.start, _what_runs(parser, region))
             for parser in (parsers if parsers is not None else _docs_parsers()) for region in parser(document)]
    found += [(region.start, _fence(region)) for region in _FENCES(document)]
    return [code for _, code in sorted(found)]


@pytest.fixture(scope="module")
def parsers():
    return _docs_parsers()


@pytest.mark.parametrize("stem", _pages())
def test_examples_are_identical_in_every_language(stem, parsers):
    missing = [lang for lang in LANGUAGES if not _path(stem, lang).is_file()]
    assert not missing, f"docs/{stem}.md has no {', '.join(missing)} version"
    english = code_of(_path(stem, "en").read_text(encoding="utf-8"), parsers)
    for lang in LANGUAGES[1:]:
        translated = code_of(_path(stem, lang).read_text(encoding="utf-8"), parsers)
        assert len(translated) == len(english), (
            f"docs/{stem}: {len(english)} code regions in English, {len(translated)} in {lang}")
        for n, (en_code, code) in enumerate(zip(english, translated), 1):
            assert code == en_code, f"docs/{stem}: code region {n} differs between en and {lang}:\n{en_code}\n---\n{code}"


def test_code_of_finds_every_form_sybil_runs_and_the_other_fences(parsers):
    page = ("Text\n\n<!-- skip: next -->\n```python\n>>> 1 + 1\n2\n```\n\n!!! note\n\n"
            "    ```python\n    >>> x = 3\n    ```\n\n"
            "<!-- invisible-code-block: python\ny = 4\n-->\n\n<!-- code-block: python\nz = 5\n-->\n\n"
            "<!-- clear-namespace -->\n\n```bash\nls  # list\n```\n\n```json\n{\"a\": 1}\n```\n\n"
            "```yaml\n# a comment\nk: v\n```\n")
    regions = code_of(page, parsers)
    assert len(regions) == 9, regions  # skip, 2 examples, 2 directives, clear-namespace, 3 fences
    # A change in anything that runs or is copied changes what is compared ...
    for before, after in (("skip: next", "skip: start"), ("1 + 1\n2", "1 + 2\n3"), ("x = 3", "x = 4"),
                          ("y = 4", "y = 5"), ("z = 5", "z = 6"), ("clear-namespace", "skip: next"),
                          ("ls ", "ls -l "), ('"a": 1', '"a": 2'), ("k: v", "k: w")):
        assert code_of(page.replace(before, after), parsers) != regions, before
    # ... a change in the prose, or in a shell or YAML comment, does not.
    for before, after in (("Text", "Texte"), ("# list", "# lister"), ("# a comment", "# un commentaire")):
        assert code_of(page.replace(before, after), parsers) == regions, before
