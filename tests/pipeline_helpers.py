"""The main job for the tests that run it whole: examples/digits-pipeline.yaml as shipped, on all
1,797 bundled digits (tests/test_digits_pipeline.py on the CPU, tests/test_cuda.py on a GPU), and
its held-out images scored again in a chosen precision."""

from __future__ import annotations

from pathlib import Path

import yaml

import visionblocks as vb
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.pipeline import Pipeline

PIPELINE = Path(__file__).resolve().parent.parent / "examples" / "digits-pipeline.yaml"


def run_digits_pipeline(work: Path, device: str | None = None) -> tuple[Path, dict]:
    """Write the digits into ``work/digits``, run the pipeline into ``work/run``; the run folder
    and the run log."""
    data = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data["nodes"]}
    nodes["convert"]["inputs"]["input_dataset"] = str(write_digits(work / "digits"))
    log = Pipeline.from_dict(data, base_dir=PIPELINE.parent).run(work / "run", device=device)
    return work / "run", log


def score_held_out(run: Path, out: Path, precision: str, device: str | None = None):
    """The run's trained model scoring its held-out images in ``precision``: the scored frame."""
    result = vb.run_module("score-image-model", params={"precision": precision}, out=out, device=device,
                           inputs={"trained_model": run / "train" / "trained_model",
                                   "dataset": run / "apply_test" / "output_image_directory"})
    return read_dataframe(result.outputs["scored_dataset"])
