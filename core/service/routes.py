"""The service's routes. Each one answers from the :class:`.dependencies.Service` of its app;
what they answer is a model of :mod:`.schemas`, which FastAPI checks and documents.

A scoring request never computes on the event loop: the body is parsed, decoded and transformed
in the thread pool, and the forward pass runs on the batcher's worker thread, so ``/health``
answers at once however busy the model is.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from visionblocks import __version__, errors
from visionblocks.service.batching import QueueFull
from visionblocks.service.dependencies import Service, ServiceDep, require_key
from visionblocks.service.formats import body_format, decode_image, parse_body, result_rows, wrap
from visionblocks.service.limits import check_content_length, check_image_count, read_body
from visionblocks.service.metrics import METRICS_PATH, SCORE_PATH, note_format, precision_name
from visionblocks.service.openapi import error_responses
from visionblocks.service.problems import Rejected, RequestTimeoutError, ServiceBusyError
from visionblocks.service.schemas import PROMETHEUS_RESPONSE, Health, Metadata, MetricsReport, ScoreResponse

router = APIRouter()
_keyed = [Depends(require_key)]
_TRY_PAGE = resources.files(__package__).joinpath("try.html").read_text(encoding="utf-8")


@router.get("/", include_in_schema=False)
async def try_page() -> HTMLResponse:
    return HTMLResponse(_TRY_PAGE)


@router.get("/health", response_model=Health, summary="Liveness: answers at once, even while the model is busy")
async def health(service: ServiceDep) -> Health:
    return Health(status="ok", queued_images=service.batcher.pending)


@router.get("/metadata", response_model=Metadata, summary="The model and the service's settings",
            dependencies=_keyed, responses=error_responses(401))
async def metadata(service: ServiceDep) -> Metadata:
    scorer = service.scorer
    config = getattr(scorer, "config", {}) or {}
    return Metadata(version=__version__, model=service.name, architecture=config.get("architecture"),
                    input_size=config.get("input_size"), classes=list(scorer.classes),
                    transform=getattr(scorer, "transform_ops", None), device=str(getattr(scorer, "device", "cpu")),
                    precision=precision_name(scorer), top_k=service.top_k,
                    limits=service.limits, batching=service.batching)


@router.get(METRICS_PATH, response_class=Response, summary="Metrics in the Prometheus text format",
            dependencies=_keyed, responses={200: PROMETHEUS_RESPONSE, **error_responses(401)})
async def prometheus_metrics(request: Request, service: ServiceDep) -> Response:
    body, content_type = service.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)


@router.get(f"{METRICS_PATH}.json", response_model=MetricsReport,
            summary="Request counts, batch sizes and latency percentiles, as JSON",
            dependencies=_keyed, responses=error_responses(401))
async def metrics_json(service: ServiceDep) -> MetricsReport:
    sizes = service.batcher.batch_sizes()
    return MetricsReport(**service.metrics.snapshot(), queued_images=service.batcher.pending,
                         forward_passes=sum(sizes.values()), batch_sizes={str(k): v for k, v in sizes.items()})


@router.post(SCORE_PATH, response_model=ScoreResponse, summary="Score images", dependencies=_keyed,
             responses={200: {"description": "One row per image, in the request's order: an array for an array "
                                             "request, the designer's Results object for every other format."},
                        **error_responses(400, 401, 413, 503, 504)})
async def score(request: Request, service: ServiceDep,
                top_k: Annotated[int | None, Query(ge=1, description="How many classes top_k lists "
                                                                    "(default: /metadata's top_k).")] = None):
    # The body is read here, not by FastAPI, so that each limit is checked before its cost.
    limits = service.limits
    try:
        service.batcher.ensure_room(1)  # shed load before reading the body
        async with asyncio.timeout(limits.timeout_s):
            check_content_length(request.headers.get("content-length"), limits)
            body = await read_body(request.stream(), limits)
            content_type = request.headers.get("content-type")
            kind = body_format(content_type, body) if body else None
            if kind:
                note_format(request, kind)
            shape, tensors = await run_in_threadpool(prepare, service, content_type, body, kind)
            probabilities = await service.batcher.predict_async(tensors)
    except TimeoutError:
        raise Rejected(RequestTimeoutError(
            f"Scoring took longer than the {limits.timeout_s:g} s allowed per request.",
            hint="Send fewer images per request, or retry when the service is less busy.")) from None
    except QueueFull as exc:
        raise Rejected(ServiceBusyError(f"The service is busy: {exc}", hint=f"Retry after {exc.retry_after_s} s."),
                       headers={"Retry-After": str(exc.retry_after_s)}) from None
    except ClientDisconnect:  # nobody is left to answer; 499 only shows in the metrics
        return Response(status_code=499)
    service.metrics.add_images(len(tensors))
    return wrap(shape, result_rows(probabilities, service.scorer.classes, top_k or service.top_k))


def prepare(service: Service, content_type: str | None, body: bytes, kind: str | None = None) -> tuple[str, list]:
    """Parse, decode and transform (in the thread pool: this is CPU work): the response's shape
    and one tensor per image. ``kind``: the body's format, as the route worked it out."""
    parsed = parse_body(content_type, body, kind)
    check_image_count(len(parsed.images), service.limits)
    tensors = []
    for item in parsed.images:
        image = decode_image(item, service.limits.max_pixels)
        try:
            tensors.append(service.scorer.transform(image))
        except Exception as exc:  # noqa: BLE001 - e.g. an image too small for the stored transform
            raise Rejected(errors.FileParsingFailedError(
                f"{item.name} could not go through the model's transformation: "
                f"{type(exc).__name__}: {exc}.")) from None
    return parsed.shape, tensors
