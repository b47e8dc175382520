"""The OpenAPI description of ``POST /score`` for one model: its request formats and its rows.

FastAPI cannot infer these (the body is read by hand, so that its size is capped while it is
read), so the schemas are written here, with the model's own class names in the row schema.
"""

from __future__ import annotations

from visionblocks.dataframe import SCORED_LABELS, probability_column
from visionblocks.service.formats import DESIGNER_INPUT, DESIGNER_OUTPUT

_BASE64 = {"type": "string", "format": "byte", "description": "The image file (PNG, JPEG, ...) in base64."}
_DESIGNER_REQUEST = {
    "type": "object",
    "title": "Designer request",
    "required": ["Inputs"],
    "properties": {
        "Inputs": {"type": "object", "required": [DESIGNER_INPUT], "properties": {
            DESIGNER_INPUT: {"type": "array", "items": {
                "type": "object", "required": ["image"], "properties": {"image": _BASE64}}}}},
        "GlobalParameters": {"type": "object", "description": "Accepted and not used."},
    },
}
_ARRAY_REQUEST = {
    "type": "array",
    "title": "Array of images",
    "items": {"type": "object", "properties": {
        "image_in_base64": _BASE64,
        "image": _BASE64,
        "parameters": {"type": "object", "description": "Accepted and not used."},
    }},
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "name", "message"], "properties": {
        "code": {"type": "string", "description": "The designer error code, four digits.", "example": "0127"},
        "name": {"type": "string", "example": "ImageExceedsLimit"},
        "message": {"type": "string"},
        "hint": {"type": "string"},
    }}},
}


def row_schema(classes: list[str]) -> dict:
    properties = {SCORED_LABELS: {"type": "string", "enum": list(classes), "description": "The most likely class."}}
    properties.update({probability_column(c): {"type": "number", "minimum": 0, "maximum": 1} for c in classes})
    properties["top_k"] = {"type": "array", "description": "The most likely classes, most likely first.",
                           "items": {"type": "object", "properties": {
                               "label": {"type": "string"}, "probability": {"type": "number"}}}}
    return {"type": "object", "title": "Scored image", "required": list(properties), "properties": properties}


def score_request_body() -> dict:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [_DESIGNER_REQUEST, _ARRAY_REQUEST]}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    }}}


def score_responses(classes: list[str]) -> dict:
    row = row_schema(classes)
    designer = {"type": "object", "title": "Designer response", "properties": {"Results": {
        "type": "object", "properties": {DESIGNER_OUTPUT: {"type": "array", "items": row}}}}}
    error = {"application/json": {"schema": ERROR}}
    return {
        200: {"description": "One row per image, in the request's order: an array for an array request, "
                             "the designer's Results object for everything else.",
              "content": {"application/json": {"schema": {"oneOf": [designer, {"type": "array", "items": row}]}}}},
        400: {"description": "Malformed body, invalid base64, bytes that are not an image, no image.",
              "content": error},
        401: {"description": "The service has a key and the request does not carry it.", "content": error},
        413: {"description": "Body, image count or pixels of an image over the limit.", "content": error},
        503: {"description": "The queue is full; retry after the Retry-After header's seconds.", "content": error},
        504: {"description": "The request took longer than the per-request timeout.", "content": error},
    }
