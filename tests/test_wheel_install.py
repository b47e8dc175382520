"""visionblocks and the example plugin installed from wheels, not from this checkout: the promise
to plugin authors holds outside the repository.

Both wheels are built once (``pip wheel --no-deps --no-build-isolation``, no network) from copies
of their sources and installed non-editably into a fresh virtual environment. That environment
reuses the already installed torch and other dependencies: a ``.pth`` line appends this
interpreter's site-packages to its ``sys.path``. The ``.pth`` files of that folder (the editable
installs of visionblocks and of the plugin) are not processed there, and the environment's own
site-packages comes first, so the imported visionblocks and plugin are the wheels' (asserted).
Every command runs from a temporary folder, never from the repository.

There: ``describe --lang ru`` is Russian (the catalogs travel in the wheel); ``plugins`` lists the
example plugin with its hooks; the plugin's command runs; a pipeline trains a small MobileNet on
digits with the plugin's architecture and noise transform, scores it, and ``visionblocks serve``
answers a request with the model; the doc-test kit runs the plugin's examples in all five
languages; the plugin's generated site builds with ``mkdocs build --strict``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Iterator

import pytest

from service_helpers import Server, start as start_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "examples" / "plugins" / "visionblocks-mobilenet"
# What the visionblocks wheel is built from (a copy, so no build/ folder lands in the checkout and no
# stale build output of an earlier run gets into the wheel).
SOURCES = ("pyproject.toml", "README.md", "core", "plugins", "translations")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")

PIPELINE = """\
name: wheel
nodes:
  - {id: convert, module: convert-to-image-directory, inputs: {input_dataset: digits}}
  - id: init
    module: init-image-transformation
    params:
      resize: false
      center_crop: false
      random_horizontal_flip: false
      operations: '[["RandomGaussianNoise", {"std": 0.1}]]'
  - {id: apply, module: apply-image-transformation, params: {mode: For training}}
  - {id: mobilenet, module: mobilenet, params: {model_name: mobilenet_v3_small, pretrained: false}}
  - {id: train, module: train-pytorch-model, params: {epochs: 1, batch_size: 20, learning_rate: 0.01}}
  - {id: score, module: score-image-model}
edges:
  - convert.output_image_directory -> apply.input_image_directory
  - init.output_image_transformation -> apply.input_image_transformation
  - mobilenet.untrained_model -> train.untrained_model
  - apply.output_image_directory -> train.training_dataset
  - train.trained_model -> score.trained_model
  - convert.output_image_directory -> score.dataset
"""


class Installed:
    """The isolated environment: its interpreter, and commands run in its work folder."""

    def __init__(self, root: Path):
        self.root = root
        self.work = root / "work"
        self.bin = root / "env" / "bin"
        self.python = self.bin / "python"
        self.timings: dict[str, float] = {}
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        self.env.update(PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}", VIRTUAL_ENV=str(root / "env"),
                        VISIONBLOCKS_OFFLINE="1", VISIONBLOCKS_QUIET="1", NO_MKDOCS_2_WARNING="1",
                        DISABLE_MKDOCS_2_WARNING="true")

    def run(self, label: str, *args: str, cwd: Path | None = None, timeout: float = 300) -> str:
        start = time.perf_counter()
        proc = subprocess.run(list(args), cwd=cwd or self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        self.timings[label] = time.perf_counter() - start
        assert proc.returncode == 0, f"{label}: {' '.join(args)}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc.stdout

    def visionblocks(self, label: str, *args: str, **kwargs) -> str:
        return self.run(label, str(self.bin / "visionblocks"), *args, **kwargs)


def _build_wheel(source: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel-install")
    env = Installed(root)
    start = time.perf_counter()
    src = root / "src" / "visionblocks"
    src.mkdir(parents=True)
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=_IGNORE)
        else:
            shutil.copy(REPO / name, src / name)
    shutil.copytree(PLUGIN, root / "src" / PLUGIN.name, ignore=_IGNORE)
    wheels = root / "wheels"
    _build_wheel(src, wheels)
    _build_wheel(root / "src" / PLUGIN.name, wheels)
    env.timings["build the two wheels"] = time.perf_counter() - start

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "env")], check=True, timeout=120)
    site = Path(subprocess.run([str(env.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # torch, torchvision, pandas, mkdocs, pytest, sybil, ... from this interpreter's site-packages.
    (site / "reuse-installed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env.python), "install", "--quiet", "--no-deps",
                    "--no-index", *map(str, sorted(wheels.glob("*.whl")))],
                   check=True, capture_output=True, timeout=300)
    env.timings["create the environment, install the wheels"] = time.perf_counter() - start
    env.work.mkdir()
    yield env
    print("\nwheel install timings: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in env.timings.items()))


def test_the_wheels_not_the_checkout_are_imported(installed):
    out = installed.run("import", str(installed.python), "-c",
                        "import visionblocks, visionblocks_mobilenet, visionblocks.translations as t; "
                        "print(visionblocks.__file__); print(visionblocks_mobilenet.__file__); print(t.__file__)")
    env = str(installed.root / "env")
    for line in out.split():
        assert line.startswith(env) and "site-packages" in line, out
    assert not any(line.startswith(str(REPO)) for line in out.split())


def test_describe_in_russian_reads_the_catalogs_of_the_wheel(installed):
    out = installed.visionblocks("describe --lang ru", "describe", "score-image-model", "--lang", "ru")
    assert out.startswith("Оценка моделей изображений (score-image-model)"), out[:300]
    assert "Выходы" in out or "Входы" in out


def test_plugins_lists_the_example_plugin_with_its_hooks(installed):
    plugins = json.loads(installed.visionblocks("plugins --json", "plugins", "--json"))
    mobilenet = next(p for p in plugins if p["name"] == "mobilenet")
    assert mobilenet["package"] == "visionblocks-mobilenet"
    assert {"visionblocks_register_modules", "visionblocks_register_architectures", "visionblocks_register_transforms",
            "visionblocks_register_commands", "visionblocks_translation_dirs"} <= set(mobilenet["hooks"])
    assert mobilenet["modules"] == ["mobilenet"]


def test_the_plugins_command_runs(installed):
    out = installed.visionblocks("plugin command", "mobilenet", "--classes", "10")
    assert re.search(r"mobilenet_v3_small\s+[\d,]+ parameters for 10 classes", out), out


def test_generate_and_extract_work_from_the_wheel(installed):
    out_dir = installed.work / "pages"
    installed.visionblocks("docs generate", "docs", "generate", "--out", str(out_dir))
    assert (out_dir / "mobilenet.ru.md").read_text(encoding="utf-8").startswith("# MobileNet\n")
    assert "Создаёт модель классификации изображений" in (out_dir / "mobilenet.ru.md").read_text(encoding="utf-8")
    installed.visionblocks("docs extract", "docs", "extract", "--plugin", "mobilenet", "--out",
                           str(installed.work / "catalogs"))
    assert (installed.work / "catalogs" / "visionblocks.pot").is_file()


def test_pipeline_with_the_plugins_architecture_and_transform_then_serve(installed):
    installed.visionblocks("sample digits", "sample", "digits", "digits", "--size", "16", "--per-class", "4")
    (installed.work / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    installed.visionblocks("pipeline: train 1 epoch, score", "run", "pipeline.yaml", "--out", "runs")
    model = installed.work / "runs" / "train" / "trained_model"
    config = json.loads((model / "_config.json").read_text())
    assert config["architecture"] == "mobilenet_v3_small"
    transform = json.loads((model / "_transforms.json").read_text())
    assert "RandomGaussianNoise" in json.dumps(transform)
    scored = installed.run("read scores", str(installed.python), "-c",
                           "import pandas as pd; t = pd.read_parquet('runs/score/scored_dataset/data.parquet'); "
                           "print(len(t), set(t['Scored Labels']) <= set('0123456789'))")
    assert scored.split() == ["40", "True"], scored

    server = _serve(installed, model)
    try:
        import httpx

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (16, 16), (0, 0, 0)).save(buffer, "PNG")
        b64 = base64.b64encode(buffer.getvalue()).decode()
        start = time.perf_counter()
        response = httpx.post(server.url.rstrip("/") + "/score", timeout=60,
                              json={"Inputs": {"WebServiceInput0": [{"image": b64}]}, "GlobalParameters": {}})
        installed.timings["serve: one request"] = time.perf_counter() - start
        assert response.status_code == 200, response.text
        row = response.json()["Results"]["WebServiceOutput0"][0]
        assert row["Scored Labels"] in [str(digit) for digit in range(10)]
    finally:
        server.stop()


def _serve(installed: Installed, model: Path) -> Server:
    """``visionblocks serve MODEL --port 0`` of the environment, once it says where it listens."""
    start = time.perf_counter()
    server = start_server(["serve", str(model), "--port", "0"], installed.work / "serve.log",
                          command=[str(installed.bin / "visionblocks")], cwd=installed.work, env=installed.env)
    installed.timings["serve: start"] = time.perf_counter() - start
    return server


def test_doc_test_kit_runs_the_plugins_examples_in_five_languages(installed):
    out = installed.visionblocks("docs test (doc-test kit)", "docs", "test", "mobilenet")
    line = next(line for line in out.splitlines() if line.startswith("examples of plugin mobilenet run per language:"))
    print(line)
    counts = dict(re.findall(r"\b(en|es|pt|ru|fr) (\d+)", line))
    assert set(counts) == {"en", "es", "pt", "ru", "fr"} and len(set(counts.values())) == 1, line
    assert int(counts["en"]) > 0 and re.search(r"\b\d+ passed\b", out) and "failed" not in out.splitlines()[-1]


def test_the_plugins_site_builds_strict(installed):
    site = installed.work / "site-src"
    installed.visionblocks("docs site", "docs", "site", "--plugin", "visionblocks-mobilenet", "--out", str(site))
    installed.run("mkdocs build --strict", str(installed.python), "-m", "mkdocs", "build", "--strict", cwd=site)
    ru = (site / "site" / "ru" / "mobilenet" / "index.html").read_text(encoding="utf-8")
    assert "Создаёт модель классификации изображений" in ru
    assert (site / "site" / "fr" / "index.html").is_file() and (site / "site" / "mobilenet" / "index.html").is_file()
