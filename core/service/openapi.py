"""What FastAPI cannot infer for ``/openapi.json``, filled in from the same pydantic models.

``POST /score`` reads its body by hand (so that its size is capped while it streams in, and its
format is chosen by Content-Type), so FastAPI sees no body parameter: :func:`install` adds the
request body of every accepted media type from :data:`.schemas.REQUEST_BODIES`. The error
answers come from the one status table of :mod:`.problems`, and FastAPI's 422, which this
service never sends (a bad parameter is a 400), is taken out.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import TypeAdapter

from visionblocks.service.metrics import SCORE_PATH
from visionblocks.service.problems import documented_statuses
from visionblocks.service.schemas import REQUEST_BODIES, ErrorResponse

_REF = "#/components/schemas/{model}"
_MEANING = {
    400: "The body or a parameter is malformed, or holds no usable image.",
    401: "The service has a key and the request does not carry it.",
    413: "The body, the number of images or the pixels of an image is over its limit.",
    503: "The queue is full; retry after the Retry-After header's seconds.",
    504: "The request took longer than the per-request timeout.",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds until the queue has room again.", "schema": {"type": "integer"}}},
}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def error_responses(*statuses: int) -> dict[int, dict]:
    """The ``responses`` of a route that answers ``statuses`` with designer errors."""
    table = documented_statuses()
    responses = {}
    for status in statuses:
        codes = ", ".join(f"{cls.code:04d} {cls.name}" for cls in table[status])
        responses[status] = {"model": ErrorResponse, "description": f"{_MEANING[status]} Designer errors: {codes}."}
        if status in _HEADERS:
            responses[status]["headers"] = _HEADERS[status]
    return responses


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` complete FastAPI's document once, when it is first asked for."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = generate()  # FastAPI caches it in app.openapi_schema; completed in place
            components = document.setdefault("components", {}).setdefault("schemas", {})
            document["paths"][SCORE_PATH]["post"]["requestBody"] = score_request_body(components)
            _drop_validation_422(document)
        return app.openapi_schema

    app.openapi = openapi


def score_request_body(components: dict) -> dict:
    """The ``requestBody`` of ``/score``; the models it refers to are added to ``components``."""
    content = {}
    for media, body in REQUEST_BODIES.items():
        schema = TypeAdapter(body).json_schema(ref_template=_REF)
        components.update(schema.pop("$defs", {}))
        content[media] = {"schema": schema}
    return {"required": True, "content": content}


def _drop_validation_422(document: dict) -> None:
    for path in document["paths"].values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    for name in _FASTAPI_VALIDATION:
        document.get("components", {}).get("schemas", {}).pop(name, None)
