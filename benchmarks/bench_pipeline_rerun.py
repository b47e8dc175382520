"""A rerun of an unchanged pipeline against its first run, and what ``--explain`` costs.

Runs examples/digits-pipeline.yaml as shipped (all 1,797 digits, 8 epochs) into a fresh run
folder, then again unchanged (every node reused), then ``explain()`` on the same folder, and
prints the three durations and the ratios. The reuse path hashes the external inputs (the raw
digits) and reads each node's record; it never rehashes a cached output.

    .venv/bin/python benchmarks/bench_pipeline_rerun.py
    .venv/bin/python benchmarks/bench_pipeline_rerun.py --per-class 20 --epochs 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

from visionblocks.datasets import write_digits
from visionblocks.pipeline import Pipeline

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits-pipeline.yaml"


def _pipeline(work: Path, per_class: int | None, epochs: int | None) -> Pipeline:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data["nodes"]}
    nodes["convert"]["inputs"]["input_dataset"] = str(write_digits(work / "digits", per_class=per_class))
    if epochs:
        nodes["train"]["params"]["epochs"] = epochs
    return Pipeline.from_dict(data, base_dir=EXAMPLE.parent)


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=None, help="digits per class (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the pipeline's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pipeline = _pipeline(work, args.per_class, args.epochs)
        first, first_s = _timed(lambda: pipeline.run(work / "run"))
        again, again_s = _timed(lambda: pipeline.run(work / "run"))
        decisions, explain_s = _timed(lambda: pipeline.explain(work / "run"))
    assert {node["status"] for node in again["nodes"]} == {"reused"}, again
    assert all(decision.reuse for decision in decisions)
    print(json.dumps({
        "first_run_s": round(first_s, 3), "unchanged_rerun_s": round(again_s, 3), "explain_s": round(explain_s, 3),
        "rerun_over_first": round(again_s / first_s, 5), "explain_over_first": round(explain_s / first_s, 5),
        "nodes_first_run_s": {node["id"]: node["seconds"] for node in first["nodes"]},
    }, indent=2))


if __name__ == "__main__":
    main()
