"""No module of the package imports a name it never uses (what pyflakes calls F401).

An unused import misleads the reader about what a module depends on, and in this package it can
cost real time: a heavy library imported for nothing slows every command. The check reads the
syntax tree only, so it needs no linter installed. Package ``__init__`` files (which re-export)
and lines marked ``# noqa`` (deliberate re-exports) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(path for folder in ("core", "plugins") for path in (ROOT / folder).rglob("*.py")
                 if path.name != "__init__.py")


def unused_imports(text: str) -> list[str]:
    """The names ``text`` imports (at any depth) and never reads, with their line numbers."""
    tree = ast.parse(text)
    lines = text.splitlines()
    imported: dict[str, int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or "noqa" in lines[node.lineno - 1]:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        for alias in node.names:
            imported.setdefault((alias.asname or alias.name).split(".")[0], node.lineno)
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    exported = {element.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets)
                for element in ast.walk(node.value) if isinstance(element, ast.Constant)}
    return [f"line {line}: {name}" for name, line in sorted(imported.items(), key=lambda item: item[1])
            if name not in read | exported]


def test_the_check_finds_an_unused_import():
    assert unused_imports("import argparse\nfrom pathlib import Path\nPath('.')\n") == ["line 1: argparse"]


def test_no_module_imports_a_name_it_does_not_use():
    found = {str(path.relative_to(ROOT)): unused_imports(path.read_text(encoding="utf-8")) for path in SOURCES}
    assert {path: names for path, names in found.items() if names} == {}
