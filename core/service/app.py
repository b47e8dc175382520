"""The scoring service: a FastAPI app around one loaded model, and the uvicorn runner.

Routes: ``POST /score`` (formats in :mod:`.formats`), ``GET /health``, ``GET /metadata``,
``GET /metrics``, the OpenAPI description at ``/openapi.json`` and ``/docs``, and the "try it"
page at ``/``. With a key, ``/score``, ``/metadata`` and ``/metrics`` need
``Authorization: Bearer <key>``; ``/health`` stays open for load balancers and the page and
OpenAPI description hold nothing secret. No route uploads or replaces a model.

A scoring request never computes on the event loop: the body is parsed, decoded and transformed
in the thread pool, and the forward pass runs on the batcher's worker thread, so ``/health``
answers at once however busy the model is.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from importlib import resources

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from visionblocks import __version__, errors
from visionblocks.service import openapi
from visionblocks.service.batching import MicroBatcher, QueueFull
from visionblocks.service.formats import Rejected, decode_image, error_body, parse_body, result_rows, wrap
from visionblocks.service.limits import Limits, check_content_length, check_image_count, read_body
from visionblocks.service.metrics import Metrics, MetricsMiddleware

ROUTES = {"/", "/health", "/metadata", "/metrics", "/score", "/docs", "/openapi.json"}
DOCS_ASSETS = "/docs/assets"


@dataclass(frozen=True)
class Batching:
    """``max_batch``: images in one forward pass (1 = no micro-batching). ``max_wait_ms``: how long
    the oldest queued image may wait for others to join its batch."""

    max_batch: int = 32
    max_wait_ms: float = 5.0


def create_app(scorer, limits: Limits = Limits(), batching: Batching = Batching(), key: str | None = None,
               top_k: int = 5) -> FastAPI:
    """The app for a loaded model. ``scorer`` needs ``classes``, ``transform`` (RGB PIL image ->
    C×H×W tensor) and ``predict_tensors`` (N×C×H×W -> N×classes probabilities), as
    :class:`visionblocks.learn.score.Scorer` has; ``config`` (architecture, input_size) is shown by
    ``/metadata`` when present."""
    batcher = MicroBatcher(scorer.predict_tensors, batching.max_batch, batching.max_wait_ms / 1000.0,
                           limits.max_queue)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        url = getattr(app.state, "url", None)
        if url:
            print(f"visionblocks: scoring service ready at {url}", flush=True)
        try:
            yield
        finally:
            # Runs after uvicorn has let the requests in flight finish: nothing is left to drop.
            batcher.close()

    app = FastAPI(title="visionblocks scoring service", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # /docs below, served without any CDN
                  description=f"Real-time scoring with a {scorer_name(scorer)} model "
                              f"({len(scorer.classes)} classes).")
    app.state.scorer, app.state.batcher, app.state.metrics, app.state.limits = scorer, batcher, metrics, limits
    _add_offline_docs(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=ROUTES)
    bearer = HTTPBearer(auto_error=False, description="The key given to `visionblocks serve --key`.")
    key_digest = hashlib.sha256(key.encode()).digest() if key else None

    def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if key_digest is None:
            return
        given = hashlib.sha256(credentials.credentials.encode()).digest() if credentials else b""
        if not hmac.compare_digest(given, key_digest):  # constant time, same length by hashing
            raise Rejected(401, errors.ModuleError(
                "This service needs a key: send the header Authorization: Bearer <key>."
                if credentials is None else "The key is not the service's key."),
                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Rejected)
    async def rejected(_request, exc: Rejected):
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse(error_body(errors.ParameterParsingError(f"Invalid request parameter: {problems}.")), 400)

    @app.exception_handler(Exception)
    async def unexpected(_request, exc: Exception):
        error = errors.LibraryError(f"Library Error - {type(exc).__name__}: {exc}")
        return JSONResponse(error_body(error), 500)

    page = resources.files(__package__).joinpath("try.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def try_page() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", summary="Liveness: answers at once, even while the model is busy")
    async def health() -> dict:
        return {"status": "ok", "queued_images": batcher.pending}

    @app.get("/metadata", summary="The model and the service's settings", dependencies=[Depends(require_key)])
    async def metadata() -> dict:
        config = getattr(scorer, "config", {}) or {}
        precision = getattr(scorer, "precision", None)
        return {
            "version": __version__,
            "model": scorer_name(scorer),
            "architecture": config.get("architecture"),
            "input_size": config.get("input_size"),
            "classes": list(scorer.classes),
            "transform": getattr(scorer, "transform_ops", None),
            "device": str(getattr(scorer, "device", "cpu")),
            "precision": getattr(precision, "name", precision),
            "top_k": top_k,
            "limits": limits.as_dict(),
            "batching": asdict(batching),
        }

    @app.get("/metrics", summary="Request counts, batch sizes and latency percentiles",
             dependencies=[Depends(require_key)])
    async def get_metrics() -> dict:
        sizes = batcher.batch_sizes()
        return {**metrics.snapshot(), "queued_images": batcher.pending,
                "forward_passes": sum(sizes.values()), "batch_sizes": {str(k): v for k, v in sizes.items()}}

    def prepare(content_type: str | None, body: bytes):
        """Parse, decode and transform (in the thread pool: this is CPU work)."""
        parsed = parse_body(content_type, body)
        check_image_count(len(parsed.images), limits)
        tensors = []
        for item in parsed.images:
            image = decode_image(item, limits.max_pixels)
            try:
                tensors.append(scorer.transform(image))
            except Exception as exc:  # noqa: BLE001 - e.g. an image too small for the stored transform
                raise Rejected(400, errors.FileParsingFailedError(
                    f"{item.name} could not go through the model's transformation: "
                    f"{type(exc).__name__}: {exc}.")) from None
        return parsed.shape, tensors

    @app.post("/score", summary="Score images", dependencies=[Depends(require_key)],
              openapi_extra=openapi.score_request_body(), responses=openapi.score_responses(scorer.classes))
    async def score(request: Request,
                    k: int = Query(top_k, alias="top_k", ge=1, description="How many classes top_k lists.")):
        try:
            batcher.ensure_room(1)  # shed load before reading the body
            async with asyncio.timeout(limits.timeout_s):
                check_content_length(request.headers.get("content-length"), limits)
                body = await read_body(request.stream(), limits)
                shape, tensors = await run_in_threadpool(prepare, request.headers.get("content-type"), body)
                probabilities = await batcher.predict_async(tensors)
        except TimeoutError:
            raise Rejected(504, errors.FailedToCompleteOperationError(
                f"Scoring took longer than the {limits.timeout_s:g} s allowed per request.",
                hint="Send fewer images per request, or retry when the service is less busy.")) from None
        except QueueFull as exc:
            raise _busy(exc) from None
        except ClientDisconnect:  # nobody is left to answer; 499 only shows in /metrics
            return Response(status_code=499)
        metrics.add_images(len(tensors))
        return JSONResponse(wrap(shape, result_rows(probabilities, scorer.classes, k)))

    return app


def _busy(exc: QueueFull) -> Rejected:
    return Rejected(503, errors.FailedToCompleteOperationError(
        f"The service is busy: {exc}", hint=f"Retry after {exc.retry_after_s} s."),
        headers={"Retry-After": str(exc.retry_after_s)})


def scorer_name(scorer) -> str:
    config = getattr(scorer, "config", {}) or {}
    return config.get("architecture") or type(scorer).__name__


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = any free port), bound before the server starts, so the real
    address can be printed and nothing else can take the port meanwhile."""
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info",
        access_log: bool = False) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; requests in flight then finish (within their timeout)
    before the worker stops."""
    import uvicorn

    sock = bind(host, port)
    app.state.url = url_of(sock)
    limits: Limits = app.state.limits
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on",
                            timeout_graceful_shutdown=int(limits.timeout_s) + 5)
    uvicorn.Server(config).run(sockets=[sock])


def _add_offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the files of the swagger-ui-bundle-v2 package: FastAPI's own
    page loads them from a CDN, which a service on an isolated machine cannot reach."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")
