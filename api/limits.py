"""The request-body byte limit (applied by api/edge.py): oversized bodies get a 413 JSON error.

A declared ``Content-Length`` over the limit is refused before anything is read. A body without one
(``Transfer-Encoding: chunked``) is counted as it streams; the moment it passes the limit, reading it
raises :class:`BodyTooLarge`. That is an ``HTTPException`` on purpose: FastAPI turns any *other* error
raised while it reads a body into "400 There was an error parsing the body", but re-raises
``HTTPException``s, which api/errors.py maps to the same 413 JSON as the declared case. A reader outside
FastAPI's body parsing (none today) still ends in api/edge.py, where the exception is caught.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"request body exceeds {max_bytes} bytes"


def declared_too_large(headers: dict[bytes, bytes], max_bytes: int) -> bool:
    """True if the request declares a ``Content-Length`` over ``max_bytes``."""
    declared = headers.get(b"content-length")
    return declared is not None and declared.isdigit() and int(declared) > max_bytes


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body read so far passes ``max_bytes``."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise BodyTooLarge(max_bytes)
        return message

    return limited
