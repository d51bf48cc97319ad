"""uvicorn's httptools protocol, with a response's head and body leaving in one send (issue 17).

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the body when
it sends ``http.response.body``: two ``send`` calls, two TCP segments, and on loopback the client is woken
for the head and again for the body. Here each connection's transport holds one write back until the next
write (which then goes out together with it) or until the event loop's next turn, whichever comes first,
so a response of one body message leaves in one send while nothing waits longer than one loop turn.
Closing the connection sends what is held first. Everything else is uvicorn's own code and behaviour.

``latentspace serve`` uses it (``uvicorn.Config(http=OneSendHttpProtocol)``); it needs httptools (a project
dependency since it does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeldWriteTransport:
    """A transport that holds at most one write for at most one event-loop turn; the rest is delegated."""

    __slots__ = ("held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.held is None:
            self.held = bytes(data)
            self.loop.call_soon(self.flush)
            return
        data, self.held = self.held + data, None
        self.transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if self.held is not None:
            data, self.held = self.held, None
            if not self.transport.is_closing():  # a lost connection: nothing to send it to
                self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + len(self.held or b"")

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, set_protocol, ...
        return getattr(self.transport, name)


class OneSendHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeldWriteTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]
