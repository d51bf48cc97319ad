"""Issue 18, class 1: the scope table. Every route x method x {no key, read, write, admin} -> expected status.

The expected scopes are written out here, independently of api/scopes.py, so that weakening a scope in
the table fails this test, and the app's routes are read from the app itself, so that a new route
without an expectation here fails it too. Every template parameter is filled with ``search`` (and ids
with ``x/search``): a read key could ``DELETE /v1/collections/search`` while read-only POST endings were
applied to every method.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from services.keys import KeyStore
from tests.ops.conftest import *  # noqa: F403 (the client fixtures)
from tests.ops.conftest import vector_docs

C = "/v1/collections/{name}"
DOC = f"{C}/documents/{{document_id:path}}"
EXPECTED: dict[tuple[str, str], str | None] = {
    **{(m, p): None for m in ("GET", "HEAD") for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")},
    ("GET", "/health/live"): None,
    ("GET", "/health/ready"): None,
    ("GET", "/metrics"): None,
    ("GET", "/"): None,
    ("GET", "/static/{path:path}"): None,
    ("HEAD", "/static/{path:path}"): None,
    ("GET", "/v1/collections"): "read",
    ("POST", "/v1/collections"): "write",
    ("GET", C): "read",
    ("DELETE", C): "write",
    ("GET", f"{C}/documents"): "read",
    ("POST", f"{C}/documents"): "write",
    ("GET", DOC): "read",
    ("DELETE", DOC): "write",
    ("POST", f"{C}/search"): "read",
    ("POST", f"{C}/images"): "write",
    ("POST", f"{C}/search/image"): "read",
    ("GET", f"{DOC}/thumbnail"): "read",
    ("POST", f"{C}/interactions"): "write",
    ("POST", f"{C}/recommendations"): "read",
    ("GET", f"{C}/users/{{user}}/recommendations"): "read",
    ("GET", f"{C}/items/{{item}}/similar"): "read",
    ("GET", f"{C}/model-versions"): "read",
    ("GET", f"{C}/topics"): "read",
    ("GET", f"{C}/topics/{{topic_id}}"): "read",
    ("GET", f"{C}/map"): "read",
    ("GET", f"{C}/outliers"): "read",
    ("GET", "/v1/admin/snapshots"): "admin",
    ("POST", "/v1/admin/snapshots"): "admin",
    ("POST", "/v1/admin/snapshots/{snapshot_id}/restore"): "admin",
}
# Requests no route answers: under /v1 they still need a key (nobody learns which paths exist without one).
UNROUTED: list[tuple[str, str, str | None]] = [
    ("PUT", "/v1/collections", "read"),
    ("FOO", "/v1/collections/search", "read"),
    ("PATCH", "/v1/collections/search/documents/x", "read"),
    ("GET", "/v1/nothing/here", "read"),
    ("DELETE", "/v1/admin/snapshots", "admin"),
    ("GET", "/v1/admin/nothing", "admin"),
    ("GET", "/nothing/here", None),
]
HELD = (None, "read", "write", "admin")
RANK = {None: 0, "read": 1, "write": 2, "admin": 3}
VALUES = {"name": "search", "document_id": "x/search", "path": "app.js", "user": "search", "item": "search",
          "topic_id": "1", "snapshot_id": "search"}


def routes_of(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route the app dispatches to, walking into included routers."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: Any = iter_route_contexts(list(app.routes))
    except ImportError:
        routes = app.routes
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(getattr(route, "original_route", route), Mount):
            found |= {(m, f"{route.path}/{{path:path}}") for m in ("GET", "HEAD")}
        else:
            found |= {(m, route.path) for m in route.methods or ()}
    return found


def concrete(template: str) -> str:
    for param, value in VALUES.items():
        template = template.replace(f"{{{param}:path}}", value).replace(f"{{{param}}}", value)
    return template


@pytest.fixture
def keys(sqlite_engine) -> dict[str | None, str | None]:  # noqa: ANN001
    store = KeyStore(sqlite_engine.sessions)
    made: dict[str | None, str | None] = {None: None}
    made.update({scope: store.create(f"{scope}-key", [scope])[0] for scope in ("read", "write", "admin")})
    return made


def check(client: TestClient, method: str, path: str, needed: str | None, key: str | None, held: str | None) -> None:
    response = client.request(method, path, headers={"X-API-Key": key} if key else {})
    case = f"{method} {path} needs {needed}, held {held}: {response.status_code} {response.text[:200]}"
    if needed is None or (held is not None and RANK[held] >= RANK[needed]):
        assert response.status_code not in (401, 403) and response.status_code < 500, case
    elif held is None:
        assert response.status_code == 401, case
        assert response.json()["error"]["code"] == "unauthorized", case
    else:
        assert response.status_code == 403, case
        assert response.json()["error"]["code"] == "forbidden", case


def test_every_route_has_an_expected_scope(client) -> None:  # noqa: ANN001
    routes = routes_of(client.app)
    assert routes - EXPECTED.keys() == set(), "routes without an expected scope in this test"
    assert EXPECTED.keys() - routes == set(), "expected routes that the app no longer has"


def test_scope_matrix(client, keys) -> None:  # noqa: ANN001
    seeded = client.post("/v1/collections", json={"name": "search"}, headers={"X-API-Key": keys["admin"]})
    assert seeded.status_code == 201, seeded.text
    docs = vector_docs(2, seed=3, prefix="x/")
    docs[0]["id"] = "x/search"
    client.post("/v1/collections/search/documents", json={"documents": docs}, headers={"X-API-Key": keys["admin"]})
    # weaker keys first, so the write and admin requests that delete things run last for each route
    for (method, template), needed in sorted(EXPECTED.items(), key=lambda item: item[0][0] == "DELETE"):
        for held in HELD:
            check(client, method, concrete(template), needed, keys[held], held)
    for method, path, needed in UNROUTED:
        for held in HELD:
            check(client, method, path, needed, keys[held], held)


def test_delete_named_search_needs_write(client, keys) -> None:  # noqa: ANN001
    """The issue's examples: a read key deleted a collection, or a document, named ``search``."""
    admin = {"X-API-Key": keys["admin"]}
    client.post("/v1/collections", json={"name": "search"}, headers=admin)
    docs = vector_docs(1, seed=4, prefix="search")
    docs[0]["id"] = "search"
    client.post("/v1/collections/search/documents", json={"documents": docs}, headers=admin)
    read = {"X-API-Key": keys["read"]}
    assert client.delete("/v1/collections/search/documents/search", headers=read).status_code == 403
    assert client.delete("/v1/collections/search", headers=read).status_code == 403
    assert client.get("/v1/collections/search/documents/search", headers=read).status_code == 200
    assert client.delete("/v1/collections/search/documents/search", headers=admin).status_code == 204


def test_a_route_without_a_declared_scope_is_refused_at_build() -> None:
    from fastapi import FastAPI

    from api.scopes import check_routes

    app = FastAPI()

    @app.get("/v1/collections/{name}/undeclared")
    def undeclared(name: str) -> dict[str, str]:
        return {"name": name}

    with pytest.raises(RuntimeError, match="undeclared"):
        check_routes(app.routes)
