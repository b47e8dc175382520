"""Explainable reruns: `visionblocks run --explain` says, before anything runs, which node is reused
and which reruns and why; the run log says the same after a real run.

The digits part runs examples/digits-pipeline.yaml reduced to 50 images of 16 px and one epoch,
then changes one parameter in the middle (Split's fraction). The toy part covers the reasons the
digits cannot show cheaply: a module version change, a missing output, byte-identical outputs
of a rerun node, a record written before input hashes were kept."""

import json
import time
from pathlib import Path

import pytest
import yaml

from visionblocks.cli import main
from visionblocks.datasets import write_digits
from visionblocks.pipeline import NODE_RECORD, Pipeline

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits-pipeline.yaml"
CHANGED = "split"
# Each node after Split, with the input ports fed (directly) by a node that reruns.
DOWNSTREAM = {
    "apply_train": {"input_image_directory": "split.output_image_directory1"},
    "apply_test": {"input_image_directory": "split.output_image_directory2"},
    "train": {"training_dataset": "apply_train.output_image_directory"},
    "score": {"trained_model": "train.trained_model", "dataset": "apply_test.output_image_directory"},
    "evaluate": {"scored_dataset": "score.scored_dataset"},
}
UNTOUCHED = {"convert", "init", "resnet"}


def _digits_pipeline(work: Path, fraction: float) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data["nodes"]}
    nodes["convert"]["inputs"]["input_dataset"] = "digits"
    nodes["split"]["params"]["fraction"] = fraction
    nodes["train"]["params"].update(epochs=1, batch_size=16, warmup_step_number=0)
    path = work / "digits.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time: what 'nothing written' compares."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def _kinds(reasons) -> list[str]:
    return [reason["kind"] if isinstance(reason, dict) else reason.kind for reason in reasons]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The reduced digits pipeline run once, then rerun unchanged; the two durations."""
    work = tmp_path_factory.mktemp("explain")
    write_digits(work / "digits", size=16, per_class=5)
    path = _digits_pipeline(work, fraction=0.8)
    start = time.perf_counter()
    first = Pipeline.load(path).run(work / "run")
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    again = Pipeline.load(path).run(work / "run")
    again_s = time.perf_counter() - start
    return work, first, again, (first_s, again_s)


def test_first_run_and_unchanged_rerun_say_why(digits_run, record_property):
    _, first, again, (first_s, again_s) = digits_run
    assert {node["status"] for node in first["nodes"]} == {"ran"}
    assert {tuple(_kinds(node["reasons"])) for node in first["nodes"]} == {("no_cache",)}
    assert {node["status"] for node in again["nodes"]} == {"reused"}
    assert {tuple(_kinds(node["reasons"])) for node in again["nodes"]} == {("unchanged",)}
    # Measured, not asserted (timings vary with the machine's load): reported by -rA / junit.
    record_property("rerun_over_first_run", round(again_s / first_s, 4))
    print(f"first run {first_s:.2f} s, unchanged rerun {again_s:.3f} s, ratio {again_s / first_s:.4f}")


def test_explain_names_the_changed_parameter_and_every_downstream_node(digits_run, capsys):
    work, *_ = digits_run
    path = _digits_pipeline(work, fraction=0.7)
    before = _tree(work / "run")

    decisions = {d.node: d for d in Pipeline.load(path).explain(work / "run")}
    assert main(["run", str(path), "--out", str(work / "run"), "--explain"]) == 0
    printed = capsys.readouterr().out
    assert _tree(work / "run") == before, "--explain must run and write nothing"

    split = decisions[CHANGED]
    assert split.status == "rerun"
    assert [r.as_dict() for r in split.reasons] == [{
        "kind": "param_changed", "text": "parameter 'fraction' changed: 0.8 → 0.7",
        "param": "fraction", "old": 0.8, "new": 0.7}]
    for node, fed in DOWNSTREAM.items():
        assert decisions[node].status == "rerun", node
        assert [(r.kind, r.detail["port"], r.detail["source"]) for r in decisions[node].reasons] == [
            ("upstream_reruns", port, source) for port, source in fed.items()], node
        assert all(r.text == f"input '{r.detail['port']}' comes from '{r.detail['source'].split('.')[0]}', "
                             "which reruns" for r in decisions[node].reasons)
    for node in UNTOUCHED:
        assert decisions[node].status == "reuse" and _kinds(decisions[node].reasons) == ["unchanged"], node

    lines = {line.split()[0]: line for line in printed.splitlines()[:-1]}
    assert set(lines) == set(decisions)
    assert "rerun" in lines[CHANGED] and "parameter 'fraction' changed: 0.8 → 0.7" in lines[CHANGED]
    assert "input 'scored_dataset' comes from 'score', which reruns" in lines["evaluate"]
    assert all(lines[node].split()[1] == "reuse" for node in UNTOUCHED)
    assert printed.splitlines()[-1] == f"Nothing was run: 6 of 9 nodes would rerun in {work / 'run'}."


def test_the_run_log_records_the_same_reasons(digits_run):
    work, *_ = digits_run
    path = _digits_pipeline(work, fraction=0.7)
    log = Pipeline.load(path).run(work / "run")
    assert log == json.loads((work / "run" / "run_log.json").read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in log["nodes"]}

    assert nodes[CHANGED]["status"] == "ran"
    assert nodes[CHANGED]["reasons"] == [{"kind": "param_changed", "text": "parameter 'fraction' changed: 0.8 → 0.7",
                                          "param": "fraction", "old": 0.8, "new": 0.7}]
    for node, fed in DOWNSTREAM.items():
        # After the real run the new input hashes are known: each changed input is named with its
        # source and both content hashes.
        assert nodes[node]["status"] == "ran", node
        assert [(r["kind"], r["port"], r["source"]) for r in nodes[node]["reasons"]] == [
            ("input_changed", port, source) for port, source in fed.items()], node
        assert all(r["old"] != r["new"] and r["old"][:12] in r["text"] and r["new"][:12] in r["text"]
                   for r in nodes[node]["reasons"])
    for node in UNTOUCHED:
        assert nodes[node]["status"] == "reused" and _kinds(nodes[node]["reasons"]) == ["unchanged"], node

    record = json.loads((work / "run" / CHANGED / NODE_RECORD).read_text())
    assert record["params"]["fraction"] == 0.7 and set(record["inputs"]) == {"input_image_directory"}


# -- the other reasons, on the toy plugin -----------------------------------------------------------
def _toy(tmp_path: Path, add: float = 2.0) -> Pipeline:
    return Pipeline.from_dict({
        "name": "toy",
        "nodes": [{"id": "src", "module": "toy-source"},
                  {"id": "plus", "module": "toy-add", "params": {"add": add}}],
        "edges": ["src.table -> plus.table"],
    }, base_dir=tmp_path)


def _explained(pipeline: Pipeline, out: Path, **kwargs) -> dict[str, tuple[str, list[str]]]:
    return {d.node: (d.status, [r.text for r in d.reasons]) for d in pipeline.explain(out, **kwargs)}


def test_explain_before_the_first_run_writes_nothing(toy_plugin, tmp_path):
    assert _explained(_toy(tmp_path), tmp_path / "run") == {
        "src": ("rerun", ["no cached output: the node has not run in this folder yet"]),
        "plus": ("rerun", ["no cached output: the node has not run in this folder yet"]),
    }
    assert not (tmp_path / "run").exists()


def test_force_module_version_and_missing_output(toy_plugin, tmp_path):
    out = tmp_path / "run"
    _toy(tmp_path).run(out)
    assert {status for status, _ in _explained(_toy(tmp_path), out, force=True).values()} == {"rerun"}
    assert _explained(_toy(tmp_path), out, force=True)["src"][1] == ["--force (force=True) reruns every node"]

    record_path = out / "plus" / NODE_RECORD
    record = json.loads(record_path.read_text())
    # What a record of the module's earlier version looks like: its version in the key too.
    record_path.write_text(json.dumps({**record, "version": "0", "key": "0" * 64}))
    assert _explained(_toy(tmp_path), out)["plus"] == ("rerun", ["module changed: toy-add 0 → toy-add 1"])

    (out / "plus" / "table" / "_meta.yaml").unlink()
    record_path.write_text(json.dumps(record))
    assert _explained(_toy(tmp_path), out)["plus"] == ("rerun", ["cached output 'table' is missing"])


def test_a_rerun_with_byte_identical_outputs_keeps_the_next_node(toy_plugin, tmp_path):
    out = tmp_path / "run"
    _toy(tmp_path).run(out)
    (out / "src" / "table" / "_meta.yaml").unlink()
    assert _explained(_toy(tmp_path), out) == {
        "src": ("rerun", ["cached output 'table' is missing"]),
        "plus": ("rerun", ["input 'table' comes from 'src', which reruns"]),
    }
    log = _toy(tmp_path).run(out)
    assert [(n["id"], n["status"], _kinds(n["reasons"])) for n in log["nodes"]] == [
        ("src", "ran", ["output_missing"]), ("plus", "reused", ["unchanged", "identical_input"])]
    assert log["nodes"][1]["reasons"][1]["text"] == ("input 'table' comes from 'src', which reran and made "
                                                     "byte-identical output")


def test_a_record_without_input_hashes_still_names_parameter_changes(toy_plugin, tmp_path):
    """Records written before input hashes were kept: parameters are still compared; a change that
    only the inputs can explain is reported as a changed cache key."""
    out = tmp_path / "run"
    _toy(tmp_path).run(out)
    for node in ("src", "plus"):
        path = out / node / NODE_RECORD
        record = json.loads(path.read_text())
        record.pop("inputs")
        path.write_text(json.dumps(record))
    assert _explained(_toy(tmp_path, add=3.0), out)["plus"] == ("rerun", ["parameter 'add' changed: 2.0 → 3.0"])
    assert _toy(tmp_path).run(out)["nodes"][1]["status"] == "reused"  # the cache key did not change

    (out / "src" / NODE_RECORD).write_text(json.dumps({**json.loads((out / "src" / NODE_RECORD).read_text()),
                                                       "outputs": {"table": "0" * 64}}))
    status, reasons = _explained(_toy(tmp_path), out)["plus"]
    assert status == "rerun" and reasons[0].startswith("the cache key changed")
