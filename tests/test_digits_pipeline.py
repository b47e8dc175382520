"""The main job: examples/digits-pipeline.yaml exactly as shipped, on all 1,797 bundled digits
(what `make demo` runs; about 40 s on a 2-core CPU), so the suite checks the accuracy the README
promises and compares `bf16` (asked for explicitly, so on any CPU) and `auto` with `fp32` on the
real held-out images."""

import numpy as np
import pytest

from pipeline_helpers import run_digits_pipeline, score_held_out

from visionblocks.cli import main
from visionblocks.dataframe import read_dataframe

pytestmark = pytest.mark.slow  # trains on all 1,797 digits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_digits_pipeline(tmp_path_factory.mktemp("digits-pipeline"))


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


@pytest.fixture(scope="module")
def fp32_scores(run, tmp_path_factory):
    return score_held_out(run[0], tmp_path_factory.mktemp("fp32"), "fp32")


def _probabilities(frame):
    return frame[[c for c in frame.columns if c.startswith("Scored Probabilities_")]].to_numpy()


def test_bf16_agrees_with_fp32_on_any_cpu(run, fp32_scores, tmp_path):
    """precision=bf16 asked for explicitly runs in bf16 on every CPU (emulated where the CPU has no
    native bf16), so this compares the two number formats wherever the suite runs: Scored Labels
    agree on >= 99.5 % of the 360 held-out digits. The probabilities differ (bf16 keeps 8 bits of
    mantissa): had bf16 been ignored, they would be fp32's to the last bit."""
    bf16 = score_held_out(run[0], tmp_path, "bf16")
    assert len(bf16) == len(fp32_scores) == 360
    assert np.mean(bf16["Scored Labels"].to_numpy() == fp32_scores["Scored Labels"].to_numpy()) >= 0.995
    difference = np.abs(_probabilities(bf16) - _probabilities(fp32_scores)).max()
    assert 0 < difference < 0.05, difference


def test_precision_auto_agrees_with_fp32(run, fp32_scores):
    """Scored Labels under `auto` (what the pipeline used: bf16 or fp32 by this CPU's flags; what
    it resolves to on each kind of CPU is tested in test_models.py) and `fp32` agree on >= 99.5%."""
    out, _ = run
    auto_labels = read_dataframe(out / "score" / "scored_dataset")["Scored Labels"].to_numpy()
    assert np.mean(auto_labels == fp32_scores["Scored Labels"].to_numpy()) >= 0.995
