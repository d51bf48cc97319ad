"""The one place that maps errors to JSON responses: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import LatentspaceError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: object | None = None) -> dict:
    body: dict = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LatentspaceError)
    async def _latentspace(_request: Request, exc: LatentspaceError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body("invalid_request", "request failed validation", details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    # Unexpected exceptions are not handled here but by api/edge.py: a handler for Exception runs in
    # Starlette's ServerErrorMiddleware, which re-raises after answering, and uvicorn then logged the same
    # traceback a second time.


def error_json(code: str, message: str) -> bytes:
    """The encoded body of :func:`error_body` (for the layers that answer before FastAPI's handlers)."""
    return json.dumps(error_body(code, message)).encode()
