"""The studio: a FastAPI app (the API of :mod:`.routes` and the built page), and its runner.

Every error is answered as a designer error in JSON (code, name, the message in the language of
the page's ``Accept-Language``, the English detail, the hint): a bad value, file or pipeline is
the user's and gets a 4xx, never a traceback. The body limit is checked before a body is read;
on a loopback address only requests naming it in their Host header are answered.

Open and Save take any path the studio's user may read or write: the studio is that user's own
tool, on their own machine. Opened to the network (``--host``), it needs its key.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from visionblocks import __version__, errors
from visionblocks.docs.i18n import Translator
from visionblocks.messages import LANGUAGES
from visionblocks.service.limits import body_too_large, check_content_length
from visionblocks.service.problems import Rejected, UnauthorizedError
from visionblocks.service.serving import announce, serve
from visionblocks.service.settings import Limits
from visionblocks.studio import modules, routes
from visionblocks.studio.dependencies import Studio
from visionblocks.studio.runs import RunBusyError
from visionblocks.studio.settings import StudioSettings

# The studio's one table of statuses: everything it is sent is the user's to fix, so a designer
# error is a 400 unless it says otherwise.
STATUS = {UnauthorizedError: 401, RunBusyError: 409}


def create_app(settings: StudioSettings) -> FastAPI:
    app = FastAPI(title="visionblocks studio", version=__version__, lifespan=_lifespan, docs_url=None,
                  redoc_url=None)
    app.state.studio = Studio(settings)
    app.include_router(routes.api)
    app.include_router(routes.page)
    assets = settings.static_dir / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")
    app.add_exception_handler(Rejected, _rejected)
    app.add_exception_handler(errors.ModuleError, _designer_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(KeyError, _unknown_name)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, limits=Limits(max_body_bytes=settings.max_body_bytes))
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts())
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    announce(app, "studio")
    try:
        yield
    finally:
        app.state.studio.runs.stop()


def _language(request: Request) -> str:
    lang = (request.headers.get("accept-language") or "en")[:2].lower()
    return lang if lang in LANGUAGES else "en"


def error_response(request: Request, error: errors.ModuleError, status: int | None = None,
                   headers: dict | None = None) -> JSONResponse:
    status = status or next((code for cls, code in STATUS.items() if isinstance(error, cls)), 400)
    return JSONResponse({"error": modules.error_answer(error, Translator(_language(request)))}, status, headers=headers)


async def _rejected(request: Request, exc: Rejected) -> JSONResponse:
    return error_response(request, exc.error, exc.status, exc.headers)


async def _designer_error(request: Request, exc: errors.ModuleError) -> JSONResponse:
    return error_response(request, exc)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(request, errors.ParameterParsingError(f"Invalid request: {problems}."))


async def _unknown_name(request: Request, exc: KeyError) -> JSONResponse:
    """A port or parameter a module does not have (ModuleSpec.input/output/param)."""
    return error_response(request, errors.NotInRangeValueError(str(exc.args[0]) if exc.args else str(exc)))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request, errors.LibraryError(f"Library Error - {type(exc).__name__}: {exc}"), 500)


class BodyLimit:
    """An ASGI middleware: 413 (0007) when the declared body is over the limit, and when a body
    without a declared length passes it while being read."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            length = headers.get(b"content-length")
            check_content_length(length.decode("latin-1") if length else None, self.limits)
        except Rejected as exc:
            return await _answer(scope, receive, send, exc)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limits.max_body_bytes:
                raise body_too_large(seen, self.limits)
            return message

        try:
            await self.app(scope, limited, send)
        except Rejected as exc:
            await _answer(scope, receive, send, exc)


async def _answer(scope, receive, send, exc: Rejected) -> None:
    response = error_response(Request(scope, receive), exc.error, exc.status, exc.headers)
    await response(scope, receive, send)


def run(app: FastAPI, host: str, port: int, log_level: str = "warning") -> None:
    """Serve ``app`` until SIGINT/SIGTERM, on a socket bound first (``--port 0``: the real address
    is printed)."""
    # The page's event stream stays open: one second of grace, then the server stops.
    serve(app, host, port, log_level=log_level, timeout_graceful_shutdown=1)
