"""The studio's API (no browser): the palette and forms from the ModuleSpecs in every language, a
plugin's module with no studio code, parameter and connection checks with the designer's codes,
files opened and saved exactly, runs in a worker process with their events, cancel, explain,
output previews, the key, the body limit, the page's words in five languages, and the
``studio`` command's address line. Runs use the toy plugin (tables, no torch), so they are quick.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from plugin_helpers import install_fake_dist
from service_helpers import start as start_server
from fastapi.testclient import TestClient

from visionblocks import errors
from visionblocks.docs.i18n import Translator
from visionblocks.messages import LANGUAGES
from visionblocks.pipeline import Pipeline
from visionblocks.studio import document, ui
from visionblocks.studio.app import create_app
from visionblocks.studio.settings import StudioSettings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits-pipeline.yaml"
RUN_WAIT_S = 120  # bound on waiting for a worker (never asserted on)

# A plugin whose module waits, so a run can be cancelled while it is going.
WAIT_PLUGIN = '''
import time
import pandas as pd
import visionblocks
from visionblocks import ports
from visionblocks.dataframe import write_dataframe
from visionblocks.spec import ModuleSpec, Param, Port


def _wait(ctx):
    time.sleep(ctx.params["seconds"])
    write_dataframe(ctx.outputs["table"], pd.DataFrame({"value": [1]}))


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(ModuleSpec(id="toy-wait", name="Toy Wait", category="Toys", summary="Waits.", description="Waits.",
                        outputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),),
                        params=(Param("seconds", "float", "Seconds", "How long.", default=60.0),), run=_wait))
'''

TOY_PIPELINE = """\
# Two toy nodes.
name: toys
nodes:
  - id: source
    module: toy-source
    params: {value: 5, rows: 4}
  - id: add
    module: toy-add
    params: {add: 2.5}
edges:
  - source.table -> add.table
"""


@pytest.fixture
def plugins(toy_plugin, tmp_path, monkeypatch):
    """The toy plugin and the waiting one, installed as third-party packages (seen by the worker too)."""
    source = tmp_path / "wait_plugin.py"
    source.write_text(WAIT_PLUGIN, encoding="utf-8")
    install_fake_dist(toy_plugin, source, dist="wait-plugin", ep_name="wait")
    yield
    sys.modules.pop("wait_plugin", None)


def _client(tmp_path, pipeline_text=TOY_PIPELINE, **options) -> TestClient:
    path = tmp_path / "toys.yaml"
    path.write_text(pipeline_text, encoding="utf-8")
    return TestClient(create_app(StudioSettings(pipeline=path, out=tmp_path / "run", **options)),
                      base_url="http://127.0.0.1")


def _wait_for_run(client) -> list[dict]:
    runs = client.app.state.studio.runs
    deadline = time.monotonic() + RUN_WAIT_S
    while runs.current.state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(runs.current.events)


def _states(events) -> dict[str, str]:
    return {e["id"]: e["state"] for e in events if e["event"] == "node"}


# -- the palette and the forms -------------------------------------------------------------------
def test_modules_come_from_the_specs_in_each_language_with_a_plugin_module(plugins, tmp_path):
    with _client(tmp_path) as client:
        english = {m["id"]: m for m in client.get("/api/modules", params={"lang": "en"}).json()["modules"]}
        spanish = client.get("/api/modules", params={"lang": "es"}).json()
    toy = english["toy-source"]
    assert (toy["name"], toy["category"], toy["plugin"]) == ("Toy Source", "Toys", "toy")
    rows = next(p for p in toy["params"] if p["name"] == "rows")
    assert (rows["type"], rows["default"], rows["min"], rows["max"], rows["range"]) == ("int", 3, 1, 100, "[1, 100]")
    assert toy["outputs"] == [{"name": "table", "type": "DataFrameDirectory", "label": "Table", "description": "",
                               "optional": False}]
    split = {m["id"]: m for m in spanish["modules"]}["split-image-directory"]
    es = Translator("es")
    assert split["name"] == es("split-image-directory.name", "Split Image Directory") != "Split Image Directory"
    assert split["category"] in spanish["categories"]
    assert split["reference"] == "http://127.0.0.1:8001/es/modules/split-image-directory/"
    init = english["init-image-transformation"]
    assert any(p["enabled_by"] for p in init["params"])  # Size only with Resize, and so on
    mode = next(p for p in english["apply-image-transformation"]["params"] if p["name"] == "mode")
    assert {c["value"] for c in mode["choices"]} == {"For training", "For inference"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_out_of_range_value_is_0008_in_the_language(lang, tmp_path):
    with _client(tmp_path) as client:
        answer = client.post("/api/params/check", json={"module": "split-image-directory", "param": "fraction",
                                                        "value": 1.5, "lang": lang}).json()
    assert answer["ok"] is False
    assert (answer["error"]["code"], answer["error"]["name"]) == ("0008", "NotInRangeValue")
    assert answer["error"]["message"] == Translator(lang).error_message(errors.NotInRangeValueError)
    assert "fraction" in answer["error"]["detail"]


def test_parameter_checks_answer_each_code(tmp_path):
    def check(param, value, module="split-image-directory"):
        return client.post("/api/params/check", json={"module": module, "param": param, "value": value}).json()

    with _client(tmp_path) as client:
        assert check("fraction", 0.5) == {"ok": True, "error": None}
        assert check("fraction", "half")["error"]["code"] == "0002"
        assert check("fraction", "")["error"]["code"] == "0003"  # required
        assert check("epochs", 0, "train-pytorch-model")["error"]["code"] == "0004"  # epochs > 0
        unknown = client.post("/api/params/check", json={"module": "no-such-module", "param": "x", "value": 1})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "0008"


def test_a_connection_between_mismatched_types_is_refused_with_the_reason(tmp_path):
    body = {"source_module": "resnet", "source_port": "untrained_model", "target_module": "split-image-directory",
            "target_port": "input_image_directory", "lang": "es"}
    with _client(tmp_path) as client:
        refused = client.post("/api/connection", json=body).json()
        fitting = client.post("/api/connection", json={**body, "target_module": "train-pytorch-model",
                                                       "target_port": "untrained_model"}).json()
        no_port = client.post("/api/connection", json={**body, "source_port": "nope"})
    assert refused["ok"] is False
    assert refused["reason"] == ui.text("es", "connection.mismatch", output="Modelo no entrenado",
                                        source_type="UntrainedModelDirectory",
                                        input="Directorio de imágenes de entrada", target_type="ImageDirectory")
    assert fitting == {"ok": True, "reason": "", "source_type": "UntrainedModelDirectory",
                       "target_type": "UntrainedModelDirectory"}
    assert no_port.status_code == 400 and no_port.json()["error"]["code"] == "0008"


# -- files ---------------------------------------------------------------------------------------
def test_the_shipped_pipeline_round_trips_byte_for_byte(tmp_path):
    path = tmp_path / "digits-pipeline.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    with _client(tmp_path) as client:
        opened = client.post("/api/pipeline/open", json={"path": str(path)}).json()
        assert [n["id"] for n in opened["nodes"]][:2] == ["convert", "split"] and len(opened["edges"]) == 10
        opened["layout"] = {"convert": {"x": 10, "y": 20}}
        saved = client.post("/api/pipeline/save", json={"document": opened}).json()
    assert path.read_bytes() == EXAMPLE.read_bytes()  # comments and all
    assert json.loads(Path(saved["layout_path"]).read_text()) == {"convert": {"x": 10.0, "y": 20.0}}
    assert Pipeline.load(path).options == Pipeline.load(EXAMPLE).options


def test_a_changed_pipeline_differs_only_where_it_was_changed(tmp_path):
    path = tmp_path / "digits-pipeline.yaml"
    path.write_bytes(EXAMPLE.read_bytes())
    doc = document.load(path)
    next(n for n in doc["nodes"] if n["id"] == "train")["params"]["epochs"] = 2
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "evaluate"]
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "evaluate"]
    document.save(path, doc)
    before, after = yaml.safe_load(EXAMPLE.read_text()), yaml.safe_load(path.read_text())
    before["nodes"] = [n for n in before["nodes"] if n["id"] != "evaluate"]
    before["nodes"][6]["params"]["epochs"] = 2
    before["edges"] = before["edges"][:-1]
    assert after == before
    assert path.read_text().startswith("# The main job:")  # the comment block at the top is kept
    assert "    params: {fraction: 0.8, random_seed: 0, stratified: true}\n" in path.read_text()
    assert document.load(path)["nodes"] == doc["nodes"]


def test_a_draft_is_saved_but_a_broken_graph_is_not(tmp_path):
    with _client(tmp_path) as client:
        doc = client.get("/api/pipeline").json()
        doc["nodes"][1]["params"]["add"] = -1  # out of range: a draft to finish later is still saved
        assert client.post("/api/pipeline/save", json={"document": doc}).status_code == 200
        assert yaml.safe_load((tmp_path / "toys.yaml").read_text())["nodes"][1]["params"] == {"add": -1}
        before = (tmp_path / "toys.yaml").read_text()
        doc["edges"].append({"source": "ghost", "source_port": "table", "target": "add", "target_port": "table"})
        ghost = client.post("/api/pipeline/save", json={"document": doc})
        doc["edges"].pop()
        doc["nodes"].append(doc["nodes"][0])
        twice = client.post("/api/pipeline/save", json={"document": doc})
    for answer in (ghost, twice):
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "0039"
    assert (tmp_path / "toys.yaml").read_text() == before


def test_bad_files_and_bodies_get_designer_codes_not_5xx(tmp_path):
    (tmp_path / "broken.yaml").write_text("nodes: [", encoding="utf-8")
    with _client(tmp_path, max_body_bytes=2000) as client:
        broken = client.post("/api/pipeline/open", json={"path": str(tmp_path / "broken.yaml")})
        missing = client.post("/api/pipeline/open", json={"path": str(tmp_path / "nothing.yaml")})
        shapeless = client.post("/api/run", json={"document": {"nodes": "x"}})
        huge = client.post("/api/pipeline/save", content=b"{" + b" " * 5000 + b"}",
                           headers={"Content-Type": "application/json"})
        escape = client.get("/api/preview/../etc")
        outside = client.get("/api/file/add/table/..%2F..%2Ftoys.yaml")
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, f"{errors.FileParsingFailedError.code:04d}")
    assert missing.status_code == 400
    assert (shapeless.status_code, shapeless.json()["error"]["code"]) == (400, "0002")
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "0007")
    assert escape.status_code in (400, 404) and outside.status_code == 400


# -- running -------------------------------------------------------------------------------------
def test_a_run_in_the_worker_reports_each_node_then_reuses_and_explains(plugins, tmp_path):
    with _client(tmp_path, language="ru") as client:
        doc = client.get("/api/pipeline").json()
        started = client.post("/api/run", json={"document": doc, "lang": "ru"}).json()
        assert started["order"] == ["source", "add"]
        events = _wait_for_run(client)
        assert events[-1] == {"event": "run", "state": "done", "run": 1}
        assert [(e["id"], e["state"]) for e in events if e["event"] == "node"] == [
            ("source", "waiting"), ("add", "waiting"), ("source", "running"), ("source", "done"),
            ("add", "running"), ("add", "done")]
        preview = client.get("/api/preview/add/table").json()
        assert preview["type"] == "DataFrameDirectory" and preview["rows"] == [[7.5]] * 4
        assert preview["columns"] == [{"name": "value", "dtype": "float64"}]

        explained = client.post("/api/explain", json={"document": doc}).json()["decisions"]
        assert [d["status"] for d in explained] == ["reuse", "reuse"]
        doc["nodes"][1]["params"]["add"] = 1.0
        explained = client.post("/api/explain", json={"document": doc}).json()["decisions"]
        assert explained[1]["status"] == "rerun" and explained[1]["reasons"][0]["kind"] == "param_changed"

        client.post("/api/run", json={"document": doc})
        events = _wait_for_run(client)
        assert _states(events) == {"source": "reused", "add": "done"}
        # A page that connects now gets the run so far (server-sent events; the stream stays open).
        with client.stream("GET", "/api/run/events") as stream:
            first = next(line for line in stream.iter_lines() if line.startswith("data: "))
        assert json.loads(first[6:]) == {"event": "run", "state": "running", "run": 2}


def test_a_failed_node_says_its_code_and_a_run_can_be_cancelled(plugins, tmp_path):
    with _client(tmp_path) as client:
        doc = client.get("/api/pipeline").json()
        doc["nodes"][0]["params"]["rows"] = 1000  # past the range: refused before anything runs
        refused = client.post("/api/run", json={"document": doc})
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "0008")

        waiting = {"name": "wait", "nodes": [{"id": "wait", "module": "toy-wait", "params": {"seconds": 120}}]}
        client.post("/api/run", json={"document": waiting})
        runs = client.app.state.studio.runs
        deadline = time.monotonic() + RUN_WAIT_S
        while _states(runs.current.events).get("wait") != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        busy = client.post("/api/run", json={"document": waiting})
        assert (busy.status_code, busy.json()["error"]["code"]) == (409, "0039")
        assert client.post("/api/run/cancel").json() == {"cancelled": True}
        events = _wait_for_run(client)
    assert events[-1]["state"] == "cancelled" and _states(events) == {"wait": "failed"}
    assert runs.current.process.poll() is not None  # the worker is gone


def test_a_node_that_fails_while_running_reports_code_and_hint(plugins, tmp_path):
    with _client(tmp_path) as client:
        doc = {"name": "bad", "nodes": [{"id": "convert", "module": "convert-to-image-directory",
                                         "inputs": {"input_dataset": str(tmp_path)}}]}
        (tmp_path / "notes.txt").write_text("no image here", encoding="utf-8")
        client.post("/api/run", json={"document": doc})
        events = _wait_for_run(client)
    failed = next(e for e in events if e["event"] == "node" and e["state"] == "failed")
    assert failed["id"] == "convert" and re.fullmatch(r"\d{4}", failed["error"]["code"])
    assert failed["error"]["detail"]
    assert events[-1]["state"] == "failed" and events[-1]["error"]["code"] == failed["error"]["code"]


# -- the key, the page's words, the command ------------------------------------------------------
def test_on_loopback_only_its_own_host_names_are_answered(tmp_path):
    with _client(tmp_path) as client:
        assert client.get("/api/session", headers={"Host": "localhost:8765"}).status_code == 200
        assert client.get("/api/session", headers={"Host": "attacker.example:8765"}).status_code == 400


def test_the_key_is_required_as_a_header_or_the_page_cookie(tmp_path):
    with _client(tmp_path, key="s3cret") as client:
        assert client.get("/api/session").status_code == 401
        assert client.get("/api/session", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/session", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        page = client.get("/", params={"key": "s3cret"})
        assert page.status_code == 200 and "visionblocks_studio_key" in page.headers["set-cookie"]
        assert client.get("/api/modules").status_code == 200  # the cookie now opens the API


def test_the_page_words_exist_in_every_language_with_their_placeholders():
    english = ui.strings("en")
    for lang in LANGUAGES[1:]:
        table = json.loads((ui.FOLDER / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(table) == set(json.loads((ui.FOLDER / "en.json").read_text(encoding="utf-8"))), lang
        for key, text in table.items():
            assert text.strip(), (lang, key)
            assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", english[key])), (lang, key)
    assert ui.strings("es")["metric.Overall_Accuracy"] == "Exactitud global"


def test_the_built_page_is_served_without_any_cdn(tmp_path):
    static = REPO / "core" / "studio" / "static"
    if not (static / "index.html").is_file():
        pytest.fail("The studio page is not built: run `make setup` (npm ci && npm run build in studio/frontend).")
    with _client(tmp_path) as client:
        page = client.get("/").text
        scripts = re.findall(r'src="([^"]+)"', page)
        assert scripts and all(src.startswith("./assets/") for src in scripts)
        assert client.get(scripts[0][1:]).status_code == 200
    bundle = "".join(p.read_text(encoding="utf-8") for p in (static / "assets").glob("*.js"))
    assert "@xyflow" in bundle or "react-flow" in bundle
    assert not re.search(r"https?://(cdn|unpkg|fonts\.googleapis)", bundle + page)


def test_the_studio_command_prints_its_address_and_serves(tmp_path):
    path = tmp_path / "toys.yaml"
    path.write_text(TOY_PIPELINE, encoding="utf-8")
    env = {**os.environ, "VISIONBLOCKS_STUDIO_KEY": ""}
    studio = start_server(["-m", "visionblocks", "studio", str(path), "--port", "0"], tmp_path / "studio.log",
                          what="studio", env=env)
    try:
        session = httpx.get(f"{studio.url}/api/session", timeout=10).json()
        assert session["pipeline"] == str(path) and session["language"] == "en"
    finally:
        studio.stop()
