"""The pydantic models of every request and response of the service: one source for parsing
JSON bodies, for checking what the routes answer, and for the OpenAPI description.

Request models check shape only; what a value holds (base64, an image) is checked afterwards by
:mod:`.formats`, which names the failing value by its JSON path. The errors the request
validators raise are :class:`PydanticCustomError` whose type is the designer error's name
(``FileParsingFailed``, ``ColumnNotFound``), so :func:`.formats.parse_json` turns any validation
error into the designer's 400 without a second table of messages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, WithJsonSchema, field_validator, \
    model_serializer, model_validator
from pydantic_core import PydanticCustomError

from visionblocks.dataframe import PROBABILITY_PREFIX, SCORED_LABELS
from visionblocks.service.settings import Batching, Limits

DESIGNER = "designer"      # {"Inputs": ...} -> {"Results": ...}
ARRAY = "array"            # [...] -> [...]
IMAGE_KEYS = ("image", "image_in_base64")  # the first one present is the image
DESIGNER_INPUT = "WebServiceInput0"
DESIGNER_OUTPUT = "WebServiceOutput0"
NEITHER = ('is neither {"Inputs": {"WebServiceInput0": [{"image": "<base64>"}, ...]}} '
           'nor an array of {"image_in_base64": "<base64>"} items.')

Base64Text = Annotated[str, WithJsonSchema({
    "type": "string", "format": "byte",
    "description": "An image file (PNG, JPEG, ...) in base64: standard or URL-safe letters, padding optional, "
                   "a data:image/...;base64, prefix and the b'...' wrapper of a formatted Python bytes allowed."})]


def _optional(schema: dict) -> None:
    """A key that may be absent but is never null: its schema shows no ``default: null``."""
    schema.pop("default", None)


# -- requests --------------------------------------------------------------------------------------
class ImageItem(BaseModel):
    """One image: a row of the designer's input, or an item of the older array."""

    model_config = ConfigDict(
        title="Image item",
        # The designer's rows may carry other columns; they are not used.
        json_schema_extra={"anyOf": [{"required": [key]} for key in IMAGE_KEYS]})

    image: Base64Text = Field(None, json_schema_extra=_optional,
                              description="The image (the designer's column; the model registry's score.py rows).")
    image_in_base64: Base64Text = Field(None, json_schema_extra=_optional,
                                        description="The image (the older Computer Vision package's items).")
    parameters: dict[str, Any] | None = Field(None, description="Accepted and not used.")

    @model_validator(mode="before")
    @classmethod
    def _has_an_image(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError("FileParsingFailed", "must be an object with an image field.")
        if not any(key in value for key in IMAGE_KEYS):
            found = ", ".join(sorted(map(str, value))) or "none"
            raise PydanticCustomError("ColumnNotFound", "has no image field (expected one of {expected}; found: "
                                      "{found}).", {"expected": ", ".join(IMAGE_KEYS), "found": found})
        return value

    @property
    def field(self) -> tuple[str, str]:
        """(key, base64 text) of the image."""
        key = next(k for k in IMAGE_KEYS if k in self.model_fields_set)
        return key, getattr(self, key)


class DesignerRequest(BaseModel):
    """The designer's real-time endpoint request."""

    model_config = ConfigDict(title="Designer request")

    inputs: dict[str, list[ImageItem]] = Field(
        alias="Inputs", min_length=1,
        description=f"One input: {DESIGNER_INPUT}, or the one input of a pipeline whose Web Service Input has "
                    "another name. Its rows are the images.")
    global_parameters: dict[str, Any] | None = Field(None, alias="GlobalParameters",
                                                     description="Accepted and not used.")

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, inputs: Any) -> Any:
        """Keep the input to score before its rows are validated: other inputs are not read."""
        if not isinstance(inputs, dict) or not inputs:
            raise PydanticCustomError("FileParsingFailed", 'must be an object naming an input, such as '
                                      '{"WebServiceInput0": [...]}.')
        if DESIGNER_INPUT in inputs:
            return {DESIGNER_INPUT: inputs[DESIGNER_INPUT]}
        if len(inputs) == 1:
            return inputs
        raise PydanticCustomError("FileParsingFailed", "names {count} inputs and none is {name}; send one input.",
                                  {"count": len(inputs), "name": DESIGNER_INPUT})

    @property
    def rows(self) -> tuple[str, list[ImageItem]]:
        """(input name, rows) of the one input kept."""
        return next(iter(self.inputs.items()))


def _request_shape(value: Any) -> str | None:
    if isinstance(value, dict) and "Inputs" in value:
        return DESIGNER
    return ARRAY if isinstance(value, list) else None


# The JSON body: tagged by its shape, so a malformed designer request is not also reported as
# a malformed array (validation errors carry the tag first in their location).
ScoreRequest = Annotated[
    Annotated[DesignerRequest, Tag(DESIGNER)] | Annotated[list[ImageItem], Tag(ARRAY)],
    Discriminator(_request_shape, custom_error_type="FileParsingFailed", custom_error_message=NEITHER)]


class ImageFiles(BaseModel):
    """A multipart form: every file part is an image, whatever its field name; text fields are ignored."""

    model_config = ConfigDict(title="Image files")

    images: list[bytes] = Field(description="One file part per image (curl -F images=@cat.png).")


RawImage = Annotated[bytes, Field(description="One image file as the whole body.")]

# Media type -> the body's model, for the OpenAPI description (formats.parse_body chooses the
# parser by the same media types).
REQUEST_BODIES: dict[str, Any] = {
    "application/json": ScoreRequest,
    "multipart/form-data": ImageFiles,
    "image/*": RawImage,
    "application/octet-stream": RawImage,
}


# -- responses -------------------------------------------------------------------------------------
class RankedClass(BaseModel):
    label: str
    probability: float = Field(description="Between 0 and 1.")


class ScoredRow(BaseModel):
    """One image's row: Score Image Model's scored-dataset columns, then ``top_k``.

    The probability keys are named after the model's classes, so the schema gives them as
    additional number properties; ``/metadata`` lists the classes."""

    model_config = ConfigDict(
        title="Scored row", extra="allow",
        json_schema_extra={"description": f"{SCORED_LABELS}, then one {PROBABILITY_PREFIX}<class> number per "
                                          "class of /metadata's classes, in class-id order (the full probability "
                                          "map, the scored dataset's columns), then top_k."})
    __pydantic_extra__: dict[str, float] = Field(init=False)

    scored_labels: str = Field(alias=SCORED_LABELS, description="The most likely class.")
    top_k: list[RankedClass] = Field(description="The most likely classes, most likely first; "
                                                 "ties by class id, as Scored Labels.")

    @model_serializer(mode="wrap")
    def _top_k_last(self, handler):  # no return annotation: the schema stays the model's own
        """Fields come before the extra keys in pydantic's output; the row keeps the scored
        dataset's column order with top_k after it."""
        row = handler(self)
        row["top_k"] = row.pop("top_k")
        return row


class DesignerResults(BaseModel):
    output: list[ScoredRow] = Field(alias=DESIGNER_OUTPUT)


class DesignerResponse(BaseModel):
    """The designer's real-time endpoint response (for designer JSON, multipart and raw bodies)."""

    model_config = ConfigDict(title="Designer response")
    results: DesignerResults = Field(alias="Results")


ScoreResponse = DesignerResponse | list[ScoredRow]


class ErrorDetail(BaseModel):
    code: str = Field(pattern=r"^\d{4}$", description="The designer error code, four digits.", examples=["0127"])
    name: str = Field(description="The designer error name.", examples=["ImageExceedsLimit"])
    message: str = Field(description="What is wrong.")
    hint: str = Field(None, json_schema_extra=_optional, description="What to do (absent when nothing helps).")


class ErrorResponse(BaseModel):
    """Every error answer of the service (404 and 405 keep FastAPI's own body)."""

    model_config = ConfigDict(title="Error")
    error: ErrorDetail

    @classmethod
    def of(cls, error) -> dict:
        """The JSON body for a designer error."""
        hint = {"hint": error.hint} if error.hint else {}
        detail = ErrorDetail(code=error.code_str, name=error.name, message=error.message, **hint)
        return cls(error=detail).model_dump(exclude_unset=True)


class Health(BaseModel):
    status: Literal["ok"]
    queued_images: int = Field(ge=0, description="Images waiting for or in a forward pass.")


class Metadata(BaseModel):
    version: str = Field(description="The visionblocks version.")
    model: str = Field(description="The architecture, or the scorer's class name.")
    architecture: str | None
    input_size: list[int] | None = Field(description="C, H, W of the model's input.")
    classes: list[str] = Field(description=f"The classes, in class-id order: the {PROBABILITY_PREFIX}<class> keys.")
    transform: list | None = Field(description="The stored transformation's operations.")
    device: str
    precision: str | None
    top_k: int = Field(description="Classes listed in top_k when the request does not say.")
    limits: Limits
    batching: Batching


# /metrics answers Prometheus text, not a model: its OpenAPI entry says so by hand.
PROMETHEUS_RESPONSE = {
    "description": "The metrics in the Prometheus text format 0.0.4 (OpenMetrics when the Accept header "
                   "asks for application/openmetrics-text); /metrics.json has a JSON summary.",
    "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
}


class LatencyPercentiles(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None
    window: int = Field(description="Scoring requests the percentiles are taken over (the most recent).")


class MetricsReport(BaseModel):
    uptime_s: float
    requests: dict[str, dict[str, int]] = Field(description="Route -> HTTP status -> count; unknown paths "
                                                            "are counted as 'other'.")
    images_scored: int
    score_latency_ms: LatencyPercentiles
    queued_images: int
    forward_passes: int
    batch_sizes: dict[str, int] = Field(description="Images in a forward pass -> how many passes had that many.")
