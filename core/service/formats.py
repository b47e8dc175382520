"""Request bodies in, images out; probabilities in, response bodies out.

Accepted ``POST /score`` bodies (any of them, chosen by Content-Type, else by the first byte):

- the designer's JSON: ``{"Inputs": {"WebServiceInput0": [{"image": "<base64>"}, ...]},
  "GlobalParameters": {}}``, answered ``{"Results": {"WebServiceOutput0": [row, ...]}}``;
- a JSON array of items ``{"image_in_base64": "<base64>", "parameters": {...}}`` (the older
  Computer Vision package) or ``{"image": "<base64>"}`` (the model registry's ``score.py``),
  answered with the array of rows itself;
- ``multipart/form-data`` with one file part per image, or one raw image as the whole body
  (``image/*``, ``application/octet-stream``), answered like the designer's JSON.

Base64 values may carry a ``data:image/...;base64,`` prefix, URL-safe letters, missing padding,
or the ``b'...'`` wrapper that formatting a Python ``bytes`` object leaves.
``GlobalParameters`` and ``parameters`` are accepted and not used. The JSON shapes and the row
are pydantic models in :mod:`.schemas`.

Every image gets the same row, whatever the format: the designer's scored-dataset columns
(``Scored Labels`` and ``Scored Probabilities_<class>`` for every class, in class-id order:
the full probability map) and ``top_k``, the most likely classes with their probabilities.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np
from PIL import UnidentifiedImageError
from pydantic import TypeAdapter, ValidationError

from visionblocks import errors
from visionblocks.images import open_rgb
from visionblocks.dataframe import SCORED_LABELS, probability_column
from visionblocks.service.problems import Rejected
from visionblocks.service.schemas import ARRAY, DESIGNER, DESIGNER_OUTPUT, DesignerRequest, ScoreRequest

JSON, MULTIPART, IMAGE = "json", "multipart", "image"  # body formats (a label of /metrics' request count)
JSON_TYPES = ("application/json", "text/json")
RAW_TYPES = ("application/octet-stream",)

_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.I)
_PIXELS_HINT = "Downscale the image before sending it."
_FORMATS_HINT = "Send PNG, JPEG, BMP, TIFF, WebP or another format Pillow reads."
_BYTES_REPR = re.compile(r"""^b(['"])(.*)\1$""", re.S)
_SCORE_REQUEST = TypeAdapter(ScoreRequest)
_REQUEST_ERRORS = {cls.name: cls for cls in (errors.FileParsingFailedError, errors.ColumnNotFoundError)}


@dataclass
class ImageInput:
    name: str      # how error messages point at it: a JSON path or a file name
    data: bytes


@dataclass
class ParsedRequest:
    shape: str     # DESIGNER or ARRAY: how to wrap the rows
    images: list[ImageInput]


_JSON_START = re.compile(rb"\s*[{\[]")  # the first byte that is not white space opens JSON


# -- parsing ---------------------------------------------------------------------------------------
def parse_body(content_type: str | None, body: bytes, kind: str | None = None) -> ParsedRequest:
    """The images of a request body (no decoding yet), or :class:`Rejected` saying what is wrong.
    ``kind``: the body's :func:`body_format`, when the caller has worked it out already."""
    if not body:
        raise Rejected(errors.NullOrEmptyError("The request body is empty.",
                                               hint="Send JSON with base64 images, a multipart form or an image."))
    kind = kind or body_format(content_type, body)
    if kind == MULTIPART:
        return ParsedRequest(DESIGNER, parse_multipart(content_type, body))
    if kind == JSON:
        return parse_json(body)
    return ParsedRequest(DESIGNER, [ImageInput("The request body", body)])


def body_format(content_type: str | None, body: bytes) -> str:
    """What a body is — :data:`JSON`, :data:`MULTIPART` or :data:`IMAGE` (one raw image) — by its
    Content-Type, else by its first byte."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return MULTIPART
    if media in JSON_TYPES or media.endswith("+json"):
        return JSON
    if media.startswith("image/") or media in RAW_TYPES:
        return IMAGE
    # No or another type (curl's --data-binary says x-www-form-urlencoded): JSON starts with { or [.
    return JSON if _JSON_START.match(body) else IMAGE  # a regex: lstrip() would copy the whole body


def parse_json(body: bytes) -> ParsedRequest:
    """The images of a JSON body: its shape checked by :data:`.schemas.ScoreRequest`, then each
    base64 value decoded."""
    try:
        request = _SCORE_REQUEST.validate_json(body)
    except ValidationError as exc:
        raise Rejected(designer_error(exc.errors(include_url=False)[0])) from None
    except RecursionError:  # a parser without its own depth limit would end here: the client's body, not a bug
        raise Rejected(errors.FileParsingFailedError("The request body nests too deeply to be parsed.",
                                                     hint="Send the documented JSON shapes.")) from None
    if isinstance(request, DesignerRequest):
        name, rows = request.rows
        return ParsedRequest(DESIGNER, [_row_image(row, f"Inputs.{name}[{i}]") for i, row in enumerate(rows)])
    return ParsedRequest(ARRAY, [_row_image(row, f"[{i}]") for i, row in enumerate(request)])


def _row_image(row, path: str) -> ImageInput:
    key, text = row.field
    return ImageInput(f"{path}.{key}", decode_base64(text, f"{path}.{key}"))


def designer_error(error: dict) -> errors.ModuleError:
    """The designer error for one pydantic validation error of a JSON body, naming the value by
    its JSON path. The request models' own errors are typed by designer name; pydantic's
    built-in ones are a malformed body (0049)."""
    where = json_path(error["loc"])
    kind = error["type"]
    if kind in _REQUEST_ERRORS:
        return _REQUEST_ERRORS[kind](f"{where} {error['msg']}")
    if kind == "json_invalid":
        return errors.FileParsingFailedError(f"The request body is not valid JSON: {error['ctx']['error']}.")
    if kind == "string_type":
        return errors.FileParsingFailedError(f"{where} must be a base64 string, not {_json_type(error['input'])}.")
    if kind == "list_type":
        return errors.FileParsingFailedError(f"{where} must be an array of rows.")
    if kind == "dict_type":
        return errors.FileParsingFailedError(f"{where} must be an object.")
    return errors.FileParsingFailedError(f"{where}: {error['msg']}.")


def json_path(loc: tuple) -> str:
    """``("designer", "Inputs", "WebServiceInput0", 0, "image")`` -> ``Inputs.WebServiceInput0[0].image``.
    The request's shape tag comes first in a location inside a tagged union: it is not a key."""
    if loc and loc[0] in (DESIGNER, ARRAY):
        loc = loc[1:]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return path or "The request body"


def _json_type(value) -> str:
    for kind, name in ((bool, "a boolean"), ((int, float), "a number"), (dict, "an object"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def decode_base64(text: str, name: str) -> bytes:
    """Standard or URL-safe base64, with the tolerances listed in the module docstring."""
    text = text.strip()
    wrapped = _BYTES_REPR.match(text)
    if wrapped:  # str() of base64.encodebytes output also shows its line breaks as backslash-n
        text = wrapped.group(2).replace("\\n", "")
    text = _DATA_URL.sub("", text)
    text = "".join(text.split())  # line breaks of MIME-style base64
    if not text:
        raise Rejected(errors.NullOrEmptyError(f"{name} is empty."))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text)
                                else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(errors.FileParsingFailedError(f"{name} is not valid base64: {exc}.")) from None


def parse_multipart(content_type: str, body: bytes) -> list[ImageInput]:
    """The file parts of a multipart form, in order (text fields are ignored)."""
    from python_multipart import create_form_parser
    from python_multipart.exceptions import FormParserError

    files: list[ImageInput] = []

    def on_file(part) -> None:
        part.file_object.seek(0)
        name = (part.file_name or part.field_name or b"").decode("utf-8", "replace")
        files.append(ImageInput(f"File {len(files) + 1} ({name})", part.file_object.read()))

    try:
        # The body is already in memory and capped, so file parts stay in memory too.
        parser = create_form_parser({"Content-Type": content_type}, None, on_file,
                                    config={"MAX_MEMORY_FILE_SIZE": float("inf")})
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise Rejected(errors.FileParsingFailedError(f"The multipart form could not be parsed: {exc}.")) from None
    if not files:
        raise Rejected(errors.NullOrEmptyError(
            "The multipart form holds no file part.", hint="Send each image as a file, e.g. curl -F image=@cat.jpg."))
    for item in files:
        if not item.data:
            raise Rejected(errors.NullOrEmptyError(f"{item.name} is empty."))
    return files


# -- decoding --------------------------------------------------------------------------------------
def decode_image(item: ImageInput, max_pixels: int):
    """The image as RGB by the one decoder of training and scoring
    (:func:`visionblocks.images.open_rgb`). Its pixel limit reads the header before decoding, so
    a decompression bomb (a few bytes claiming billions of pixels) costs only its header: 413."""
    if not item.data:
        raise Rejected(errors.NullOrEmptyError(f"{item.name} is empty."))
    try:
        image, _mode = open_rgb(item.data, max_pixels, name=item.name)
    except errors.ImageExceedsLimitError as exc:
        # The client cannot raise the server's limit, so the hint says what the client can do.
        raise Rejected(errors.ImageExceedsLimitError(exc.message, hint=_PIXELS_HINT)) from None
    except UnidentifiedImageError:
        raise Rejected(errors.FileParsingFailedError(
            f"{item.name} is not an image: its bytes are in no format Pillow reads.", hint=_FORMATS_HINT)) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        raise Rejected(errors.FileParsingFailedError(
            f"{item.name} is a broken image: {type(exc).__name__}: {exc}.", hint=_FORMATS_HINT)) from None
    return image


# -- responses ------------------------------------------------------------------------------------
def result_rows(probabilities: np.ndarray, classes: list[str], top_k: int) -> list[dict]:
    """One row per image: Scored Labels, Scored Probabilities_<class> for every class, top_k."""
    rows = []
    k = min(top_k, len(classes))
    for p in probabilities:
        order = np.argsort(-p, kind="stable")[:k]  # ties: the lower class id first, as argmax
        row = {SCORED_LABELS: classes[order[0]]}
        row.update({probability_column(c): float(v) for c, v in zip(classes, p)})
        row["top_k"] = [{"label": classes[i], "probability": float(p[i])} for i in order]
        rows.append(row)
    return rows


def wrap(shape: str, rows: list[dict]):
    return rows if shape == ARRAY else {"Results": {DESIGNER_OUTPUT: rows}}
