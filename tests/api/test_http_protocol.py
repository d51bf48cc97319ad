"""api/http_protocol.py: a response's head and body leave in one send; nothing is held past one loop turn."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.http_protocol import HeldWriteTransport, OneSendHttpProtocol


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0


def test_two_writes_leave_as_one_and_a_lone_write_leaves_on_the_next_turn() -> None:
    async def scenario() -> list[list[bytes]]:
        inner = RecordingTransport()
        held = HeldWriteTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert inner.writes == [] and held.get_write_buffer_size() == 19
        held.write(b"body")
        first = list(inner.writes)
        held.write(b"tail")  # alone: leaves on the loop's next turn
        assert inner.writes == first
        await asyncio.sleep(0)
        second = list(inner.writes)
        held.write(b"last words")
        held.close()  # closing sends what is held first
        assert inner.closed
        return [first, second, inner.writes]

    first, second, final = asyncio.run(scenario())
    assert first == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert second == [*first, b"tail"]
    assert final == [*second, b"last words"]


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=OneSendHttpProtocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    return server, thread, sock.getsockname()[1]


def test_a_real_server_answers_plain_streamed_and_head_requests() -> None:
    app = FastAPI()

    @app.get("/plain")
    def plain() -> PlainTextResponse:
        return PlainTextResponse("hello")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a" * 70_000, b"b", b"c"]), media_type="text/plain")

    server, thread, port = _serve(app)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(3):  # keep-alive: every response is complete, none waits for the next request
            conn.request("GET", "/plain")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"hello")
        conn.request("GET", "/stream")
        assert conn.getresponse().read() == b"a" * 70_000 + b"bc"
        conn.request("HEAD", "/plain")
        response = conn.getresponse()
        assert response.status in (200, 405) and response.read() == b""
        conn.request("GET", "/missing", headers={"connection": "close"})
        response = conn.getresponse()
        assert response.status == 404 and b"Not Found" in response.read()
        conn.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
