"""The code of every example is byte-identical in the five language versions of each page.

Only prose is translated. The code that runs — ```python blocks, invisible code blocks and the
Sybil directives that decide what runs (skip, clear-namespace) — must be the same, in the same
order, so a test passing in one language means the same thing in all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
LANGUAGES = ("en", "es", "pt", "ru", "fr")
_SUFFIXED = re.compile(r"\.(es|pt|ru|fr)\.md$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
_DIRECTIVE = re.compile(r"^[ \t]*<!--\s*(?P<body>(skip|clear-namespace|invisible-code-block)[\s\S]*?)-->", re.M)


def _pages() -> list[str]:
    """Every page stem, relative to docs/ (``modules/resnet``), whatever languages it exists in."""
    stems = {_SUFFIXED.sub("", str(p.relative_to(DOCS))).removesuffix(".md") for p in DOCS.rglob("*.md")}
    return sorted(stems)


def _path(stem: str, lang: str) -> Path:
    return DOCS / (f"{stem}.md" if lang == "en" else f"{stem}.{lang}.md")


def code_of(text: str) -> list[str]:
    """The runnable parts of a Markdown page, in order: python fences (without their indentation)
    and Sybil directives."""
    found: list[tuple[int, str]] = [(m.start(), "<!-- " + m.group("body").strip() + " -->")
                                    for m in _DIRECTIVE.finditer(text)]
    lines = text.splitlines(keepends=True)
    offset, i = 0, 0
    offsets = []
    for line in lines:
        offsets.append(offset)
        offset += len(line)
    while i < len(lines):
        opening = _FENCE.match(lines[i].rstrip("\n"))
        if not opening:
            i += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^{re.escape(indent)}{fence[0]}{{{len(fence)},}}[ \t]*$",
                                              lines[j].rstrip("\n")):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if opening.group("info").split()[:1] == ["python"]:
            found.append((offsets[i], "".join(body)))
        i = j + 1
    return [code for _, code in sorted(found)]


@pytest.mark.parametrize("stem", _pages())
def test_examples_are_identical_in_every_language(stem):
    missing = [lang for lang in LANGUAGES if not _path(stem, lang).is_file()]
    assert not missing, f"docs/{stem}.md has no {', '.join(missing)} version"
    english = code_of(_path(stem, "en").read_text(encoding="utf-8"))
    for lang in LANGUAGES[1:]:
        translated = code_of(_path(stem, lang).read_text(encoding="utf-8"))
        assert len(translated) == len(english), (
            f"docs/{stem}: {len(english)} code blocks in English, {len(translated)} in {lang}")
        for n, (en_code, code) in enumerate(zip(english, translated), 1):
            assert code == en_code, f"docs/{stem}: code block {n} differs between en and {lang}"


def test_code_of_finds_fences_directives_and_indented_blocks():
    page = ("Text\n\n<!-- skip: next -->\n```python\n>>> 1 + 1\n2\n```\n\n!!! note\n\n"
            "    ```python\n    >>> x = 3\n    ```\n\n```bash\nls\n```\n")
    assert code_of(page) == ["<!-- skip: next -->", ">>> 1 + 1\n2\n", ">>> x = 3\n"]
