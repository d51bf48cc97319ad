"""The hot route, ``POST /v1/collections/{name}/search``, answered without FastAPI's routing and dependencies.

Issue 17's profile: once the search itself was cheap, route matching over every route, dependency
solving and request/response model handling cost more CPU than the search. For a request whose JSON body
validates as :class:`~api.schemas.SearchIn` and whose search succeeds, api/edge.py hands the request here:
the body is parsed with orjson, validated by the same pydantic model, searched by the same Engine call
as api/routers/search.py, and the same body is encoded once.

Anything else goes on to FastAPI with the body replayed, untouched: a filtered search, a body that is
not valid JSON or fails validation, and a search that raises (unknown collection, wrong dimension, ...)
is answered by the real route and api/errors.py, so every error status and body stays exactly what it
was. A search is read-only, so running a failing one twice changes nothing.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import get_engine
from api.routers.search import answered_inline, render
from api.schemas import SearchIn
from core.errors import LatentspaceError
from services.search.types import SearchRequest

SEARCH_PATH = re.compile(r"^/v1/collections/(?P<name>[^/]+)/search$")  # the route's {name}: no '/'


def search_name(scope: Scope) -> str | None:
    """The collection name if this request is a search this module may answer, else None."""
    if scope["method"] != "POST" or get_engine in scope["app"].dependency_overrides:  # an override: the route
        return None
    match = SEARCH_PATH.match(scope["path"])
    return match.group("name") if match else None


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (None if the client went away)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the connection says next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def parsed(body: bytes) -> SearchRequest | None:
    """The request if the fast path may answer it: valid JSON (orjson), valid :class:`SearchIn`, no filter.

    A filter goes to the route: orjson reads an integer beyond 64 bits as a float where ``json.loads``
    keeps it exact, and in a filter that difference decides the answer (tests/security/test_filters.py).
    Elsewhere in the body it cannot: vector values are floats anyway, and an out-of-range ``k`` fails the
    search, which then goes to the route too.
    """
    try:
        data: Any = orjson.loads(body)
        if not isinstance(data, dict) or data.get("filter"):
            return None
        # the validated fields as they are (extra fields are refused): dict(model) costs ~4 µs more
        return SearchRequest(**SearchIn.model_validate(data).__dict__)
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def answer_search(app: ASGIApp, scope: Scope, receive: Receive, send: Send, name: str, route: Any) -> None:
    """Answer a search directly, or hand it to ``app`` (FastAPI) with its body replayed; see the module doc."""
    body = await read_body(receive)
    if body is None:
        return
    request = parsed(body) if _is_json(scope) else None
    if request is not None:
        engine = scope["app"].state.engine
        started = time.perf_counter()
        try:
            if answered_inline(request, engine):
                result = engine.search(name, request)
            else:
                result = await run_in_threadpool(engine.search, name, request)
        except LatentspaceError:
            result = None  # the route answers it, with api/errors.py's status and body
        if result is not None:
            scope["route"] = route  # the template, for the metrics and the log line
            payload = render(result, (time.perf_counter() - started) * 1000)
            headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
    await app(scope, replay(body, receive), send)


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False
