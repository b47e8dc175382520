"""The web service: every request format, the key, every limit, bad inputs, micro-batching,
busy and shutdown behavior, the client, the CLI and the load test.

Servers run for real (``visionblocks serve`` in a subprocess on 127.0.0.1, a free port) and are
always stopped by their fixture. A fake slow model served through the same app holds the model
busy on purpose. Every request loop is bounded in count and time; no assertion is on timing
(benchmarks/bench_service.py measures latencies, /health's under load included).
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import TypeAdapter

import visionblocks as vb
from model_helpers import CLASSES, save_random_model
from service_helpers import SlowScorer, png_bytes, png_header_claiming, start_fake, start_serve
from visionblocks import cli, errors
from visionblocks.service import commands, problems, schemas
from visionblocks.service.app import create_app
from visionblocks.service.client import Client, ServiceError
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.imagedir import ImageDirectory
from visionblocks.service.batching import MicroBatcher, QueueFull
from visionblocks.service.formats import decode_base64, result_rows
from visionblocks.service.problems import Rejected
from visionblocks.service.settings import Batching, Limits
from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD

KEY = "test-key-9f2"
AUTH = {"Authorization": f"Bearer {KEY}"}

# A training transformation with a random op, which the service must drop (as scoring does).
TRAINING_OPS = [["Resize", 16], ["RandomHorizontalFlip", {}], ["ToTensor", {}],
                ["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}]]
MAX_IMAGES, MAX_PIXELS, MAX_BODY = 8, 64 * 64, 256 * 1024
SCORE_RESPONSE = TypeAdapter(schemas.ScoreResponse)


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The service does not care how good the model is, only that it answers what Score Image
    Model answers."""
    return save_random_model(tmp_path_factory.mktemp("service-model") / "trained_model", TRAINING_OPS)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """40 labeled 16x16 digits converted to an ImageDirectory."""
    raw = write_digits(tmp_path_factory.mktemp("service-raw"), size=16, per_class=4)
    return vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                         out=tmp_path_factory.mktemp("service-convert")).outputs["output_image_directory"]


@pytest.fixture(scope="module")
def digit_files(image_dir):
    directory = ImageDirectory.load(image_dir)
    return {entry.id: directory.path_of(entry) for entry in directory.entries}


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """The real service with a key and small limits, in fp32: under bf16 (auto on CPUs with AMX)
    the probabilities depend on which images share a batch, by up to ~1e-4."""
    s = start_serve(model_dir, tmp_path_factory.mktemp("logs") / "serve.log", "--key", KEY, "--precision", "fp32",
                    "--max-images", str(MAX_IMAGES), "--max-pixels", str(MAX_PIXELS),
                    "--max-body-mb", str(MAX_BODY / 1024 / 1024), "--max-wait-ms", "5")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


def _one_digit(digit_files) -> bytes:
    return next(iter(digit_files.values())).read_bytes()


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    return body


# -- request formats -------------------------------------------------------------------------------
def test_every_request_format_gets_the_same_rows(http, digit_files):
    data = _one_digit(digit_files)
    b64 = base64.b64encode(data).decode()
    designer = http.post("/score", json={"Inputs": {"WebServiceInput0": [{"image": b64}]}, "GlobalParameters": {}})
    assert designer.status_code == 200, designer.text
    row = designer.json()["Results"]["WebServiceOutput0"][0]
    assert list(row)[:1] == ["Scored Labels"] and row["Scored Labels"] in CLASSES
    assert [k for k in row if k.startswith("Scored Probabilities_")] == [f"Scored Probabilities_{c}" for c in CLASSES]
    assert abs(sum(row[f"Scored Probabilities_{c}"] for c in CLASSES) - 1) < 1e-9
    best = row["Scored Labels"]
    assert row["top_k"][0] == {"label": best, "probability": row[f"Scored Probabilities_{best}"]}
    assert len(row["top_k"]) == 5 and [e["probability"] for e in row["top_k"]] == sorted(
        (e["probability"] for e in row["top_k"]), reverse=True)

    # The older array; a Python client that formatted bytes sends b'...'; parameters are ignored.
    legacy = http.post("/score", json=[{"image_in_base64": f"b'{b64}'", "parameters": {"ADD_SOFTMAX": True}},
                                       {"image_in_base64": b64}])
    # The model registry's score.py rows; a data URL; URL-safe base64 without padding.
    registry = http.post("/score", json=[{"image": "data:image/png;base64," + b64},
                                         {"image": base64.urlsafe_b64encode(data).decode().rstrip("=")}])
    multipart = http.post("/score", files=[("images", ("a.png", data, "image/png")),
                                           ("images", ("b.png", data, "image/png"))])
    raw = http.post("/score", content=data, headers={"Content-Type": "image/png"})
    untyped = http.post("/score", content=data, headers={"Content-Type": ""})
    assert isinstance(legacy.json(), list) and isinstance(registry.json(), list)
    for answer in (designer, legacy, registry, multipart, raw, untyped):  # what the schema promises
        SCORE_RESPONSE.validate_python(answer.json())
    for rows in (legacy.json(), registry.json(), multipart.json()["Results"]["WebServiceOutput0"]):
        assert len(rows) == 2 and all(_same_row(r, row) for r in rows)
    for answer in (raw, untyped):
        assert list(answer.json()) == ["Results"] and _same_row(answer.json()["Results"]["WebServiceOutput0"][0], row)
    top2 = http.post("/score?top_k=2", content=data, headers={"Content-Type": "image/png"}).json()
    assert [e["label"] for e in top2["Results"]["WebServiceOutput0"][0]["top_k"]] == \
        [e["label"] for e in row["top_k"][:2]]


def _same_row(a: dict, b: dict) -> bool:
    """Equal up to float rounding: a batch of 2 may round differently from a batch of 1."""
    if list(a) != list(b) or a["Scored Labels"] != b["Scored Labels"]:
        return False
    close = all(abs(a[k] - b[k]) < 1e-6 for k in a if k.startswith("Scored Probabilities_"))
    return close and [e["label"] for e in a["top_k"]] == [e["label"] for e in b["top_k"]]


def test_health_metadata_openapi_and_try_page(server, http):
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"  # no key needed
    meta = http.get("/metadata").json()
    assert meta["classes"] == CLASSES and meta["architecture"] == "resnet18"
    assert meta["input_size"] == [3, 16, 16] and meta["version"] == vb.__version__
    assert meta["limits"]["max_images"] == MAX_IMAGES and meta["batching"]["max_batch"] == 32
    spec = httpx.get(f"{server.url}/openapi.json").json()
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "image/*"} <= set(body)
    assert "ScoredRow" in json.dumps(spec["paths"]["/score"]["post"]["responses"]["200"])
    docs = httpx.get(f"{server.url}/docs").text
    # Swagger UI from the service itself, not a CDN: the page works on a machine without internet.
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    script = httpx.get(f"{server.url}/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and 'type="file"' in page.text and "score?top_k=" in page.text
    assert server.url.startswith("http://127.0.0.1:")


# -- the key ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": KEY}])
def test_a_key_is_required(server, digit_files, headers):
    for path, method in (("/score", "post"), ("/metadata", "get"), ("/metrics", "get"), ("/metrics.json", "get")):
        response = httpx.request(method, f"{server.url}{path}", headers=headers, content=_one_digit(digit_files)
                                 if method == "post" else None)
        _error(response, 401, "2000")
        assert response.headers["WWW-Authenticate"] == "Bearer"


# -- limits ----------------------------------------------------------------------------------------
def test_body_size_limit_declared_and_streamed(server):
    big = b"\x89PNG" + bytes(MAX_BODY)
    declared = httpx.post(f"{server.url}/score", content=big, headers={**AUTH, "Content-Type": "image/png"})
    assert "limit is 262,144 bytes" in _error(declared, 413, "0007")["message"]

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(2 * MAX_BODY // 65536):
            yield bytes(65536)

    streamed = httpx.post(f"{server.url}/score", content=chunks(), headers={**AUTH, "Content-Type": "image/png"})
    _error(streamed, 413, "0007")


def test_images_per_request_limit(http, digit_files):
    data = _one_digit(digit_files)
    files = [("images", (f"{i}.png", data, "image/png")) for i in range(MAX_IMAGES + 1)]
    assert "9 images" in _error(http.post("/score", files=files), 413, "0007")["message"]
    assert http.post("/score", files=files[:MAX_IMAGES]).status_code == 200


def test_pixel_limit_is_checked_from_the_header(http):
    over = http.post("/score", content=png_bytes(Image.new("RGB", (65, 64))), headers={"Content-Type": "image/png"})
    assert "65×64" in _error(over, 413, "0127")["message"]
    # A 100,000 x 100,000 header on a few bytes: refused without decoding 30 GB of pixels.
    bomb = png_header_claiming(100_000, 100_000)
    b64 = base64.b64encode(bomb).decode()
    answer = http.post("/score", json={"Inputs": {"WebServiceInput0": [{"image": b64}]}})
    assert "Inputs.WebServiceInput0[0].image" in _error(answer, 413, "0127")["message"]
    # 1,000 x 1,000 on a few bytes: far under Pillow's own limits, so the service's header check
    # is what answers 413 (decoding first would have found a broken image: 400).
    small_bomb = http.post("/score", content=png_header_claiming(1000, 1000), headers={"Content-Type": "image/png"})
    assert "1000×1000 = 1,000,000 pixels, over the limit of 4,096" in _error(small_bomb, 413, "0127")["message"]


def test_decode_image_checks_the_header_before_decoding(monkeypatch):
    """The service's decoder refuses a header over its limit without decoding a pixel."""
    from fixtures_images import decoded_sizes
    from visionblocks.service.formats import ImageInput, decode_image

    decoded = decoded_sizes(monkeypatch)
    with pytest.raises(Rejected) as caught:
        decode_image(ImageInput("File 1 (bomb.png)", png_header_claiming(1000, 1000)), MAX_PIXELS)
    assert (caught.value.status, caught.value.error.code) == (413, 127)
    assert caught.value.error.message.startswith("File 1 (bomb.png) is 1000×1000 = 1,000,000 pixels")
    assert decoded == []
    assert decode_image(ImageInput("File 2", png_bytes(Image.new("RGB", (64, 64)))), MAX_PIXELS).size == (64, 64)
    assert set(decoded) == {(64, 64)}  # the recorder sees a real decode


# -- bad input: always 400 with a clear message, never 500 -----------------------------------------
@pytest.mark.parametrize("body, content_type, code, words", [
    (b"{not json", "application/json", "0049", "not valid JSON"),
    (b'{"foo": 1}', "application/json", "0049", "neither"),
    (b'"text"', "application/json", "0049", "neither"),
    (b'{"Inputs": []}', "application/json", "0049", "Inputs"),
    (b'{"Inputs": {"WebServiceInput0": {"image": "x"}}}', "application/json", "0049", "array of rows"),
    (b'{"Inputs": {"WebServiceInput0": [{"picture": "x"}]}}', "application/json", "0001", "picture"),
    (b'[{"image_in_base64": "not base64!"}]', "application/json", "0049", "not valid base64"),
    (b'[{"image_in_base64": 42}]', "application/json", "0049", "base64 string"),
    (b'[{"image_in_base64": "aGVsbG8gd29ybGQ="}]', "application/json", "0049", "not an image"),
    (b'[{"image_in_base64": ""}]', "application/json", "0003", "empty"),
    (b"[]", "application/json", "0003", "no image"),
    (b"[5]", "application/json", "0049", "[0] must be an object"),
    (b'[{"image": null}]', "application/json", "0049", "[0].image must be a base64 string, not null"),
    (b'{"Inputs": {"a": [], "b": []}}', "application/json", "0049", "none is WebServiceInput0"),
    (b'{"Inputs": {"WebServiceInput0": []}, "GlobalParameters": 3}', "application/json", "0049",
     "GlobalParameters must be an object"),
    (b"\xff\xfe", "application/json", "0049", "not valid JSON"),
    (b"", "image/png", "0003", "empty"),
    (b"just some text", "text/plain", "0049", "not an image"),
    (b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nhello\r\n--x--\r\n", "multipart/form-data; boundary=x",
     "0003", "no file part"),
])
def test_bad_input_is_a_400_naming_the_problem(http, body, content_type, code, words):
    response = http.post("/score", content=body, headers={"Content-Type": content_type})
    assert words in _error(response, 400, code)["message"]


def test_client_mistakes_log_no_traceback(server, http):
    """The server's log after malformed, unauthorized and oversized requests: no traceback (the
    bad-input tests above ran on the same server)."""
    http.post("/score", content=b"[{", headers={"Content-Type": "application/json"})
    httpx.post(f"{server.url}/score", content=b"x")
    http.post("/score?top_k=x", content=png_header_claiming(100_000, 100_000))
    assert "Traceback" not in server.log_text()


def test_broken_image_and_bad_parameter(http, digit_files):
    truncated = _one_digit(digit_files)[:60]
    response = http.post("/score", files=[("images", ("cut.png", truncated, "image/png"))])
    assert "cut.png" in _error(response, 400, "0049")["message"]
    text_file = http.post("/score", files=[("images", ("notes.txt", b"hello", "text/plain"))])
    assert "notes.txt" in _error(text_file, 400, "0049")["message"]
    _error(http.post("/score?top_k=0", content=_one_digit(digit_files)), 400, "0002")


# -- the acceptance check: 200 requests at concurrency 16 == Score Image Model offline --------
def test_200_concurrent_requests_match_score_image_model(server, model_dir, image_dir, digit_files, tmp_path):
    offline = read_dataframe(vb.run_module("score-image-model", inputs={"trained_model": model_dir,
                                                                        "dataset": image_dir},
                                           params={"precision": "fp32"},
                                           out=tmp_path / "score").outputs["scored_dataset"])
    expected = {row["identifier"]: row for row in offline.to_dict("records")}
    ids = sorted(digit_files)
    data = {i: digit_files[i].read_bytes() for i in ids}
    formats = ("designer", "array", "multipart", "raw")

    def request(n: int):
        """Request n: 1-3 images in one of the four formats (raw bodies carry one image)."""
        fmt = formats[n % 4]
        chosen = [ids[(n * 3 + j) % len(ids)] for j in range(1 if fmt == "raw" else 1 + n % 3)]
        b64 = [base64.b64encode(data[i]).decode() for i in chosen]
        if fmt == "designer":
            r = http_pool.post("/score", json={"Inputs": {"WebServiceInput0": [{"image": v} for v in b64]}})
        elif fmt == "array":
            r = http_pool.post("/score", json=[{"image_in_base64": v} for v in b64])
        elif fmt == "multipart":
            r = http_pool.post("/score", files=[("images", (f"{i}.png", data[i], "image/png")) for i in chosen])
        else:
            r = http_pool.post("/score", content=data[chosen[0]], headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        body = r.json()
        return chosen, body if fmt == "array" else body["Results"]["WebServiceOutput0"]

    limits = httpx.Limits(max_connections=16)
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60, limits=limits) as http_pool, \
            ThreadPoolExecutor(16) as pool:
        results = list(pool.map(request, range(200), timeout=120))
    assert len(results) == 200
    worst = 0.0
    for chosen, rows in results:
        assert len(rows) == len(chosen)
        for image_id, row in zip(chosen, rows):
            want = expected[image_id]
            assert row["Scored Labels"] == want["Scored Labels"]
            for c in CLASSES:
                worst = max(worst, abs(row[f"Scored Probabilities_{c}"] - want[f"Scored Probabilities_{c}"]))
    assert worst < 1e-5, worst
    metrics = httpx.get(f"{server.url}/metrics.json", headers=AUTH).json()
    sizes = {int(k): v for k, v in metrics["batch_sizes"].items()}
    assert sum(size * count for size, count in sizes.items()) == metrics["images_scored"]
    assert metrics["requests"]["/score"]["200"] >= 200
    # Every /score request answered is in the latency window (far fewer than its size here).
    assert metrics["score_latency_ms"]["window"] == sum(metrics["requests"]["/score"].values())


def test_latency_percentiles_of_known_latencies():
    """The JSON view's percentiles of 1, 2, ..., 100 ms, by linear interpolation between ranks:
    the q-th percentile sits at rank q/100 x 99 (from 0), that is 1 + 0.99 q ms."""
    from visionblocks.service.metrics import Metrics

    metrics = Metrics()
    for ms in range(100, 0, -1):  # the order of arrival does not matter
        metrics.record("/score", 200, ms / 1000)
    metrics.record("/health", 200, 5.0)  # not a scoring request: not in the window
    latency = metrics.snapshot()["score_latency_ms"]
    assert latency == {"p50": pytest.approx(50.5), "p95": pytest.approx(95.05), "p99": pytest.approx(99.01),
                       "window": 100}


# -- client, CLI and load test ---------------------------------------------------------------------
def test_client_scores_paths_bytes_and_pil_images(server, digit_files):
    path = next(iter(digit_files.values()))
    with Client(server.url + "/score", key=KEY) as client:
        rows = client.score([path, path.read_bytes(), Image.open(path).convert("RGB")], top_k=3)
        assert client.metadata()["classes"] == CLASSES
    assert len(rows) == 3 and rows[0] == rows[1] == rows[2] and len(rows[0]["top_k"]) == 3
    with Client(server.url, key="wrong") as client, pytest.raises(ServiceError) as caught:
        client.score(path)
    assert caught.value.status == 401 and caught.value.code == 2000


def test_cli_score_and_loadtest(server, digit_files, capsys):
    path = next(iter(digit_files.values()))
    assert cli.main(["score", server.url, str(path), "--key", KEY, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["file"] == str(path) and rows[0]["Scored Labels"] in CLASSES
    assert cli.main(["score", server.url, str(path), "--key", "wrong"]) == 2
    assert capsys.readouterr().err.startswith("Error 2000 UserError: The key is not the service's key.")

    assert cli.main(["loadtest", server.url, "--requests", "24", "--concurrency", "4",
                     "--images-per-request", "2", "--key", KEY, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests_sent"] == report["requests_ok"] == 24 and report["errors"] == {}
    assert report["images_scored"] == 48 and report["latency_ms"]["p95"] is not None


def test_serve_refuses_what_is_not_a_model(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path), "--port", "0"]) == 2
    assert capsys.readouterr().err.startswith("Error 0159 InvalidModelDirectory")
    args = cli.build_parser().parse_args(["serve", str(tmp_path)])
    assert args.host == "127.0.0.1" and args.port == 8000


# -- a busy model: /health still answers, a full queue is a 503, a slow request a 504 -------------------
@pytest.fixture
def slow_server(tmp_path):
    s = start_fake(tmp_path / "slow.log", "--delay", "1.5", "--timeout", "0.5", "--max-queue", "4",
                   "--max-images", "4", "--max-batch", "4")
    try:
        yield s
    finally:
        s.stop()


def _post_in_background(url: str, images: int) -> tuple[threading.Thread, dict]:
    files = [("images", (f"{i}.png", png_bytes(Image.new("RGB", (8, 8), (200, 10, 10))), "image/png"))
             for i in range(images)]
    answer: dict = {}
    thread = threading.Thread(target=lambda: answer.update(r=httpx.post(f"{url}/score", files=files, timeout=30)))
    thread.start()
    return thread, answer


def _wait_for_queue(url: str, images: int) -> None:
    deadline = time.monotonic() + 20
    while httpx.get(f"{url}/health").json()["queued_images"] < images:
        assert time.monotonic() < deadline, "the request never reached the queue"
        time.sleep(0.02)


def test_busy_model_health_queue_full_and_timeout(slow_server):
    url = slow_server.url
    thread, answer = _post_in_background(url, 4)
    _wait_for_queue(url, 4)  # the fake model is now in its 1.5 s forward pass, the queue full

    # /health answers while the model is busy: the request is still in its forward pass, the queue
    # full. (How fast it answers under load is measured by benchmarks/bench_service.py, not here.)
    health = httpx.get(f"{url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["queued_images"] == 4
    assert thread.is_alive() and "r" not in answer

    full = httpx.post(f"{url}/score", content=png_bytes(Image.new("RGB", (8, 8))),
                      headers={"Content-Type": "image/png"})
    assert "busy" in _error(full, 503, "0039")["message"]
    assert int(full.headers["Retry-After"]) >= 1

    thread.join(30)
    assert "0.5 s" in _error(answer["r"], 504, "0039")["message"]


def test_graceful_shutdown_finishes_requests_in_flight(tmp_path):
    server = start_fake(tmp_path / "graceful.log", "--delay", "1.0")
    try:
        thread, answer = _post_in_background(server.url, 2)
        _wait_for_queue(server.url, 2)
        server.process.terminate()  # SIGTERM while the request is being scored
        thread.join(30)
        assert answer["r"].status_code == 200, answer["r"].text
        assert [row["Scored Labels"] for row in answer["r"].json()["Results"]["WebServiceOutput0"]] == ["red", "red"]
        # uvicorn raises the signal again once its graceful shutdown is done, so that the parent
        # sees the process ended by SIGTERM (DESIGN.md), not a plain exit.
        assert server.process.wait(20) == -signal.SIGTERM
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health")


# -- units: formats and the batcher ----------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "aGVsbG8=", "b'aGVsbG8='", 'b"aGVsbG8="', "data:image/png;base64,aGVsbG8=", "aGVsbG8", " aGVs\nbG8= ",
    "b'aGVs\\nbG8=\\n'",
])
def test_base64_tolerances(text):
    assert decode_base64(text, "x") == b"hello"


def test_invalid_base64_is_rejected():
    with pytest.raises(Rejected) as caught:
        decode_base64("abc$", "Inputs.WebServiceInput0[0].image")
    assert caught.value.status == 400 and isinstance(caught.value.error, errors.FileParsingFailedError)


def test_rows_rank_ties_by_class_order():
    rows = result_rows(np.array([[0.25, 0.5, 0.25]]), ["a", "b", "c"], top_k=5)
    assert rows[0]["Scored Labels"] == "b"
    assert [e["label"] for e in rows[0]["top_k"]] == ["b", "a", "c"]


class _GatedModel:
    """predict() that blocks on its first call until released, recording every batch size."""

    def __init__(self):
        self.entered, self.release, self.sizes = threading.Event(), threading.Event(), []

    def __call__(self, batch):
        self.sizes.append(batch.shape[0])
        self.entered.set()
        assert self.release.wait(10)
        return batch.flatten(1).mean(dim=1, keepdim=True).double().repeat(1, 2).numpy()


def test_batcher_merges_waiting_requests_and_keeps_order():
    model = _GatedModel()
    batcher = MicroBatcher(model, max_batch=4, max_wait_s=0.0, max_queue=16)
    batcher.start()
    try:
        first = batcher.submit([torch.full((3, 2, 2), 9.0)])
        assert model.entered.wait(10)  # the worker is busy with the first request
        jobs = [batcher.submit([torch.full((3, 2, 2), float(v)) for v in values])
                for values in ([1, 2], [3], [4, 5, 6])]
        odd = batcher.submit([torch.full((3, 4, 4), 7.0)])  # another size: its own forward pass
        with pytest.raises(QueueFull):
            batcher.submit([torch.zeros(3, 2, 2)] * 10)
        model.release.set()
        outputs = [job.result(10) for job in [first, *jobs, odd]]
    finally:
        batcher.close(10)
    assert [out[:, 0].tolist() for out in outputs] == [[9.0], [1.0, 2.0], [3.0], [4.0, 5.0, 6.0], [7.0]]
    assert model.sizes == [1, 4, 2, 1]  # 6 waiting images of one size: a full batch of 4, then 2
    assert batcher.batch_sizes() == {1: 2, 2: 1, 4: 1} and batcher.pending == 0


def test_batcher_skips_cancelled_requests_and_survives_errors():
    model = _GatedModel()
    batcher = MicroBatcher(model, max_batch=8, max_wait_s=0.0, max_queue=16)
    batcher.start()
    try:
        batcher.submit([torch.zeros(3, 2, 2)])
        assert model.entered.wait(10)
        gone = batcher.submit([torch.ones(3, 2, 2)] * 3)
        assert gone.cancel()  # its request timed out while queued
        kept = batcher.submit([torch.ones(3, 2, 2)])
        model.release.set()
        assert kept.result(10).shape == (1, 2)
        assert model.sizes == [1, 1]  # the cancelled images were never scored

        def broken(batch):
            raise RuntimeError("out of memory")

        batcher.predict = broken
        with pytest.raises(RuntimeError, match="out of memory"):
            batcher.submit([torch.ones(3, 2, 2)]).result(10)
        batcher.predict = model
        assert batcher.submit([torch.ones(3, 2, 2)]).result(10).shape == (1, 2)  # the worker lives on
    finally:
        batcher.close(10)
    assert batcher.pending == 0


# -- the models, the OpenAPI description and the one status table ----------------------------------
@pytest.fixture(scope="module")
def fake_spec():
    """The OpenAPI description of an app around the fake model (generated in-process)."""
    return create_app(SlowScorer(0.0), key="k").openapi()


def _schema(spec: dict, ref: str) -> dict:
    return spec["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


def test_openapi_score_body_is_generated_from_the_models(fake_spec):
    content = fake_spec["paths"]["/score"]["post"]["requestBody"]["content"]
    designer_ref, array = content["application/json"]["schema"]["oneOf"]
    assert designer_ref == {"$ref": "#/components/schemas/DesignerRequest"}
    assert array == {"type": "array", "items": {"$ref": "#/components/schemas/ImageItem"}}
    # The components are the models' own schemas, not a copy kept by hand.
    ref = "#/components/schemas/{model}"
    designer = schemas.DesignerRequest.model_json_schema(ref_template=ref)
    assert designer.pop("$defs") == {"ImageItem": _schema(fake_spec, "ImageItem")}
    assert _schema(fake_spec, designer_ref["$ref"]) == designer
    item = _schema(fake_spec, array["items"]["$ref"])
    assert item == schemas.ImageItem.model_json_schema(ref_template=ref)
    assert {"image", "image_in_base64"} <= set(item["properties"])
    assert item["properties"]["image"]["format"] == "byte" and "default" not in item["properties"]["image"]
    assert content["multipart/form-data"]["schema"]["properties"]["images"]["items"]["format"] == "binary"
    assert content["image/*"]["schema"]["format"] == "binary"


def test_openapi_documents_rows_and_errors_not_422(fake_spec):
    responses = fake_spec["paths"]["/score"]["post"]["responses"]
    designer, array = responses["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert designer == {"$ref": "#/components/schemas/DesignerResponse"}
    row = _schema(fake_spec, array["items"]["$ref"])
    # Class names are per model: the probabilities are the row's additional number properties.
    assert row["required"] == ["Scored Labels", "top_k"] and row["additionalProperties"] == {"type": "number"}
    for status, codes in (("400", ["0049", "0001", "0003", "0002"]), ("413", ["0007", "0127"]),
                          ("401", ["2000"]), ("503", ["0039"]), ("504", ["0039"])):
        answer = responses[status]
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
        assert all(code in answer["description"] for code in codes), answer["description"]
    assert "Retry-After" in responses["503"]["headers"] and "WWW-Authenticate" in responses["401"]["headers"]
    error = _schema(fake_spec, "ErrorDetail")
    assert error["required"] == ["code", "name", "message"] and "hint" in error["properties"]
    # Bad parameters answer 400 ParameterParsing, so FastAPI's 422 is nowhere.
    assert '"422"' not in json.dumps(fake_spec) and "HTTPValidationError" not in fake_spec["components"]["schemas"]
    for path, model in (("/health", "Health"), ("/metadata", "Metadata"), ("/metrics.json", "MetricsReport")):
        ok = fake_spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}
    assert fake_spec["paths"]["/metadata"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in fake_spec["paths"]["/health"]["get"]


def test_rows_follow_the_row_model_and_keep_the_column_order():
    rows = result_rows(np.array([[0.2, 0.8]]), ["cat", "dog"], top_k=1)
    dumped = json.loads(SCORE_RESPONSE.dump_json(SCORE_RESPONSE.validate_python(rows), by_alias=True))
    assert dumped == rows and list(dumped[0]) == ["Scored Labels", "Scored Probabilities_cat",
                                                  "Scored Probabilities_dog", "top_k"]
    with pytest.raises(ValueError):  # a probability that is not a number breaks the promise
        SCORE_RESPONSE.validate_python([{**rows[0], "Scored Probabilities_cat": "high"}])


def test_every_designer_error_has_one_status():
    assert problems.status_of(errors.FileParsingFailedError()) == 400
    assert problems.status_of(errors.ImageExceedsLimitError()) == 413
    assert problems.status_of(problems.UnauthorizedError()) == 401
    assert problems.status_of(problems.ServiceBusyError()) == 503
    assert problems.status_of(problems.RequestTimeoutError()) == 504
    # Not a client's mistake: a server error that keeps its designer code.
    assert problems.status_of(errors.FailedToCompleteOperationError()) == 500
    assert problems.status_of(errors.ModuleError()) == 500
    assert Rejected(errors.NullOrEmptyError()).status == 400


class _OutOfMemoryScorer(SlowScorer):
    def predict_tensors(self, batch):
        raise errors.ModuleOutOfMemoryError("The model ran out of memory.")


def test_designer_json_with_another_input_name_and_a_failing_model(digit_files):
    """In-process: a pipeline whose Web Service Input is not WebServiceInput0 (its other inputs
    are never read); a designer error from the model is the server's 500, with its own code."""
    from fastapi.testclient import TestClient

    b64 = base64.b64encode(_one_digit(digit_files)).decode()
    with TestClient(create_app(SlowScorer(0.0))) as client:
        answer = client.post("/score", json={"Inputs": {"Photos": [{"image": b64}, {"image_in_base64": b64}]}})
        ignored = client.post("/score", json={"Inputs": {"WebServiceInput0": [{"image": b64}], "Other": 5}})
    assert answer.status_code == 200 and len(answer.json()["Results"]["WebServiceOutput0"]) == 2
    assert ignored.status_code == 200, ignored.text
    with TestClient(create_app(_OutOfMemoryScorer(0.0))) as client:
        failed = client.post("/score", content=_one_digit(digit_files), headers={"Content-Type": "image/png"})
    _error(failed, 500, "0138")


def test_serve_defaults_come_from_the_settings(monkeypatch):
    args = cli.build_parser().parse_args(["serve", "model"])
    assert commands.settings_from_args(args) == (Limits(), Batching())
    # Change a default at its one home: the option follows.
    monkeypatch.setattr(commands, "Limits", lambda: Limits(max_images=7, max_body_bytes=3 << 20))
    monkeypatch.setattr(commands, "Batching", lambda: Batching(max_batch=3))
    args = cli.build_parser().parse_args(["serve", "model"])
    assert (args.max_images, args.max_body_mb, args.max_batch) == (7, 3.0, 3)


def test_the_cli_parser_imports_no_server():
    """Building the CLI's parser imports the service's commands, but neither torch nor the web stack."""
    code = ("import sys, visionblocks.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'fastapi', 'uvicorn', 'pydantic', 'starlette') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
