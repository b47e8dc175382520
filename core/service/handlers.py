"""Every error answer: a designer error as JSON, its status from :mod:`.problems`.

A client's mistake never reaches the last handler, so it never logs a traceback; only a bug
does (Starlette logs what the ``Exception`` handler answers, as it should for a 500).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from visionblocks import errors
from visionblocks.service.problems import Rejected, status_of
from visionblocks.service.schemas import ErrorResponse


def install(app: FastAPI) -> None:
    app.add_exception_handler(Rejected, _rejected)
    app.add_exception_handler(errors.ModuleError, _designer_error)
    app.add_exception_handler(RequestValidationError, _invalid_parameter)
    app.add_exception_handler(Exception, _unexpected)


def error_response(error: errors.ModuleError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse.of(error), status_of(error), headers=headers)


async def _rejected(_request: Request, exc: Rejected) -> JSONResponse:
    return error_response(exc.error, exc.headers)


async def _designer_error(_request: Request, exc: errors.ModuleError) -> JSONResponse:
    """A designer error raised by shared code (the image decoder, the scorer) without a Rejected."""
    return error_response(exc)


async def _invalid_parameter(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """Query and header validation: the designer's 400 ParameterParsing, not FastAPI's 422. (The
    body is never validated by FastAPI: :func:`.formats.parse_body` reads it.)"""
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(errors.ParameterParsingError(f"Invalid request parameter: {problems}."))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(errors.LibraryError(f"Library Error - {type(exc).__name__}: {exc}"))
