"""The service's metrics: ``/metrics`` in the Prometheus text format (parsed here with
prometheus-client's own parser), counters that move with requests, a registry per app, and the
JSON view at ``/metrics.json``.

Most checks run in-process (FastAPI's TestClient) on the fake model of tests/service_helpers.py;
one starts a real server, so the request format reaches the count through uvicorn too."""

from __future__ import annotations

import base64

import httpx
import pytest
from PIL import Image
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from service_helpers import SlowScorer, png_bytes, start_fake
from visionblocks.service.app import create_app
from visionblocks.service.client import Client

KEY = "metrics-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
FAMILIES = {"visionblocks_requests", "visionblocks_request_duration_seconds", "visionblocks_images_scored",
            "visionblocks_batch_size", "visionblocks_queued_images"}


@pytest.fixture
def client():
    from fastapi.testclient import TestClient

    with TestClient(create_app(SlowScorer(0.0), key=KEY)) as client:
        yield client


def _png(color=(200, 30, 30)) -> bytes:
    return png_bytes(Image.new("RGB", (12, 12), color))


def _scrape(get) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value; the exposition checked on the way."""
    response = get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = list(text_string_to_metric_families(response.text))
    assert FAMILIES | {"visionblocks_model_info"} <= {family.name for family in families}  # 0.0.4 has no info type
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families for sample in family.samples}


def _requests(samples, route="/score", status="200", fmt="none") -> float:
    return samples.get(("visionblocks_requests_total", (("format", fmt), ("route", route), ("status", status))), 0.0)


def _score_every_format(post) -> None:
    """Six images in four good requests (multipart ×2, JSON, raw image), then a broken JSON body."""
    b64 = base64.b64encode(_png()).decode()
    files = [("images", ("a.png", _png(), "image/png")), ("images", ("b.png", _png((0, 0, 255)), "image/png"))]
    assert post("/score", files=files, headers=AUTH).status_code == 200
    assert post("/score", files=files[:1], headers=AUTH).status_code == 200
    assert post("/score", json={"Inputs": {"WebServiceInput0": [{"image": b64}, {"image": b64}]}},
                headers=AUTH).status_code == 200
    assert post("/score", content=_png(), headers={**AUTH, "Content-Type": "image/png"}).status_code == 200
    assert post("/score", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}).status_code == 400


def test_metrics_parse_and_counters_move_with_requests(client):
    before = _scrape(client.get)
    assert _requests(before, "/metrics") == 0  # a request is counted once answered
    _score_every_format(client.post)
    assert client.post("/score", content=_png()).status_code == 401  # no key: refused before the body is read
    after = _scrape(client.get)

    assert _requests(after, fmt="multipart") == 2
    assert _requests(after, fmt="json") == 1 and _requests(after, status="400", fmt="json") == 1
    assert _requests(after, fmt="image") == 1
    assert _requests(after, status="401") == 1
    assert _requests(after, "/metrics") == 1  # the first scrape
    assert after[("visionblocks_images_scored_total", ())] - before[("visionblocks_images_scored_total", ())] == 6
    assert after[("visionblocks_request_duration_seconds_count", (("route", "/score"),))] == 6
    assert after[("visionblocks_batch_size_sum", ())] == 6  # every scored image went through one pass
    passes = after[("visionblocks_batch_size_count", ())]
    assert 4 <= passes <= 6 and after[("visionblocks_batch_size_bucket", (("le", "+Inf"),))] == passes
    assert after[("visionblocks_queued_images", ())] == 0
    info = {labels: value for (name, labels), value in after.items() if name == "visionblocks_model_info"}
    assert len(info) == 1 and list(info.values()) == [1.0]
    labels = dict(next(iter(info)))
    assert (labels["architecture"], labels["classes"]) == ("slow-fake", "3") and "precision" in labels


def test_batch_size_histogram_has_power_of_two_buckets_up_to_the_largest_batch(client):
    _score_every_format(client.post)
    samples = _scrape(client.get)
    bounds = [dict(labels)["le"] for (name, labels) in samples if name == "visionblocks_batch_size_bucket"]
    assert bounds == ["1.0", "2.0", "4.0", "8.0", "16.0", "32.0", "+Inf"]  # max_batch 32 (the default)
    counts = [samples[("visionblocks_batch_size_bucket", (("le", bound),))] for bound in bounds]
    assert counts == sorted(counts) and counts[-1] == samples[("visionblocks_batch_size_count", ())]


def test_openmetrics_when_the_scraper_asks_for_it(client):
    response = client.get("/metrics", headers={**AUTH, "Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {family.name: family.type for family in parse_openmetrics(response.text)}
    assert FAMILIES <= set(families) and families["visionblocks_model"] == "info"


def test_each_app_has_its_own_registry(client):
    """A second app in the same process starts from zero and does not count the first one's requests."""
    from fastapi.testclient import TestClient

    _score_every_format(client.post)
    with TestClient(create_app(SlowScorer(0.0), key=KEY)) as other:
        fresh = _scrape(other.get)
    assert fresh[("visionblocks_images_scored_total", ())] == 0
    assert _scrape(client.get)[("visionblocks_images_scored_total", ())] == 6


def test_the_json_view_moved_to_metrics_json(client):
    client.post("/score", content=_png(), headers={**AUTH, "Content-Type": "image/png"})
    report = client.get("/metrics.json", headers=AUTH).json()
    assert report["images_scored"] == 1 and report["requests"]["/score"] == {"200": 1}
    assert report["batch_sizes"] == {"1": 1} and report["score_latency_ms"]["window"] == 1
    assert client.get("/metrics.json").status_code == 401


def test_openapi_describes_both_views():
    spec = create_app(SlowScorer(0.0), key=KEY).openapi()
    prometheus = spec["paths"]["/metrics"]["get"]
    assert list(prometheus["responses"]["200"]["content"]) == ["text/plain; version=0.0.4"]
    assert prometheus["security"] == [{"HTTPBearer": []}] and "401" in prometheus["responses"]
    json_view = spec["paths"]["/metrics.json"]["get"]["responses"]["200"]["content"]["application/json"]
    assert json_view["schema"] == {"$ref": "#/components/schemas/MetricsReport"}


def test_a_real_server_counts_formats_and_the_client_reads_the_json_view(tmp_path):
    server = start_fake(tmp_path / "server.log", "--delay", "0")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            _score_every_format(http.post)  # the fake server has no key: AUTH is ignored
            samples = _scrape(http.get)
        assert (_requests(samples, fmt="multipart"), _requests(samples, fmt="json"), _requests(samples, fmt="image"),
                _requests(samples, status="400", fmt="json")) == (2, 1, 1, 1)
        with Client(server.url) as client:
            assert client.metrics()["images_scored"] == 6
    finally:
        server.stop()

