"""Property-based fuzzing of the scoring service's request parsing: the designer's JSON, the
array format (with ``b'...'`` and data-URL values), multipart forms, raw bodies, headers and the
query, through the real app (:func:`visionblocks.service.app.create_app`) in process with a
fake model that answers at once.

The property: a 200 with one row per image, or a 4xx carrying a designer error; never a 5xx,
never a traceback in the log. Budget and seed: :mod:`fuzzing`.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fuzzing import budget
from service_helpers import SlowScorer, png_bytes, png_header_claiming
from visionblocks.service.app import create_app
from visionblocks.service.settings import Limits

PNG = png_bytes(Image.new("RGB", (4, 4), (200, 30, 30)))
LIMITS = Limits(max_images=4, max_body_bytes=64_000, max_pixels=10_000)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(SlowScorer(0.0), LIMITS), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(autouse=True)
def no_traceback(caplog):
    caplog.set_level(logging.ERROR)
    yield
    assert not [r for r in caplog.records if r.exc_info], "a request logged a traceback"


def _check(response) -> None:
    assert response.status_code < 500, response.text
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    if response.status_code == 200:
        rows = body if isinstance(body, list) else body["Results"]["WebServiceOutput0"]
        assert rows and all("Scored Labels" in row for row in rows)
    elif response.status_code not in (404, 405):
        error = body["error"]
        assert error["code"].isdigit() and len(error["code"]) == 4 and error["message"]


# -- value strategies ----------------------------------------------------------------------------
def _wrappings(data: bytes) -> st.SearchStrategy[str]:
    text = base64.b64encode(data).decode()
    return st.sampled_from([
        text, text.rstrip("="), base64.urlsafe_b64encode(data).decode(), f"data:image/png;base64,{text}",
        str(base64.b64encode(data)), str(base64.encodebytes(data)), f" {text}\n", text[: len(text) // 2]])


images = st.one_of(
    _wrappings(PNG), _wrappings(png_header_claiming(50_000, 50_000)),
    st.binary(max_size=40).flatmap(_wrappings),
    st.text(max_size=40))
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
rows = st.one_of(
    st.fixed_dictionaries({}, optional={"image": images | json_values, "image_in_base64": images | json_values,
                                        "parameters": json_values, "other": json_values}),
    json_values)
designer = st.fixed_dictionaries(
    {"Inputs": st.one_of(st.dictionaries(st.sampled_from(["WebServiceInput0", "input1", ""]),
                                         st.lists(rows, max_size=5) | json_values, max_size=2), json_values)},
    optional={"GlobalParameters": json_values})
array = st.lists(rows, max_size=6)


def _deep(depth: int, kind: str) -> bytes:
    return (b"[" * depth + b"]" * depth) if kind == "[" else (b'{"a":' * depth + b"1" + b"}" * depth)


bodies = st.one_of(
    designer.map(json.dumps), array.map(json.dumps), json_values.map(json.dumps),
    st.tuples(st.integers(1, 100_000), st.sampled_from("[{")).map(lambda t: _deep(*t).decode()),
    st.text(max_size=60))


# -- tests ---------------------------------------------------------------------------------------
@given(bodies, st.sampled_from(["application/json", "text/json", "application/vnd.x+json", None,
                                "application/x-www-form-urlencoded"]))
@budget(2)
def test_json_bodies(client, body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    _check(client.post("/score", content=body.encode("utf-8", "surrogatepass"), headers=headers))


@given(st.lists(st.tuples(st.text(max_size=10), st.sampled_from([PNG, b"", b"not an image",
                                                                 png_header_claiming(50_000, 50_000)])),
                max_size=5),
       st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=2))
@budget()
def test_multipart_forms(client, files, fields):
    form_files = [("images", (name or "x.png", data, "image/png")) for name, data in files]
    if not form_files:  # httpx sends a urlencoded body when there is no file: add a text part
        form_files = [("note", (None, "no image", "text/plain"))]
    _check(client.post("/score", files=form_files, data=dict(fields)))


@given(st.binary(max_size=300), st.sampled_from(["multipart/form-data", "multipart/form-data; boundary=x",
                                                  'multipart/form-data; boundary="--b"', "image/png",
                                                  "application/octet-stream", "image/", "", "text/plain"]))
@budget()
def test_raw_bodies(client, body, content_type):
    prefix = b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\n"
    _check(client.post("/score", content=prefix + body, headers={"content-type": content_type}))
    _check(client.post("/score", content=body, headers={"content-type": content_type}))


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@given(st.dictionaries(st.sampled_from(["content-type", "content-length", "authorization", "accept",
                                        "transfer-encoding", "x-anything"]), header_text, max_size=4),
       st.dictionaries(st.sampled_from(["top_k", "x"]), header_text, max_size=2))
@budget()
def test_headers_and_query(client, headers, query):
    body = json.dumps({"Inputs": {"WebServiceInput0": [{"image": base64.b64encode(PNG).decode()}]}})
    if "content-length" in headers or "transfer-encoding" in headers:
        # A lying Content-Length is the HTTP layer's to refuse (h11 in uvicorn); the in-process
        # client would hang or send garbage, so only the app's own check (a number or not) is fuzzed.
        value = headers.pop("content-length", "") + headers.pop("transfer-encoding", "")
        if value.strip().isdigit():
            return
        headers["content-length"] = value or "x"
    _check(client.post("/score", content=body, headers=headers, params=query))


@pytest.mark.parametrize("kind", ["[", "{"])
@pytest.mark.parametrize("depth", [150, 199, 200, 1_000, 5_000])
def test_deeply_nested_json_is_a_400(client, kind, depth):
    """Regression: a deeply nested body was a 500 (RecursionError) with a traceback in the log."""
    for body in (_deep(depth, kind), b'{"Inputs": {"WebServiceInput0": [{"image": "aa", "x": ' + _deep(depth, kind)
                 + b"}]}}", b'[{"image": "aa", "parameters": ' + _deep(depth, kind) + b"}]"):
        response = client.post("/score", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] in ("0049", "0001")


def test_a_parser_recursion_error_is_a_400(client, monkeypatch):
    """Whichever parser runs out of stack on a body (the reported 500 came from a RecursionError),
    the client gets 0049, and the log no traceback."""
    from visionblocks.service import formats

    class Exhausted:
        def validate_json(self, body):
            raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(formats, "_SCORE_REQUEST", Exhausted())
    response = client.post("/score", content=b"[" * 300 + b"]" * 300, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0049"
    assert "nests too deeply" in response.json()["error"]["message"]
