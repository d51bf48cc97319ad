"""What only a remote client meets: API keys and scopes, an unreachable server, retries on 503, the
asynchronous client, and the HTTP API's own create body (``model: null``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

import latentspace
from tests.client.conftest import Server, free_port


def test_a_missing_or_bad_key_is_unauthorized_and_a_read_key_is_forbidden_to_write(server: Server, name: str) -> None:
    for key in (None, "ls_bad_key"):
        with latentspace.connect(url=server.url, api_key=key, retries=0) as anonymous:
            with pytest.raises(latentspace.Unauthorized) as raised:
                anonymous.list_collections()
            assert raised.value.code == "unauthorized" and raised.value.status_code == 401
    with latentspace.connect(url=server.url, api_key=server.read_key) as reader:
        assert isinstance(reader.list_collections(), list)
        with pytest.raises(latentspace.Forbidden) as raised:
            reader.create_collection(name, model=None, dimension=3)
        assert raised.value.code == "forbidden" and "scope" in raised.value.message
        assert name not in [c.name for c in reader.list_collections()]


def test_an_unreachable_server_raises_connection_failed_after_the_retries() -> None:
    with latentspace.connect(url=f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01) as client:
        with pytest.raises(latentspace.ConnectionFailed) as raised:
            client.list_collections()
    assert raised.value.code == "connection_failed" and "cannot reach latentspace" in raised.value.message


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``busy`` requests, then an empty collection list."""

    busy = 2
    seen = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen += 1
        busy = type(self).seen <= type(self).busy
        body = b'{"error": {"code": "busy", "message": "try later"}}' if busy else b"[]"
        self.send_response(503 if busy else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.seen = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_503_is_retried_with_backoff_then_succeeds_or_raises_unavailable(flaky: str) -> None:
    with latentspace.connect(url=flaky, retries=3, backoff=0.01) as client:
        assert client.list_collections() == [] and Flaky.seen == 3
    Flaky.seen = 0
    with latentspace.connect(url=flaky, retries=1, backoff=0.01) as client:
        with pytest.raises(latentspace.Unavailable) as raised:
            client.list_collections()
    assert (raised.value.code, raised.value.message, Flaky.seen) == ("busy", "try later", 2)


def test_the_async_client_has_the_same_methods_answers_and_errors(server: Server, name: str) -> None:
    async def scenario() -> tuple:
        async with latentspace.AsyncClient(server.url, api_key=server.admin_key) as client:
            collection = await client.create_collection(name, model=None, dimension=2)
            written = await collection.upsert(["a", "b"], ["alpha", "beta"], [{"n": 1}, {"n": 2}], [[1, 0], [0, 1]])
            hits = await collection.search(vector=[0.9, 0.1], k=2)
            docs = await collection.get(["b", "zz"])
            with pytest.raises(latentspace.InvalidInput) as wrong:
                await collection.search(vector=[1, 2, 3])
            deleted = await collection.delete(["a", "zz"])
            count = await collection.count()
            await client.delete_collection(name)
            with pytest.raises(latentspace.NotFound):
                await client.get_collection(name)
            return written, hits, docs, wrong.value.code, deleted, count

    written, hits, docs, code, deleted, count = asyncio.run(scenario())
    assert written.added == 2 and [h.id for h in hits] == ["a", "b"]
    assert [(d.id, d.text, d.metadata) for d in docs] == [("b", "beta", {"n": 2})]
    assert (code, deleted, count) == ("dimension_mismatch", 1, 1)


def test_the_http_api_tells_an_omitted_model_from_an_explicit_null(server: Server, name: str) -> None:
    headers = {"authorization": f"Bearer {server.admin_key}"}
    url = f"{server.url}/v1/collections"
    refused = httpx.post(url, json={"name": name, "model": None}, headers=headers, timeout=30)
    assert refused.status_code == 422 and "needs its 'dimension'" in refused.json()["error"]["message"]
    created = httpx.post(url, json={"name": name, "model": None, "dimension": 5}, headers=headers, timeout=30)
    assert created.status_code == 201 and (created.json()["model"], created.json()["dimension"]) == (None, 5)
    body = {"documents": [{"id": "d", "text": "t", "vector": [1, 2, 3, 4, 5, 6]}]}
    wrong = httpx.post(f"{url}/{name}/documents", json=body, headers=headers, timeout=30)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "dimension_mismatch"
    assert httpx.get(f"{url}/{name}", headers=headers, timeout=30).json()["documents"] == 0
    assert httpx.delete(f"{url}/{name}", headers=headers, timeout=30).status_code == 204


def test_connect_refuses_a_path_and_a_url_together(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(latentspace.InvalidInput):
        latentspace.connect(tmp_path, url="http://127.0.0.1:1")
    with pytest.raises(latentspace.InvalidInput):
        latentspace.connect(tmp_path, api_key="ls_x")
