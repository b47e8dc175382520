"""The scoring service: a FastAPI app around one loaded model, and the uvicorn runner.

Routes (:mod:`.routes`): ``POST /score`` (formats in :mod:`.formats`), ``GET /health``,
``GET /metadata``, ``GET /metrics`` (Prometheus) and ``/metrics.json``, the OpenAPI description at ``/openapi.json`` and ``/docs``,
and the "try it" page at ``/``. With a key, ``/score``, ``/metadata`` and ``/metrics`` need
``Authorization: Bearer <key>``; ``/health`` stays open for load balancers and the page and
OpenAPI description hold nothing secret. No route uploads or replaces a model.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from visionblocks import __version__
from visionblocks.service import handlers, openapi, routes
from visionblocks.service.dependencies import Service, digest
from visionblocks.service.metrics import MetricsMiddleware
from visionblocks.service.serving import announce, serve
from visionblocks.service.settings import HOST, PORT, TOP_K, Batching, Limits

__all__ = ["Batching", "Limits", "create_app", "run"]
DOCS_ASSETS = "/docs/assets"


def create_app(scorer, limits: Limits = Limits(), batching: Batching = Batching(), key: str | None = None,
               top_k: int = TOP_K) -> FastAPI:
    """The app for a loaded model. ``scorer`` needs ``classes``, ``transform`` (RGB PIL image ->
    C×H×W tensor) and ``predict_tensors`` (N×C×H×W -> N×classes probabilities), as
    :class:`visionblocks.learn.score.Scorer` has; ``config`` (architecture, input_size) is shown by
    ``/metadata`` when present."""
    service = Service(scorer, limits, batching, top_k, digest(key) if key else None)
    app = FastAPI(title="visionblocks scoring service", version=__version__, lifespan=_lifespan,
                  docs_url=None, redoc_url=None,  # /docs below, served without any CDN
                  description=f"Real-time scoring with a {service.name} model ({len(scorer.classes)} classes).")
    app.state.service = service
    app.include_router(routes.router)
    handlers.install(app)
    openapi.install(app)
    _add_offline_docs(app)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, routes=_paths(app))
    return app


def _paths(app: FastAPI) -> set[str]:
    """The paths /metrics counts by name (anything else is "other": no unbounded keys): the
    router's and the app's own (the OpenAPI description, /docs). An included router shows in
    ``app.routes`` as one entry without a path, hence both lists."""
    return {route.path for route in (*routes.router.routes, *app.routes) if hasattr(route, "path")}


@asynccontextmanager
async def _lifespan(app: FastAPI):
    batcher = app.state.service.batcher
    batcher.start()
    announce(app, "scoring service")
    try:
        yield
    finally:
        # Runs after uvicorn has let the requests in flight finish: nothing is left to drop.
        batcher.close()


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


# -- running -----------------------------------------------------------------------------------------
def run(app: FastAPI, host: str = HOST, port: int = PORT, log_level: str = "info", access_log: bool = False) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; requests in flight then finish (within their timeout)
    before the worker stops."""
    limits: Limits = app.state.service.limits
    serve(app, host, port, log_level=log_level, access_log=access_log,
          timeout_graceful_shutdown=int(limits.timeout_s) + 5)
