"""Fault injection: a run killed half-way (SIGKILL), a full disk while an output is written, two
pipeline runs on one folder, a model changed after training, and the user mistakes the command
line once reported as internal errors (1000).

What must hold: a killed run leaves no output that reads as valid and its rerun gives the same
result as an undisturbed run; a failed write leaves the previous output as it was and says so with
a designer code; a second run on a busy run folder is refused; a changed model is refused (0159).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import visionblocks as vb
from visionblocks import errors, ports
from visionblocks.pipeline import Pipeline, run_lock

KILL_WAIT_S = 120.0  # how long to wait for the run to reach the point where it is killed
INFERENCE = "For inference"  # Apply Image Transformation's deterministic mode


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visionblocks", *args], capture_output=True, text=True,
                          timeout=600, **kwargs)


# The killed run decodes and links each image a little slowly, so that on an idle machine it is
# still writing when the kill comes (converting a few hundred small digits otherwise takes less
# time than the test's polling). The patch is made before the engine imports these functions.
SLOW_RUN = """
import functools, sys, time
import visionblocks.images as images, visionblocks.ports as ports

def slow(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        time.sleep(0.01)
        return function(*args, **kwargs)
    return wrapper

images.open_image = slow(images.open_image)
ports.link_or_copy = slow(ports.link_or_copy)
from visionblocks.cli import main
sys.exit(main(sys.argv[1:]))
"""


def kill_while_writing(args: list[str], out: Path, delay_s: float = 0.2) -> None:
    """Start ``visionblocks <args>`` (slowed down, see SLOW_RUN), SIGKILL it ``delay_s`` after an
    output starts being written under ``out`` (a ``.partial-`` folder exists), and check that it
    died by the signal."""
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + KILL_WAIT_S
    while process.poll() is None and time.monotonic() < deadline:
        if any(".partial-" in p.name for p in out.rglob(".*")):
            time.sleep(delay_s)
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL, f"the run ended before it could be killed: {process.stderr.read()}"


def valid_outputs(out: Path) -> dict[str, str]:
    """Every folder under ``out`` that reads as an output (a _meta.yaml with a type), outside the
    hidden work folders, with its content hash."""
    found = {}
    for meta in out.rglob(ports.META_FILE):
        rel = meta.parent.relative_to(out)
        if not any(part.startswith(".") for part in rel.parts) and ports.port_type_of(meta.parent):
            found[str(rel)] = ports.directory_hash(meta.parent)
    return found


# -- the data ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Enough images that a run is still busy when it is killed, converted once, a transformation,
    and an untrained-weights model that scores them."""
    from visionblocks.datasets import write_digits
    from visionblocks.learn import models

    root = tmp_path_factory.mktemp("faults")
    raw = write_digits(root / "raw", size=32, per_class=30)
    converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=root / "converted")
    # Scoring is the slow module on a CPU: a few images keep it busy long enough to be killed.
    few = vb.run_module("convert-to-image-directory", out=root / "few",
                        inputs={"input_dataset": write_digits(root / "few_raw", size=32, per_class=3)})
    transform = vb.run_module("init-image-transformation", params={"size": 24, "crop_size": 16}, out=root / "init")
    config = models.untrained_config("resnet18", pretrained=False)
    model_dir = root / "model"
    models.save_trained(model_dir, models.build_model(config, 10), {**config, "input_size": [3, 32, 32]},
                        [str(i) for i in range(10)], [["Resize", 32], ["ToTensor", {}]])
    return {"raw": raw, "images": converted.outputs["output_image_directory"],
            "few_images": few.outputs["output_image_directory"],
            "transform": transform.outputs["output_image_transformation"], "model": model_dir, "root": root}


def _module_call(work, module: str) -> tuple[dict, dict]:
    """The inputs and parameters ``module`` runs with here."""
    inputs = {"convert-to-image-directory": {"input_dataset": work["raw"]},
              "apply-image-transformation": {"input_image_transformation": work["transform"],
                                             "input_image_directory": work["images"]},
              "score-image-model": {"trained_model": work["model"], "dataset": work["few_images"]}}[module]
    params = {"score-image-model": {"batch_size": 8}, "apply-image-transformation": {"mode": INFERENCE}}
    return inputs, params.get(module, {})


def _cli_args(module: str, inputs: dict, params: dict, out: Path) -> list[str]:
    args = ["module", "run", module, "--out", str(out)]
    for name, value in inputs.items():
        args += ["--input", f"{name}={value}"]
    for name, value in params.items():
        args += ["--param", f"{name}={value}"]
    return args


# -- SIGKILL, then rerun --------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["convert-to-image-directory", "apply-image-transformation", "score-image-model"])
def test_killed_module_leaves_nothing_valid_and_reruns(work, tmp_path, module):
    inputs, params = _module_call(work, module)
    reference = tmp_path / "reference"
    vb.run_module(module, inputs, params, out=reference)

    out = tmp_path / "killed"
    kill_while_writing(_cli_args(module, inputs, params, out), out)
    assert valid_outputs(out) == {}, "a killed run left an output that reads as complete"

    vb.run_module(module, inputs, params, out=out)  # the rerun
    assert valid_outputs(out) == valid_outputs(reference)


def test_killed_pipeline_reruns_to_the_same_result(work, tmp_path):
    pipeline = tmp_path / "pipe.yaml"
    pipeline.write_text(yaml.safe_dump({"name": "faults", "nodes": [
        {"id": "convert", "module": "convert-to-image-directory", "inputs": {"input_dataset": str(work["raw"])}},
        {"id": "apply", "module": "apply-image-transformation", "params": {"mode": INFERENCE},
         "inputs": {"input_image_transformation": str(work["transform"])}}],
        "edges": ["convert.output_image_directory -> apply.input_image_directory"]}))
    reference = tmp_path / "reference"
    Pipeline.load(pipeline).run(reference)

    out = tmp_path / "killed"
    kill_while_writing(["run", str(pipeline), "--out", str(out)], out)
    before = valid_outputs(out)
    assert set(before) <= {"convert/output_image_directory"}, before  # only a node that had finished
    Pipeline.load(pipeline).run(out)  # the rerun; a killed run's lock is gone with its process
    assert valid_outputs(out) == valid_outputs(reference)


# -- a full disk ----------------------------------------------------------------------------------
def _no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_while_writing_keeps_the_previous_output(work, tmp_path, monkeypatch):
    out = tmp_path / "out"
    vb.run_module("convert-to-image-directory", inputs={"input_dataset": work["raw"]}, out=out)
    before = valid_outputs(out)
    monkeypatch.setattr(ports, "write_meta", _no_space)  # the disk fills up as the output is finished
    with pytest.raises(errors.FailedToWriteOutputsError, match="disk is full.*left as it was") as caught:
        vb.run_module("convert-to-image-directory", inputs={"input_dataset": work["raw"]}, out=out)
    assert caught.value.code == 160
    assert valid_outputs(out) == before
    assert not [p for p in out.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_full_disk_while_publishing_puts_the_previous_output_back(tmp_path, monkeypatch):
    final = tmp_path / "port"
    with ports.atomic_directory(final) as tmp:
        (tmp / "data.txt").write_text("first")
    real_rename = Path.rename

    def rename(self, target):
        if ".partial-" in self.name:  # the new output's rename fails; moving the old one aside works
            _no_space()
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(errors.FailedToWriteOutputsError, match="left as it was"):
        with ports.atomic_directory(final) as tmp:
            (tmp / "data.txt").write_text("second")
    assert (final / "data.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["port"]


# -- two runs on one folder -----------------------------------------------------------------------
def test_second_pipeline_run_on_a_busy_folder_is_refused(work, tmp_path):
    pipeline = tmp_path / "pipe.yaml"
    pipeline.write_text(yaml.safe_dump({"nodes": [{"id": "init", "module": "init-image-transformation"}]}))
    out = tmp_path / "run"
    out.mkdir()
    with run_lock(out):  # a run in progress
        refused = cli("run", str(pipeline), "--out", str(out))
        with pytest.raises(errors.FailedToCompleteOperationError, match="Another pipeline run"):
            Pipeline.load(pipeline).run(out)
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error 0039 FailedToCompleteOperation: Another pipeline run (pid ")
    assert "Hint: Wait for it to finish" in refused.stderr
    assert not (out / "init").exists()  # the refused runs wrote nothing
    assert Pipeline.load(pipeline).run(out)["nodes"][0]["status"] == "ran"  # free again


# -- a model changed after training ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["_model.pth", "_config.json", "_id_to_class.json", "_transforms.json"])
def test_model_changed_after_training_is_refused(work, tmp_path, name):
    import shutil

    from visionblocks.learn import models

    folder = tmp_path / "model"
    shutil.copytree(work["model"], folder)
    data = bytearray((folder / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(errors.InvalidModelDirectoryError, match=f"{name} was changed after the model was saved"):
        models.load_trained(folder)


def test_pickled_weights_are_refused_in_visionblocks_words(work, tmp_path):
    """Regression: the 0159 message carried torch's advice to load with weights_only=False. Here the
    checksum is even recomputed, as someone replacing the file on purpose would."""
    import shutil

    import torch

    from visionblocks.learn import models

    folder = tmp_path / "model"
    shutil.copytree(work["model"], folder)
    torch.save({"payload": Path("."), "weights": torch.zeros(1)}, folder / "_model.pth")  # a non-tensor object
    meta = ports.read_meta(folder)
    meta["sha256"]["_model.pth"] = models.file_sha256(folder / "_model.pth")
    ports.write_meta(folder, meta.pop("type"), **meta)
    with pytest.raises(errors.InvalidModelDirectoryError, match="never runs code from a model file") as caught:
        vb.run_module("score-image-model", {"trained_model": folder, "dataset": work["few_images"]}, out=tmp_path / "out")
    assert caught.value.one_line().startswith("Error 0159 InvalidModelDirectory: ")
    assert "weights_only" not in caught.value.one_line() and "torch.load" not in caught.value.one_line()


# -- user mistakes on the command line ------------------------------------------------------------
def test_unknown_module_is_a_user_error(tmp_path):
    result = cli("module", "run", "no-such-module", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("Error 0008 NotInRangeValue: unknown module 'no-such-module'")
    assert "Hint: Run 'visionblocks modules'" in result.stderr


def test_out_naming_a_file_is_a_user_error(tmp_path):
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    pipeline = tmp_path / "pipe.yaml"
    pipeline.write_text(yaml.safe_dump({"nodes": [{"id": "init", "module": "init-image-transformation"}]}))
    for args in (["module", "run", "init-image-transformation", "--out", str(existing)],
                 ["run", str(pipeline), "--out", str(existing)],
                 ["module", "run", "init-image-transformation", "--out", str(existing / "below")]):
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("Error 0046 InvalidPathForDirectoryCreation: The output folder "), result.stderr
        assert "Hint: " in result.stderr
    assert existing.read_text() == "keep me"
