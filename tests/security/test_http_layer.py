"""Issue 18, class 9 (HTTP layer): ids containing '/', chunked oversized bodies, unexpected errors."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from fastapi.testclient import TestClient

from api.app import create_app
from tests.ops.conftest import *  # noqa: F403 (the client fixtures)
from tests.ops.conftest import vector_docs


def _collection(client: TestClient, ids: list[str]) -> None:
    assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
    docs = vector_docs(len(ids), seed=7)
    for doc, doc_id in zip(docs, ids, strict=True):
        doc["id"] = doc_id
    response = client.post("/v1/collections/c/documents", json={"documents": docs})
    assert response.status_code == 200 and response.json()["added"] == len(ids), response.text


def test_ids_with_slashes_can_be_read_and_deleted(client) -> None:  # noqa: ANN001
    ids = ["notes/2024/a.md", "https://example.org/x?y=1", "dir/search", "a/thumbnail/b"]
    _collection(client, ids)
    for doc_id in ids:  # a client quotes what is not a path character ('?' here); '/' may stay as it is
        got = client.get(f"/v1/collections/c/documents/{quote(doc_id, safe='/')}")
        assert got.status_code == 200 and got.json()["id"] == doc_id, (doc_id, got.text)
    encoded = client.get("/v1/collections/c/documents/notes%2F2024%2Fa.md")
    assert encoded.status_code == 200 and encoded.json()["id"] == "notes/2024/a.md"
    for doc_id in ids:
        path = f"/v1/collections/c/documents/{quote(doc_id, safe='/')}"
        assert client.delete(path).status_code == 204, doc_id
        assert client.get(path).status_code == 404, doc_id
    assert client.get("/v1/collections/c/documents").json()["total"] == 0


def test_thumbnail_route_still_wins_for_its_suffix(client) -> None:  # noqa: ANN001
    _collection(client, ["dir/pic"])
    response = client.get("/v1/collections/c/documents/dir/pic/thumbnail")
    assert response.status_code == 404 and "no thumbnail" in response.json()["error"]["message"]


def _chunks(total: int, size: int = 4096):  # noqa: ANN202
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_chunked_oversized_json_body_gets_413_json(make_client) -> None:  # noqa: ANN001
    client = make_client(max_request_bytes=64 * 1024)
    client.post("/v1/collections", json={"name": "c"})
    response = client.post(
        "/v1/collections/c/documents", content=_chunks(200 * 1024), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # really sent chunked
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"


def test_chunked_oversized_multipart_body_gets_413_json(make_client) -> None:  # noqa: ANN001
    client = make_client(max_request_bytes=64 * 1024)
    boundary = "xyzzy"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'.encode()

    def body():  # noqa: ANN202
        yield head
        yield from _chunks(200 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = client.post("/v1/collections/c/images", content=body(), headers=headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large", response.text


def test_an_unexpected_error_is_answered_once_and_not_re_raised(sqlite_engine, caplog) -> None:  # noqa: ANN001
    """Starlette's last-resort handler re-raised after answering, so uvicorn logged every traceback twice.

    With ``raise_server_exceptions=True`` the test client re-raises whatever escapes the app: here nothing
    must, the client gets the JSON 500 and the traceback is logged exactly once, with the request id.
    """
    app = create_app(sqlite_engine.settings, engine=sqlite_engine)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO), TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-boom-1"})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    logged = [json.loads(json.dumps(r.__dict__, default=str)) for r in caplog.records if r.getMessage() == "request"]
    assert [r["status"] for r in logged] == [500]
