"""The architecture contract and the start-up it protects.

The import contracts live in pyproject.toml (``[tool.importlinter]``). They are checked here on
a staged copy of the package — core/ as ``visionblocks/`` with plugins/ inside it — because grimp
reads one folder per root package and the editable install maps ``visionblocks.plugins`` from a
folder outside core/. The same staging with one deliberate upward import shows the linter
catches it. Run ``python tests/test_architecture.py`` to see the linter's report on the tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
TORCH = ("torch", "torchvision")


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["name"]: contract for contract in config["contracts"]}


def _contract(name_start: str) -> dict:
    (contract,) = [c for name, c in _contracts().items() if name.startswith(name_start)]
    return contract


def stage(where: Path) -> Path:
    """A folder whose ``visionblocks/`` is core/ with plugins/ as its ``plugins`` subpackage."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "core", where / "visionblocks", ignore=skip)
    shutil.copytree(REPO / "plugins", where / "visionblocks" / "plugins", ignore=skip)
    return where


def lint(staged: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with this project's contracts on the package staged in ``staged``.

    PYTHONPATH puts the staged copy ahead of the editable install (whose finder comes last on
    sys.meta_path), so grimp finds ``visionblocks`` there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(staged), os.environ.get("PYTHONPATH")]))}
    command = [str(Path(sys.executable).with_name("lint-imports")), str(PYPROJECT), "--no-cache", "--no-logo"]
    return subprocess.run(command, cwd=staged, env=env, capture_output=True, text=True, timeout=300)


def _verdicts(report: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from the linter's summary lines."""
    return {m["name"]: m["verdict"] for m in re.finditer(r"^(?P<name>.+?) (?P<verdict>KEPT|BROKEN)\b", report, re.M)}


# -- the contracts ---------------------------------------------------------------------------

def test_contracts_hold_on_the_tree(tmp_path):
    result = lint(stage(tmp_path))
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert _verdicts(report) == dict.fromkeys(_contracts(), "KEPT"), report


def test_the_foundation_list_names_every_top_level_module_and_every_subpackage():
    """A new module or subpackage has to be placed in the contract, not silently left out."""
    foundation = _contract("The foundation")
    top_level = {f"visionblocks.{p.stem}" for p in (REPO / "core").glob("*.py") if p.stem != "__init__"}
    subpackages = {f"visionblocks.{p.parent.name}" for p in (REPO / "core").glob("*/__init__.py")}
    assert set(foundation["source_modules"]) == top_level
    assert set(foundation["forbidden_modules"]) == subpackages | {"visionblocks.plugins", *TORCH}
    layers = {name.strip() for layer in _contract("Layers")["layers"] for name in layer.split("|")}
    assert layers == subpackages | {"visionblocks.plugins"}


UPWARD_IMPORTS = [
    # (file in the staged visionblocks/, the line added, the contract it must break)
    ("ports.py", "import visionblocks.learn.score", "The foundation"),
    ("errors.py", "import torch", "The foundation"),
    ("data/convert.py", "from visionblocks.learn import models", "Layers"),
    ("docs/catalog.py", "from visionblocks.evaluation import report", "Layers"),
    ("docs/describe.py", "import torchvision", "The docs tooling"),
    ("evaluation/metrics.py", "from visionblocks.learn.choices import PRECISIONS", "Evaluation"),
]


@pytest.mark.parametrize("relative, line, contract", UPWARD_IMPORTS, ids=[u[0] for u in UPWARD_IMPORTS])
def test_a_forbidden_import_breaks_its_contract(tmp_path, relative, line, contract):
    staged = stage(tmp_path)
    target = staged / "visionblocks" / relative
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # deliberate violation\n", encoding="utf-8")
    result = lint(staged)
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    # A foundation module's import also reaches the layers that import it, so other contracts
    # may break with it; the one named must be among them.
    broken = [name for name, verdict in _verdicts(report).items() if verdict == "BROKEN"]
    assert any(name.startswith(contract) for name in broken), report
    module = "visionblocks." + relative.removesuffix(".py").replace("/", ".")
    assert f"{module} -> " in report, "the report names the importing module"


# -- start-up without torch ------------------------------------------------------------------

# Runs a command line like the installed script does, then reports every loaded module on the
# last line of stderr. -X importtime alone misses modules loaded through importlib.import_module
# (the plugins' entry points), so sys.modules at exit is the witness; importtime is kept because
# it is how the issue states the check, and it shows where the time goes when one fails.
_CLI = """
import json, sys
from visionblocks.cli import main
status = main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(status)
"""
_IMPORT_CLI = "import json, sys, visionblocks.cli; print(json.dumps(sorted(sys.modules)), file=sys.stderr)"


def _run_python(code: str, *args: str) -> tuple[subprocess.CompletedProcess, set[str], set[str]]:
    """Run ``code``; return the process, the modules -X importtime logged and those loaded at exit."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], capture_output=True,
                            text=True, encoding="utf-8", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    timed = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and line.count("|") == 2}
    return result, timed, set(json.loads(lines[-1]))


def _torch(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in TORCH}


def test_importing_the_cli_imports_no_torch():
    _, timed, loaded = _run_python(_IMPORT_CLI)
    assert "visionblocks.cli" in timed and "visionblocks.cli" in loaded
    assert not _torch(timed) and not _torch(loaded)


def test_describe_in_russian_imports_no_torch():
    from visionblocks.docs.describe import describe_text
    from visionblocks.plugin_host import get_registry

    result, timed, loaded = _run_python(_CLI, "describe", "score-image-model", "--lang", "ru")
    assert "visionblocks.plugins.scoring" in loaded, "describe loaded the plugin that declares the module"
    assert not _torch(timed) and not _torch(loaded)
    spec = get_registry().get("score-image-model")
    russian = describe_text(spec, "ru")
    assert result.stdout.strip() == russian.strip()
    assert russian != describe_text(spec, "en") and re.search("[А-Яа-я]", russian.splitlines()[0])


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        outcome = lint(stage(Path(folder)))
        print(outcome.stdout + outcome.stderr)
        sys.exit(outcome.returncode)
