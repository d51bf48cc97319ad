"""API-key authentication for every ``/v1`` route, keyed by method and path (no router needs editing).

Required scope: ``/v1/admin/...`` needs ``admin``; GET/HEAD/OPTIONS under ``/v1`` and POSTs whose last
path segment is a read action (``search``, ...) need ``read``; every other ``/v1`` request needs
``write``. ``/health``, ``/metrics`` and the OpenAPI docs are open. While no active key exists the
API is open; with keys, ``allow_anonymous_read`` lets key-less requests through for ``read`` only.
The key itself is never logged: only its public prefix is put on the request scope.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import LatentspaceError, Unauthorized
from services.keys import KeyStore, authorize

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POST routes that only read: searches and recommendations computed from the request body (nothing stored).
READ_POST_SUFFIXES = ("/search", "/search/image", "/recommendations", "/recommend", "/similar", "/query")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for open routes."""
    if not (path == "/v1" or path.startswith("/v1/")):
        return None
    if path == "/v1/admin" or path.startswith("/v1/admin/"):
        return "admin"
    if method in READ_METHODS or path.rstrip("/").endswith(READ_POST_SUFFIXES):
        return "read"
    return "write"


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    direct = headers.get(b"x-api-key")
    if direct:
        return direct.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class ApiKeyAuth:
    def __init__(self, app: ASGIApp, allow_anonymous_read: bool = False) -> None:
        self.app = app
        self.allow_anonymous_read = allow_anonymous_read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        needed = required_scope(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if needed is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        try:
            prefix = await run_in_threadpool(self._check, scope, presented_key(headers), needed)
        except LatentspaceError as exc:
            await _refuse(send, exc)
            return
        scope.setdefault("state", {})["api_key_prefix"] = prefix
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, key: str | None, needed: str) -> str | None:
        store: KeyStore = key_store(scope["app"])
        if key is None:
            if not store.any_active() or (needed == "read" and self.allow_anonymous_read):
                return None
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")
        info = store.authenticate(key)
        authorize(info, needed)
        return info.prefix


def key_store(app: Starlette) -> KeyStore:
    """One KeyStore per app (its verification cache lives as long as the app)."""
    store = getattr(app.state, "key_store", None)
    if store is None:
        store = app.state.key_store = KeyStore(app.state.engine.sessions)
    return store


async def _refuse(send: Send, exc: LatentspaceError) -> None:
    body = json.dumps({"error": {"code": exc.code, "message": exc.message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
