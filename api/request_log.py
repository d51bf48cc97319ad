"""Structured JSON logs with a request id on every line logged while a request is handled.

The id comes from a well-formed ``X-Request-ID`` header or is generated, and is echoed in the response
(api/edge.py). Lines are encoded with orjson: one request, one line, without the cost of ``json.dumps``.
Only method, route path, status and duration are logged: never headers, so never an API key.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Scope

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
log = logging.getLogger("latentspace.request")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # what orjson refuses (an int beyond 64 bits, a non-str key): the slow path
            return json.dumps(line, default=str)


def log_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """A logging.dictConfig for ``latentspace serve`` (also handed to uvicorn as its log_config)."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": "%(levelname)s %(name)s %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"uvicorn.access": {"level": "WARNING"}},  # RequestLog writes one line per request
    }


def request_id_for(headers: dict[bytes, bytes]) -> str:
    """The request's id: its well-formed ``X-Request-ID``, else a new random one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1")
    return given if _VALID_ID.match(given) else uuid.uuid4().hex


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """The one line per request (api/edge.py calls it once the response is out, or failed).

    The record is made and handled directly: ``Logger.info`` would first walk the stack to find its
    caller (``findCaller``), which costs more than the rest of the line and is never printed. Level,
    filters and handlers apply as for any other record.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    fields = {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "route": getattr(scope.get("route"), "path", None),
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "api_key_prefix": scope.get("state", {}).get("api_key_prefix"),
    }
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "request", (), None, "log_request", fields))
