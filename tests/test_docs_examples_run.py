"""docs/conftest.py: examples run per page in a temporary folder, and the suite reports how many
ran in each language. Checked by running pytest on a small docs tree that uses the real conftest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"

PAGE = """# A page

```python
>>> from pathlib import Path
>>> _ = Path("written-by-example.txt").write_text("x")
>>> Path("written-by-example.txt").exists()
True

```

Prose between the examples.

```python
>>> print(2 + 2)
4

```
"""


def test_examples_run_in_a_temporary_folder_and_are_counted_per_language(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(DOCS / "conftest.py", docs / "conftest.py")
    for name in ("page.md", "page.es.md", "page.ru.md", "other.ru.md"):
        (docs / name).write_text(PAGE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:doctest", "-p", "no:cacheprovider", "docs"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # Sybil makes one test of each `>>>` example: 4 per page.
    assert "16 passed" in proc.stdout
    assert "docs examples run per language: en 4, es 4, pt 0, ru 8, fr 0 (total 16)" in proc.stdout
    assert not list(tmp_path.rglob("written-by-example.txt"))
