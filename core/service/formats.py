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
``GlobalParameters`` and ``parameters`` are accepted and not used.

Every image gets the same row, whatever the format: the designer's scored-dataset columns
(``Scored Labels`` and ``Scored Probabilities_<class>`` for every class, in class-id order:
the full probability map) and ``top_k``, the most likely classes with their probabilities.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from visionblocks import errors
from visionblocks.images import open_rgb
from visionblocks.dataframe import SCORED_LABELS, probability_column

DESIGNER = "designer"      # {"Inputs": ...} -> {"Results": ...}
ARRAY = "array"            # [...] -> [...]
IMAGE_KEYS = ("image", "image_in_base64")
DESIGNER_INPUT = "WebServiceInput0"
DESIGNER_OUTPUT = "WebServiceOutput0"
JSON_TYPES = ("application/json", "text/json")
RAW_TYPES = ("application/octet-stream",)

_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.I)
_PIXELS_HINT = "Downscale the image before sending it."
_FORMATS_HINT = "Send PNG, JPEG, BMP, TIFF, WebP or another format Pillow reads."
_BYTES_REPR = re.compile(r"""^b(['"])(.*)\1$""", re.S)


class Rejected(Exception):
    """A request the service answers with ``status`` and the designer error ``error`` in JSON."""

    def __init__(self, status: int, error: errors.ModuleError, headers: dict | None = None):
        super().__init__(error.message)
        self.status = status
        self.error = error
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.error)


def error_body(error: errors.ModuleError) -> dict:
    body = {"code": error.code_str, "name": error.name, "message": error.message}
    if error.hint:
        body["hint"] = error.hint
    return {"error": body}


@dataclass
class ImageInput:
    name: str      # how error messages point at it: a JSON path or a file name
    data: bytes


@dataclass
class ParsedRequest:
    shape: str     # DESIGNER or ARRAY: how to wrap the rows
    images: list[ImageInput]


# -- parsing ---------------------------------------------------------------------------------------
def parse_body(content_type: str | None, body: bytes) -> ParsedRequest:
    """The images of a request body (no decoding yet), or Rejected(400) saying what is wrong."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not body:
        raise Rejected(400, errors.NullOrEmptyError("The request body is empty.",
                                                    hint="Send JSON with base64 images, a multipart form or an image."))
    if media == "multipart/form-data":
        return ParsedRequest(DESIGNER, parse_multipart(content_type, body))
    if media in JSON_TYPES or media.endswith("+json"):
        return parse_json(body)
    if media.startswith("image/") or media in RAW_TYPES:
        return ParsedRequest(DESIGNER, [ImageInput("The request body", body)])
    # No or another type (curl's --data-binary says x-www-form-urlencoded): JSON starts with { or [.
    if body.lstrip()[:1] in (b"{", b"["):
        return parse_json(body)
    return ParsedRequest(DESIGNER, [ImageInput("The request body", body)])


def parse_json(body: bytes) -> ParsedRequest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, errors.FileParsingFailedError(f"The request body is not valid JSON: {exc}.")) from None
    if isinstance(document, dict) and "Inputs" in document:
        rows, path = _designer_rows(document["Inputs"])
        return ParsedRequest(DESIGNER, [_row_image(row, f"{path}[{i}]") for i, row in enumerate(rows)])
    if isinstance(document, list):
        return ParsedRequest(ARRAY, [_row_image(row, f"[{i}]") for i, row in enumerate(document)])
    raise Rejected(400, errors.FileParsingFailedError(
        'The JSON body is neither {"Inputs": {"WebServiceInput0": [{"image": "<base64>"}, ...]}} '
        'nor an array of {"image_in_base64": "<base64>"} items.'))


def _designer_rows(inputs) -> tuple[list, str]:
    if not isinstance(inputs, dict) or not inputs:
        raise Rejected(400, errors.FileParsingFailedError(
            '"Inputs" must be an object naming an input, such as {"WebServiceInput0": [...]}.'))
    if DESIGNER_INPUT in inputs:
        name = DESIGNER_INPUT
    elif len(inputs) == 1:  # a pipeline whose Web Service Input has another name
        name = next(iter(inputs))
    else:
        raise Rejected(400, errors.FileParsingFailedError(
            f'"Inputs" names {len(inputs)} inputs and none is {DESIGNER_INPUT}; send one input.'))
    rows = inputs[name]
    if not isinstance(rows, list):
        raise Rejected(400, errors.FileParsingFailedError(f'Inputs.{name} must be an array of rows.'))
    return rows, f"Inputs.{name}"


def _row_image(row, path: str) -> ImageInput:
    if not isinstance(row, dict):
        raise Rejected(400, errors.FileParsingFailedError(f"{path} must be an object with an image field."))
    key = next((k for k in IMAGE_KEYS if k in row), None)
    if key is None:
        found = ", ".join(sorted(map(str, row))) or "none"
        raise Rejected(400, errors.ColumnNotFoundError(
            f"{path} has no image field (expected one of {', '.join(IMAGE_KEYS)}; found: {found})."))
    value = row[key]
    if not isinstance(value, str):
        raise Rejected(400, errors.FileParsingFailedError(
            f"{path}.{key} must be a base64 string, not {type(value).__name__}."))
    return ImageInput(f"{path}.{key}", decode_base64(value, f"{path}.{key}"))


def decode_base64(text: str, name: str) -> bytes:
    """Standard or URL-safe base64, with the tolerances listed in the module docstring."""
    text = text.strip()
    wrapped = _BYTES_REPR.match(text)
    if wrapped:  # str() of base64.encodebytes output also shows its line breaks as backslash-n
        text = wrapped.group(2).replace("\\n", "")
    text = _DATA_URL.sub("", text)
    text = "".join(text.split())  # line breaks of MIME-style base64
    if not text:
        raise Rejected(400, errors.NullOrEmptyError(f"{name} is empty."))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text)
                                else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(400, errors.FileParsingFailedError(f"{name} is not valid base64: {exc}.")) from None


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
        raise Rejected(400, errors.FileParsingFailedError(f"The multipart form could not be parsed: {exc}.")) from None
    if not files:
        raise Rejected(400, errors.NullOrEmptyError(
            "The multipart form holds no file part.", hint="Send each image as a file, e.g. curl -F image=@cat.jpg."))
    for item in files:
        if not item.data:
            raise Rejected(400, errors.NullOrEmptyError(f"{item.name} is empty."))
    return files


# -- decoding --------------------------------------------------------------------------------------
def check_pixels(item: ImageInput, max_pixels: int) -> None:
    """413 when the image's header claims more than ``max_pixels``: nothing is decoded yet, so a
    decompression bomb (a few bytes claiming billions of pixels) costs only its header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit decides
            with Image.open(io.BytesIO(item.data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise Rejected(413, errors.ImageExceedsLimitError(
            f"{item.name} claims more pixels than Pillow ever decodes; the limit is {max_pixels:,} pixels per image.",
            hint=_PIXELS_HINT)) from None
    except Exception:  # noqa: BLE001 - not an image: decode_image says so
        return
    if width * height > max_pixels:
        raise Rejected(413, errors.ImageExceedsLimitError(
            f"{item.name} is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels "
            "per image.", hint=_PIXELS_HINT))


def decode_image(item: ImageInput, max_pixels: int):
    """The image as RGB (the shared conversion of training and scoring), after :func:`check_pixels`."""
    if not item.data:
        raise Rejected(400, errors.NullOrEmptyError(f"{item.name} is empty."))
    check_pixels(item, max_pixels)
    try:
        image, _mode = open_rgb(item.data, max_pixels)
    except UnidentifiedImageError:
        raise Rejected(400, errors.FileParsingFailedError(
            f"{item.name} is not an image: its bytes are in no format Pillow reads.", hint=_FORMATS_HINT)) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        raise Rejected(400, errors.FileParsingFailedError(
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
