"""The scope table: every route of the app (method + path template) and the API-key scope it requires.

Why a table and not a rule: a rule ("GETs read, POSTs ending in /search read, the rest write") was
applied to every method, so ``DELETE /v1/collections/search`` passed as a read. Here the method is part
of the key, the templates are the app's own, ``create_app`` refuses to build an app with a route the
table does not name (``check_routes``), and tests/security/test_scopes.py requests every entry with every
kind of key. ``None`` means open (no key ever needed).

A request is resolved against the table the way the router resolves it (Starlette's compiled templates);
should two templates match one request, the strongest scope wins, so the table can never under-protect a
route. A request no route answers (a 404 or 405 from the router) still needs ``read`` under ``/v1`` and
``admin`` under ``/v1/admin``: without a key nobody learns which paths or methods exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import Mount, compile_path

OPEN = None
RANK = {OPEN: 0, "read": 1, "write": 2, "admin": 3}
C = "/v1/collections/{name}"

SCOPE_TABLE: dict[tuple[str, str], str | None] = {
    # documentation, health, metrics and the web page: open
    ("GET", "/openapi.json"): OPEN,
    ("HEAD", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("HEAD", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("HEAD", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("HEAD", "/redoc"): OPEN,
    ("GET", "/health/live"): OPEN,
    ("GET", "/health/ready"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("GET", "/"): OPEN,
    ("GET", "/static/{path:path}"): OPEN,
    ("HEAD", "/static/{path:path}"): OPEN,
    # collections
    ("GET", "/v1/collections"): "read",
    ("POST", "/v1/collections"): "write",
    ("GET", C): "read",
    ("DELETE", C): "write",
    # documents (ids may contain '/': the path converter)
    ("GET", f"{C}/documents"): "read",
    ("POST", f"{C}/documents"): "write",
    ("GET", f"{C}/documents/{{document_id:path}}"): "read",
    ("DELETE", f"{C}/documents/{{document_id:path}}"): "write",
    # search: a POST that only reads (nothing is stored)
    ("POST", f"{C}/search"): "read",
    # images
    ("POST", f"{C}/images"): "write",
    ("POST", f"{C}/search/image"): "read",
    ("GET", f"{C}/documents/{{document_id:path}}/thumbnail"): "read",
    # recommendations: interactions are stored; the rest reads
    ("POST", f"{C}/interactions"): "write",
    ("POST", f"{C}/recommendations"): "read",
    ("GET", f"{C}/users/{{user}}/recommendations"): "read",
    ("GET", f"{C}/items/{{item}}/similar"): "read",
    ("GET", f"{C}/model-versions"): "read",
    # topics and maps (fitting is CLI-only)
    ("GET", f"{C}/topics"): "read",
    ("GET", f"{C}/topics/{{topic_id}}"): "read",
    ("GET", f"{C}/map"): "read",
    ("GET", f"{C}/outliers"): "read",
    # admin
    ("GET", "/v1/admin/snapshots"): "admin",
    ("POST", "/v1/admin/snapshots"): "admin",
    ("POST", "/v1/admin/snapshots/{snapshot_id}/restore"): "admin",
}


def _compiled(table: dict[tuple[str, str], str | None]) -> dict[str, list[tuple[re.Pattern[str], str | None]]]:
    """The table's templates compiled and grouped by method: a request tries only its own method's."""
    by_method: dict[str, list[tuple[re.Pattern[str], str | None]]] = {}
    for (method, path), scope in table.items():
        by_method.setdefault(method, []).append((compile_path(path)[0], scope))
    return by_method


_COMPILED = _compiled(SCOPE_TABLE)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs (``None``: open), from the table; see the module docstring."""
    matched = [scope for regex, scope in _COMPILED.get(method, ()) if regex.match(path)]
    if matched:
        return max(matched, key=RANK.__getitem__)
    if _under(path, "/v1/admin"):
        return "admin"
    if _under(path, "/v1"):
        return "read"
    return OPEN  # outside the API the router answers 404/405 and serves nothing


def app_routes(routes: Iterable[Any]) -> set[tuple[str, str]]:
    """Every (method, path template) the app's router can dispatch to, including included routers."""
    try:  # FastAPI >= 0.16x keeps included routers as one route each; this walks into them
        from fastapi.routing import iter_route_contexts

        contexts: Iterable[Any] = iter_route_contexts(list(routes))
    except ImportError:  # older FastAPI: the routes are already flat
        contexts = routes
    found: set[tuple[str, str]] = set()
    for route in contexts:
        if isinstance(getattr(route, "original_route", route), Mount):
            # a static mount answers GET/HEAD for anything below it
            found |= {(m, f"{route.path}/{{path:path}}") for m in ("GET", "HEAD")}
            continue
        found |= {(method, route.path) for method in route.methods or ()}
    return found


def check_routes(routes: Iterable[Any]) -> None:
    """Refuse to build an app with a route whose scope nobody declared (fail closed, at start-up)."""
    missing = sorted(app_routes(routes) - SCOPE_TABLE.keys())
    if missing:
        listed = ", ".join(f"{m} {p}" for m, p in missing)
        raise RuntimeError(f"routes without a scope in api/scopes.py SCOPE_TABLE: {listed}")
