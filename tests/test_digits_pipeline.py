"""The main job: examples/digits-pipeline.yaml exactly as shipped, on all 1,797 bundled digits
(what `make demo` runs; about 40 s on a 2-core CPU), so the suite checks the accuracy the README
promises and compares `auto` with `fp32` on the real held-out images."""

from pathlib import Path

import numpy as np
import pytest
import yaml

import visionblocks as vb
from visionblocks.cli import main
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.pipeline import Pipeline

PIPELINE = Path(__file__).resolve().parent.parent / "examples" / "digits-pipeline.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("digits-pipeline")
    data = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data["nodes"]}
    nodes["convert"]["inputs"]["input_dataset"] = str(write_digits(work / "digits"))
    log = Pipeline.from_dict(data, base_dir=PIPELINE.parent).run(work / "run")
    return work / "run", log


def test_the_pipeline_runs_every_module_of_the_main_job(run):
    _, log = run
    assert [node["module"] for node in log["nodes"]][-3:] == ["train-pytorch-model", "score-image-model",
                                                             "evaluate-model"]
    assert {node["status"] for node in log["nodes"]} == {"ran"}


def test_held_out_accuracy_and_report(run, capsys):
    out, _ = run
    results = out / "evaluate" / "evaluation_results"
    metrics = read_dataframe(results).iloc[0]
    assert metrics["Images"] == 360  # 20 % of 1,797, rounded up
    assert metrics["Overall_Accuracy"] >= 0.95
    assert {p.name for p in results.glob("*.png")} == {"confusion_matrix.png", "roc_curves.png",
                                                        "precision_recall_curves.png"}
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Overall_Accuracy" in printed and str((results / "report.html").resolve()) in printed


def test_precision_auto_agrees_with_fp32(run, tmp_path):
    """Scored Labels under `auto` (what the pipeline used) and `fp32` agree on >= 99.5% of the images."""
    out, _ = run
    fp32 = vb.run_module("score-image-model", params={"precision": "fp32"}, out=tmp_path, inputs={
        "trained_model": out / "train" / "trained_model", "dataset": out / "apply_test" / "output_image_directory"})
    auto_labels = read_dataframe(out / "score" / "scored_dataset")["Scored Labels"].to_numpy()
    fp32_labels = read_dataframe(fp32.outputs["scored_dataset"])["Scored Labels"].to_numpy()
    assert np.mean(auto_labels == fp32_labels) >= 0.995
