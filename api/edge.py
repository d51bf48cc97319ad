"""Everything the API does around a request, in one pure ASGI layer that each request crosses once.

In order, as the five nested middlewares it replaces did them (issue 17: each nesting re-wrapped
``send`` and ``receive`` and added a frame to every message):

1. the request id (``X-Request-ID`` if well formed, else generated; echoed on every response) and the
   one JSON log line per request (api/request_log.py);
2. the catch-all: an exception nothing handled is logged once with its traceback and answered with the
   500 JSON body, never re-raised (uvicorn would log it a second time);
3. metrics by route template (api/metrics.py), auth refusals and 413s included;
4. API-key auth by the scope table (api/auth.py, api/scopes.py), before any body is read;
5. the body-size limit (api/limits.py): a declared ``Content-Length`` over the limit is refused before
   anything is read, a chunked body is counted as it streams;
6. then the app, except that a search is offered to api/fastsearch.py first.

Responses are wrapped once (status, request id header); ``receive`` only for a body of undeclared length.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import ApiKeyAuth
from api.errors import error_json
from api.fastsearch import answer_search, search_name
from api.limits import BodyTooLarge, declared_too_large, limited_receive
from api.metrics import AppMetrics
from api.request_log import log_request, request_id_for, request_id_var
from core.errors import LatentspaceError

log = logging.getLogger("api.errors")


@dataclass(frozen=True)
class RouteTemplate:
    """What the metrics and the log line read of ``scope["route"]`` for a search answered by api/fastsearch.py."""

    path: str


SEARCH_ROUTE = RouteTemplate("/v1/collections/{name}/search")


class _Exchange:
    """What the edge learns of one response while it passes: its status and whether it has started."""

    __slots__ = ("request_id", "send", "started", "status")

    def __init__(self, send: Send, request_id: bytes) -> None:
        self.send = send
        self.request_id = request_id
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", self.request_id)]
        await self.send(message)


class RequestEdge:
    def __init__(self, app: ASGIApp, metrics: AppMetrics, auth: ApiKeyAuth, max_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.auth = auth
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        request_id = request_id_for(headers)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        exchange = _Exchange(send, request_id.encode())
        try:
            await self._handle(scope, receive, exchange, headers)
        except Exception:
            log.exception("unhandled error")
            if not exchange.started:  # else part of a response is out: nothing valid can follow
                await send_error(exchange, 500, "internal_error", "internal server error")
        finally:
            seconds = time.perf_counter() - started
            self.metrics.record(scope, exchange.status, seconds)
            log_request(scope, exchange.status, seconds)
            request_id_var.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, exchange: _Exchange, headers: dict) -> None:
        try:
            prefix = await self.auth.check(scope, headers)
        except LatentspaceError as exc:
            await send_error(exchange, exc.status_code, exc.code, exc.message)
            return
        if prefix is not None:
            scope.setdefault("state", {})["api_key_prefix"] = prefix
        if declared_too_large(headers, self.max_bytes):
            await send_error(exchange, 413, "payload_too_large", BodyTooLarge(self.max_bytes).detail)
            return
        if b"content-length" not in headers:  # a declared length is enforced by the server itself
            receive = limited_receive(receive, self.max_bytes)
        try:
            name = search_name(scope)
            if name is None:
                await self.app(scope, receive, exchange)
            else:  # the hot route skips FastAPI's routing when it can (api/fastsearch.py)
                await answer_search(self.app, scope, receive, exchange, name, SEARCH_ROUTE)
        except BodyTooLarge as exc:  # raised while a chunked body streamed in, outside FastAPI's parsing
            if not exchange.started:
                await send_error(exchange, 413, "payload_too_large", exc.detail)


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    """The JSON error body of api/errors.py, sent directly (this runs outside FastAPI's handlers)."""
    body = error_json(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if status == 503:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
