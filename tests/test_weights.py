"""Pretrained weights fetched safely: a local HTTP server on 127.0.0.1 plays torchvision's download
site and a mirror (no test reaches the internet).

The served file is a resnet18 state dict from random weights; the test names it the way torchvision
names its files, with the start of its own SHA-256, and points resnet18's published address at the
local server.
"""

import hashlib
import http.server
import io
import json
import threading

import pytest
import torch
import torchvision

import visionblocks as vb
from visionblocks import cli, errors
from visionblocks.learn import models, weights


@pytest.fixture(scope="module")
def state():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).state_dict()


@pytest.fixture(scope="module")
def payload(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    return data, f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/<behaviour>/<file name>``: good, bad (other bytes), truncated, error (500); else 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        data, name = self.server.payload
        behaviour, _, file_name = self.path.strip("/").partition("/")
        if file_name != name or behaviour not in ("good", "bad", "truncated", "error"):
            self.send_error(404)
        elif behaviour == "error":
            self.send_error(500)
        else:
            body = data[::-1] if behaviour == "bad" else data
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # "truncated": the connection closes halfway through the announced length.
            self.wfile.write(body[:len(body) // 2] if behaviour == "truncated" else body)
            self.close_connection = True

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(payload):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload, httpd.requests = payload, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def base(server):
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def cache(tmp_path, monkeypatch, payload, base):
    """An empty torch hub cache, downloads on, no mirror, and resnet18 published at ``/good/`` of the server."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in (*weights.OFFLINE_ENVS, weights.MIRROR_ENV):
        monkeypatch.delenv(name, raising=False)
    published = weights.weights_file

    def weights_file(architecture):
        if architecture == "resnet18":
            return weights.WeightsFile("resnet18", f"{base}/good/{payload[1]}")
        return published(architecture)

    monkeypatch.setattr(weights, "weights_file", weights_file)
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_lands_in_the_cache_and_the_resnet_module_builds_from_it(cache, payload, state, server, tmp_path):
    data, name = payload
    result = vb.run_module("resnet", params={"model_name": "resnet18"}, out=tmp_path / "run")  # Pretrained: default true
    assert _files(cache) == [name] and (cache / name).read_bytes() == data
    assert server.requests == [f"/good/{name}"]
    model = models.build_model(models.load_untrained(result.outputs["untrained_model"]), 3)
    assert torch.equal(model.conv1.weight, state["conv1.weight"]) and model.fc.out_features == 3
    # Cached now: the next run reads the file and asks the server nothing.
    vb.run_module("resnet", params={"model_name": "resnet18"}, out=tmp_path / "run2")
    assert server.requests == [f"/good/{name}"]


@pytest.mark.parametrize("behaviour, why", [
    ("bad", "which does not start with"),
    ("truncated", "the transfer"),
    ("error", "the server answered 500"),
    ("missing", "the server answered 404"),
])
def test_failed_downloads_leave_the_cache_untouched(cache, base, behaviour, why, monkeypatch, tmp_path):
    monkeypatch.setenv(weights.MIRROR_ENV, f"{base}/{behaviour}")
    with pytest.raises(errors.CouldNotOpenFileError, match=why) as caught:
        vb.run_module("resnet", params={"model_name": "resnet18"}, out=tmp_path / "run")
    assert f"{base}/{behaviour}/resnet18-" in caught.value.message
    assert _files(cache) == []  # neither the file nor a partial one
    assert json.loads((tmp_path / "run" / "error_info.json").read_text())["Exception"]["ErrorCode"] == 48


def test_truncated_transfer_says_how_much_arrived(cache, base, payload):
    with pytest.raises(errors.CouldNotOpenFileError) as caught:
        weights.fetch("resnet18", mirror=f"{base}/truncated")
    assert "transfer" in caught.value.message and _files(cache) == []


@pytest.mark.parametrize("switch", ["VISIONBLOCKS_OFFLINE=1", "HF_HUB_OFFLINE=true"])
def test_offline_switch_refuses_and_names_the_file_and_where(cache, payload, server, switch, monkeypatch, tmp_path):
    name, value = switch.split("=")
    monkeypatch.setenv(name, value)
    with pytest.raises(errors.CouldNotOpenFileError) as caught:
        vb.run_module("resnet", params={"model_name": "resnet18"}, out=tmp_path / "run")
    text = caught.value.one_line()
    assert f"downloads are off ({switch})" in text and str(cache / payload[1]) in text
    assert "visionblocks weights fetch resnet18" in text
    assert server.requests == [] and _files(cache) == []


def test_mirror_setting_is_honoured(cache, base, payload, server, monkeypatch):
    monkeypatch.setattr(weights, "weights_file",  # the published address answers 404 ...
                        lambda arch: weights.WeightsFile(arch, f"{base}/gone/{payload[1]}"))
    monkeypatch.setenv(weights.MIRROR_ENV, f"{base}/good/")  # ... the mirror has the file
    assert models.require_pretrained_file(models.untrained_config("resnet18")) == cache / payload[1]
    assert server.requests == [f"/good/{payload[1]}"]


def test_a_local_folder_is_a_mirror_too(cache, payload, tmp_path):
    data, name = payload
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / name).write_bytes(data)
    assert weights.fetch("resnet18", mirror=str(tmp_path / "share")).read_bytes() == data
    with pytest.raises(errors.CouldNotOpenFileError, match="could not be opened"):
        weights.fetch("resnet34", mirror=str(tmp_path / "share"))
    assert _files(cache) == [name]


def test_weights_commands(cache, base, payload, capsys):
    name = payload[1]
    assert cli.main(["weights", "path", "resnet18"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / name)
    assert cli.main(["weights", "fetch", "resnet18", "--mirror", f"{base}/good"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / name)
    assert cli.main(["weights", "list", "--json"]) == 0
    rows = {row["architecture"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(weights.architectures())
    assert rows["resnet18"]["cached"] and rows["resnet18"]["file"] == name
    assert not rows["densenet121"]["cached"] and rows["densenet121"]["file"] == "densenet121-a639ec97.pth"
    assert cli.main(["weights", "fetch", "resnet34", "--mirror", f"{base}/good"]) == 2
    assert "Error 0048 CouldNotOpenFile" in capsys.readouterr().err
