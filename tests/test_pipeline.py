import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from visionblocks import errors
from visionblocks.dataframe import read_dataframe
from visionblocks.params import validate_params
from visionblocks.pipeline import Pipeline


def _pipeline(tmp_path: Path, add=2.0, value=1, edges=None, extra_nodes=()) -> Path:
    data = {
        "name": "toy",
        "nodes": [
            {"id": "src", "module": "toy-source", "params": {"value": value}},
            {"id": "plus", "module": "toy-add", "params": {"add": add}},
            {"id": "plus2", "module": "toy-add", "params": {"add": 10}},
            *extra_nodes,
        ],
        "edges": edges if edges is not None else ["src.table -> plus.table", "plus.table -> plus2.table"],
    }
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _statuses(log):
    return {n["id"]: n["status"] for n in log["nodes"]}


def test_runs_in_order_and_reuses_cache(toy_plugin, tmp_path):
    out = tmp_path / "run"
    log = Pipeline.load(_pipeline(tmp_path)).run(out)
    assert _statuses(log) == {"src": "ran", "plus": "ran", "plus2": "ran"}
    assert read_dataframe(out / "plus2" / "table")["value"].tolist() == [13.0] * 3
    assert json.loads((out / "run_log.json").read_text())["nodes"][0]["seconds"] >= 0

    again = Pipeline.load(_pipeline(tmp_path)).run(out)
    assert set(_statuses(again).values()) == {"reused"}

    changed = Pipeline.load(_pipeline(tmp_path, add=5.0)).run(out)
    assert _statuses(changed) == {"src": "reused", "plus": "ran", "plus2": "ran"}
    assert read_dataframe(out / "plus2" / "table")["value"].tolist() == [16.0] * 3

    forced = Pipeline.load(_pipeline(tmp_path, add=5.0)).run(out, force=True)
    assert set(_statuses(forced).values()) == {"ran"}


def _refused(tmp_path, path, match):
    out = tmp_path / "never"
    with pytest.raises(errors.ModuleError, match=match) as info:
        Pipeline.load(path).run(out)
    assert not (out / "src").exists(), "nothing may run before validation passes"
    return info.value


def test_type_mismatch_is_refused_before_running(toy_plugin, tmp_path):
    path = _pipeline(tmp_path, edges=["src.table -> eat.images"],
                     extra_nodes=[{"id": "eat", "module": "toy-eat-images"}])
    _refused(tmp_path, path, r"type mismatch.*'src' port 'table' gives a DataFrameDirectory.*'eat' port 'images'")


def test_cycle_is_refused(toy_plugin, tmp_path):
    path = _pipeline(tmp_path, edges=["src.table -> plus.table", "plus.table -> plus2.table", "plus2.table -> plus.table"])
    # plus.table connected twice is found first; build a real cycle without double connection:
    data = yaml.safe_load(path.read_text())
    data["nodes"].append({"id": "plus3", "module": "toy-add"})
    data["edges"] = ["plus3.table -> plus.table", "plus.table -> plus2.table", "plus2.table -> plus3.table"]
    path.write_text(yaml.safe_dump(data))
    _refused(tmp_path, path, r"cycle: .*plus")


def test_bad_parameter_names_the_node(toy_plugin, tmp_path):
    exc = _refused(tmp_path, _pipeline(tmp_path, add=-1), r"Node 'plus'.*'add'.*greater than 0")
    assert exc.code == 4


def test_missing_input_and_unknown_port(toy_plugin, tmp_path):
    _refused(tmp_path, _pipeline(tmp_path, edges=["src.table -> plus.table"]),
             r"Node 'plus2' \(toy-add\): required input port 'table'")
    _refused(tmp_path, _pipeline(tmp_path, edges=["src.nope -> plus.table", "plus.table -> plus2.table"]),
             r"node 'src' has no output port 'nope' \(known: table\)\.$")
    _refused(tmp_path, _pipeline(tmp_path, edges=["src.table -> plus.nope", "plus.table -> plus2.table"]),
             r"node 'plus' has no input port 'nope' \(known: table\)\.$")


@pytest.mark.parametrize("change, match", [
    ({"nodes+": [{"id": "plus", "module": "toy-add"}]}, r"^Node id 'plus' is used twice\.$"),
    ({"edges": ["src.table -> ghost.table", "plus.table -> plus2.table"]},
     r"^Edge 'src.table -> ghost.table' names unknown node 'ghost'\.$"),
    ({"edges": ["src.table -> plus.table", "src.table -> plus.table", "plus.table -> plus2.table"]},
     r"^Node 'plus' port 'table' is connected twice\.$"),
    ({"inputs": {"plus": {"table": "."}}}, r"^Node 'plus' port 'table' is connected twice\.$"),
    ({"inputs": {"src": {"extra": "."}}},
     r"^Node 'src': module 'toy-source' has no input port 'extra' \(known: none\)\.$"),
])
def test_structure_errors_are_pipeline_errors_with_code_0039(toy_plugin, tmp_path, change, match):
    path = _pipeline(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["nodes"] += change.get("nodes+", [])
    data["edges"] = change.get("edges", data["edges"])
    for node in data["nodes"]:
        node["inputs"] = change.get("inputs", {}).get(node["id"], {})
    path.write_text(yaml.safe_dump(data))
    exc = _refused(tmp_path, path, match)
    assert type(exc) is errors.PipelineError
    assert exc.one_line().startswith("Error 0039 FailedToCompleteOperation: ")


def test_missing_external_input_is_null_or_empty(toy_plugin, tmp_path):
    path = _pipeline(tmp_path, edges=["src.table -> plus.table"],
                     extra_nodes=[{"id": "more", "module": "toy-add", "inputs": {"table": "no/such/folder"}}])
    data = yaml.safe_load(path.read_text())
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "plus2"]
    path.write_text(yaml.safe_dump(data))
    exc = _refused(tmp_path, path, r"^Node 'more' port 'table': .*no/such/folder does not exist\.$")
    assert type(exc) is errors.NullOrEmptyError


def test_validate_returns_an_order_that_runs_sources_first(toy_plugin, tmp_path):
    path = _pipeline(tmp_path, edges=["plus.table -> plus2.table", "src.table -> plus.table"])
    assert Pipeline.load(path).validate() == ["src", "plus", "plus2"]


def test_pipeline_error_is_its_own_class_with_the_designer_code_0039():
    """Python code can tell a refused pipeline from a failed operation; users see 0039 for both."""
    assert errors.PipelineError.__name__ == "PipelineError"
    assert issubclass(errors.PipelineError, errors.FailedToCompleteOperationError)
    assert (errors.PipelineError.code, errors.PipelineError.name) == (39, "FailedToCompleteOperation")
    assert errors.PipelineError().to_error_info()["Exception"]["ErrorId"] == "FailedToCompleteOperation"
    assert errors.by_code(39) is errors.FailedToCompleteOperationError
    assert errors.by_code(1000) is errors.LibraryError


def test_unknown_module(toy_plugin, tmp_path):
    path = _pipeline(tmp_path, extra_nodes=[{"id": "x", "module": "no-such-module"}])
    _refused(tmp_path, path, r"Node 'x': unknown module 'no-such-module'")


def test_cli_run_and_one_line_errors(toy_plugin, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "visionblocks.cli", "run", str(_pipeline(tmp_path)),
                         "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "plus2" in ok.stdout and "ran" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "visionblocks.cli", "run", str(_pipeline(tmp_path, add=0)),
                          "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("Error 0004 GreaterThan: Node 'plus'")
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_module_run_writes_error_info(toy_plugin, tmp_path):
    cmd = [sys.executable, "-m", "visionblocks.cli", "module", "run", "toy-source", "--param", "rows=0",
           "--out", str(tmp_path / "m")]
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode == 2 and "0008 NotInRangeValue" in bad.stderr
    info = json.loads((tmp_path / "m" / "error_info.json").read_text())["Exception"]
    assert info["ErrorCode"] == 8 and info["ErrorId"] == "NotInRangeValue"
    good = subprocess.run(cmd[:-4] + ["--param", "rows=2", "--out", str(tmp_path / "m")], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert pd.read_parquet(tmp_path / "m" / "table" / "data.parquet")["value"].tolist() == [1, 1]
    assert not (tmp_path / "m" / "error_info.json").exists()


def test_a_run_validates_each_nodes_parameters_once(toy_plugin, tmp_path, monkeypatch):
    """Validation before the run checks every node's parameters; the cache key, the run hooks and
    the module get those checked values instead of checking them again."""
    from visionblocks import pipeline as pipeline_module, runner

    checked = []

    def counting(spec, given):
        checked.append(spec.id)
        return validate_params(spec, given)

    monkeypatch.setattr(pipeline_module, "validate_params", counting)
    monkeypatch.setattr(runner, "validate_params", counting)
    log = Pipeline.load(_pipeline(tmp_path)).run(tmp_path / "run")
    assert _statuses(log) == {"src": "ran", "plus": "ran", "plus2": "ran"}
    assert sorted(checked) == ["toy-add", "toy-add", "toy-source"]
    record = json.loads((tmp_path / "run" / "plus" / "_node.json").read_text())
    assert record["params"] == {"add": 2.0}
