"""The studio's API (under ``/api``) and its page (``/``, ``/assets``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse

from visionblocks import errors, ports
from visionblocks.docs.i18n import Translator
from visionblocks.messages import LANGUAGES
from visionblocks.pipeline import Pipeline
from visionblocks.plugin_host import get_registry
from visionblocks.studio import document as files
from visionblocks.studio import modules, previews, ui
from visionblocks.studio.dependencies import COOKIE, Studio, StudioDep, require_key
from visionblocks.studio.schemas import (
    CheckAnswer,
    ConnectionAnswer,
    ConnectionCheck,
    Document,
    ExplainAnswer,
    OpenRequest,
    ParamCheck,
    RunAnswer,
    RunRequest,
    SaveAnswer,
    SaveRequest,
)

KEEPALIVE_S = 15.0
Lang = Annotated[str, Query(pattern="^(" + "|".join(LANGUAGES) + ")$")]

api = APIRouter(prefix="/api", dependencies=[Depends(require_key)])
page = APIRouter()


@api.get("/session")
def session(studio: StudioDep, lang: Lang | None = None) -> dict:
    lang = lang or studio.settings.language
    return {"languages": list(LANGUAGES), "language": lang,
            "pipeline": str(studio.settings.pipeline) if studio.settings.pipeline else None,
            "out": str(studio.settings.run_folder()), "docs_url": studio.settings.docs_url}


@api.get("/ui/{lang}")
def ui_strings(lang: str) -> dict:
    if lang not in LANGUAGES:
        raise errors.NotInRangeValueError(f"Language '{lang}' is not one of {', '.join(LANGUAGES)}.")
    return ui.strings(lang)


@api.get("/modules")
def list_modules(studio: StudioDep, lang: Lang = "en") -> dict:
    tr = Translator(lang)
    described = [modules.describe(spec, tr, studio.settings.docs_url) for spec in get_registry()]
    categories = sorted({module["category"] for module in described})
    return {"categories": categories, "modules": described}


@api.post("/params/check")
def check_param(body: ParamCheck) -> CheckAnswer:
    spec = get_registry().get(body.module)
    if body.param not in {p.name for p in spec.params}:
        raise errors.ParameterParsingError(f"Module '{spec.id}' has no parameter '{body.param}'.")
    error = modules.check_value(spec, body.param, body.value, Translator(body.lang))
    return CheckAnswer(ok=error is None, error=error)


@api.post("/connection")
def check_connection(body: ConnectionCheck) -> ConnectionAnswer:
    """Whether an output may feed an input; the reason in the page's language when not."""
    registry = get_registry()
    source, target = registry.get(body.source_module), registry.get(body.target_module)
    tr = Translator(body.lang)
    out_port, in_port = source.output(body.source_port), target.input(body.target_port)
    if ports.compatible(out_port.type, in_port.type):
        return ConnectionAnswer(ok=True, source_type=out_port.type, target_type=in_port.type)
    reason = ui.text(body.lang, "connection.mismatch",
                     output=tr(f"{source.id}.output.{out_port.name}.label", out_port.label), source_type=out_port.type,
                     input=tr(f"{target.id}.input.{in_port.name}.label", in_port.label), target_type=in_port.type)
    return ConnectionAnswer(ok=False, reason=reason, source_type=out_port.type, target_type=in_port.type)


@api.get("/pipeline")
def opened(studio: StudioDep) -> Document:
    """The pipeline file the studio was started on; an empty document without one."""
    path = studio.settings.pipeline
    if path is None or not path.is_file():
        return Document(name=path.stem if path else "pipeline", path=str(path) if path else None)
    return Document(**files.load(path))


@api.post("/pipeline/open")
def open_file(body: OpenRequest, studio: StudioDep) -> Document:
    path = Path(body.path).expanduser()
    document = Document(**files.load(path))
    studio.settings.pipeline = path
    return document


@api.post("/pipeline/save")
def save(body: SaveRequest, studio: StudioDep) -> SaveAnswer:
    target = body.path or body.document.path or (str(studio.settings.pipeline) if studio.settings.pipeline else None)
    if not target:
        raise errors.NullOrEmptyError("This pipeline has no file yet.", hint="Give a file name to save it as.")
    path = Path(target).expanduser()
    document = body.document.model_dump()
    text = files.save(path, document)
    studio.settings.pipeline = path
    return SaveAnswer(path=str(path), layout_path=str(files.layout_path(path)), text=text)


def _pipeline(document: Document, studio: Studio) -> tuple[Pipeline, dict]:
    data = files.plain(files.to_data(document.model_dump()))
    base = studio.settings.pipeline.parent if studio.settings.pipeline else Path.cwd()
    return Pipeline.from_dict(data, base_dir=base), data


@api.post("/validate")
def validate(body: RunRequest, studio: StudioDep) -> dict:
    pipeline, _ = _pipeline(body.document, studio)
    return {"ok": True, "order": pipeline.validate()}


@api.post("/explain")
def explain(body: RunRequest, studio: StudioDep) -> ExplainAnswer:
    """Which node reruns on the next run, and why (``visionblocks run --explain``)."""
    pipeline, _ = _pipeline(body.document, studio)
    out = studio.settings.run_folder()
    decisions = pipeline.explain(out, force=body.force, settings=pipeline.settings(body.lang))
    return ExplainAnswer(out=str(out), decisions=[decision.as_dict() for decision in decisions])


@api.post("/run")
async def run(body: RunRequest, studio: StudioDep) -> RunAnswer:
    pipeline, data = _pipeline(body.document, studio)
    order = await asyncio.to_thread(pipeline.validate)  # looks at the external inputs on disk
    out = studio.settings.run_folder().resolve()
    current = studio.runs.start(data, pipeline.base_dir.resolve(), out, order, body.lang, body.force)
    return RunAnswer(run=current.number, order=order, out=str(out))


@api.post("/run/cancel")
def cancel(studio: StudioDep) -> dict:
    return {"cancelled": studio.runs.cancel()}


@api.get("/run/events")
async def events(request: Request, studio: StudioDep) -> StreamingResponse:
    """Server-sent events: the current run's events so far, then each new one as it happens."""
    queue, past = studio.runs.subscribe()

    async def stream():
        try:
            for event in past:
                yield f"data: {json.dumps(event)}\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(event)}\n\n"
        finally:
            studio.runs.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@api.get("/preview/{node}/{port}")
def preview(node: str, port: str, studio: StudioDep) -> dict:
    return previews.preview(studio.settings.run_folder(), node, port)


@api.get("/file/{node}/{port}/{name:path}")
def output_file(node: str, port: str, name: str, studio: StudioDep) -> FileResponse:
    return FileResponse(previews.file_in(studio.settings.run_folder(), node, port, name))


@page.get("/", include_in_schema=False)
def index(studio: StudioDep, key: str | None = None):
    """The page; ``/?key=KEY`` opens a studio started with ``--key`` (the key is kept in a cookie)."""
    index_file = studio.settings.static_dir / "index.html"
    if not index_file.is_file():
        return HTMLResponse("<h1>visionblocks studio</h1><p>The page is not built: run <code>make setup</code> "
                            "(or <code>npm ci && npm run build</code> in studio/frontend).</p>", status_code=503)
    response = FileResponse(index_file, headers={"Cache-Control": "no-store"})
    if key:
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
    return response

