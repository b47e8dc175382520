"""The pydantic models of the studio's API: what the page sends and what it gets back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from visionblocks.messages import LANGUAGES

NAME = r"^[\w-]+$"  # node ids and port names, as the pipeline's edge syntax allows them
LANGUAGE = "^(" + "|".join(LANGUAGES) + ")$"


class NodeDoc(BaseModel):
    id: str = Field(pattern=NAME, max_length=200)
    module: str = Field(max_length=200)
    params: dict[str, Any] = {}
    inputs: dict[str, str] = {}


class EdgeDoc(BaseModel):
    source: str = Field(pattern=NAME)
    source_port: str = Field(pattern=NAME)
    target: str = Field(pattern=NAME)
    target_port: str = Field(pattern=NAME)


class Position(BaseModel):
    x: float
    y: float


class Document(BaseModel):
    """A pipeline as the canvas holds it: the file's content plus the layout (side file)."""

    name: str = "pipeline"
    nodes: list[NodeDoc] = []
    edges: list[EdgeDoc] = []
    options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    layout: dict[str, Position] = {}
    path: str | None = None


class ErrorAnswer(BaseModel):
    """A designer error: ``message`` is the error's message in the page's language; ``detail`` the
    specific English sentence naming the parameter, node or file; ``hint`` what to do."""

    code: str
    name: str
    message: str
    detail: str = ""
    hint: str = ""


class ParamCheck(BaseModel):
    module: str
    param: str
    value: Any = None
    lang: str = Field("en", pattern=LANGUAGE)


class CheckAnswer(BaseModel):
    ok: bool
    error: ErrorAnswer | None = None


class ConnectionCheck(BaseModel):
    source_module: str
    source_port: str
    target_module: str
    target_port: str
    lang: str = Field("en", pattern=LANGUAGE)


class ConnectionAnswer(BaseModel):
    ok: bool
    reason: str = ""
    source_type: str = ""
    target_type: str = ""


class SaveRequest(BaseModel):
    document: Document
    path: str | None = None  # another file ("save as"); None: the document's own


class SaveAnswer(BaseModel):
    path: str
    layout_path: str
    text: str


class OpenRequest(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


class RunRequest(BaseModel):
    document: Document
    lang: str = Field("en", pattern=LANGUAGE)
    force: bool = False


class RunAnswer(BaseModel):
    run: int
    order: list[str]
    out: str


class Decision(BaseModel):
    id: str
    module: str
    status: str  # "reuse" or "rerun"
    reasons: list[dict[str, Any]]


class ExplainAnswer(BaseModel):
    out: str
    decisions: list[Decision]
