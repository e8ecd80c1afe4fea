"""The OME envelope and the one way an error leaves the API.

Every answer, success or failure, is ``{"statusCode", "message"[, "response"]}``; errors carry
``[HTTP] <text> (<code>)`` and never a stack trace, because OME clients parse that message and
a trace would leak internals. Handlers here are the only place that turns exceptions into HTTP.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

JSON_MEDIA_TYPE = "application/json"


class ApiError(Exception):
    """An answer other than 200: the status and the text between ``[HTTP]`` and ``(code)``."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}

    @property
    def message(self) -> str:
        return error_message(self.status, self.text)


def error_message(status: int, text: str) -> str:
    return f"[HTTP] {text} ({status})"


def error_body(status: int, text: str) -> dict[str, Any]:
    return {"statusCode": status, "message": error_message(status, text)}


def ok_body(response: Any) -> dict[str, Any]:
    return {"statusCode": 200, "message": "OK", "response": response}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.status, error.text), status_code=error.status, headers=error.headers
    )


def not_found(request: Request) -> ApiError:
    # the raw path: request.url would read a leading "//" as a host name
    return ApiError(404, f"Could not find the resource: {request.method} {request.scope['path']}")


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Starlette says 405 for a known path with another method; OME (and our spec) says 404.
    if exc.status_code in (404, 405):
        return error_response(not_found(request))
    return error_response(ApiError(exc.status_code, str(exc.detail)))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    # The routes parse bodies themselves, so this only fires for malformed path parameters.
    return error_response(ApiError(400, "Invalid request"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error serving %s %s", request.method, request.scope["path"],
              exc_info=exc)
    return error_response(ApiError(500, "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
