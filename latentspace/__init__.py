"""latentspace: the public Python client.

``latentspace.connect()`` opens a data dir in this process (embedded, like ``chromadb.PersistentClient``);
``latentspace.connect(url=...)`` talks to a ``latentspace serve`` over HTTP. Both give a :class:`Client`
with the same methods, return types and exceptions; :class:`AsyncClient` is the remote one as coroutines.

    import latentspace

    client = latentspace.connect("./data")              # or connect(url="http://127.0.0.1:8000", api_key=...)
    notes = client.get_or_create_collection("notes")
    notes.upsert(ids=["n1", "n2"], texts=["Vaccines train the immune system.", "Volcanoes erupt magma."])
    for hit in notes.search("immunity", k=2):
        print(hit.id, round(hit.score, 3), hit.text)

Only this package is the public API. The service's other top-level modules (core, store, index, ingest,
services, api, cli, ...) are installed alongside it but are internal and may change without notice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentspace.aio import AsyncClient, AsyncCollection
from latentspace.client import Client, Collection
from latentspace.errors import (
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidInput,
    LatentspaceError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)
from latentspace.shapes import Default
from latentspace.types import CollectionInfo, Document, Hit, Recommendations, WriteResult

__version__ = "0.1.0"
__all__ = [
    "AsyncClient",
    "AsyncCollection",
    "Client",
    "Collection",
    "CollectionInfo",
    "Conflict",
    "ConnectionFailed",
    "Default",
    "Document",
    "Forbidden",
    "Hit",
    "InvalidInput",
    "LatentspaceError",
    "NotFound",
    "PayloadTooLarge",
    "Recommendations",
    "Unauthorized",
    "Unavailable",
    "WriteResult",
    "connect",
]


def connect(
    path: str | Path | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.25,
    **settings: Any,
) -> Client:
    """An embedded client on data dir ``path`` (default ``./data``), or with ``url`` a remote one.

    Embedded: ``settings`` are latentspace settings (e.g. ``database_url=``, ``default_model=``); the
    environment's ``LATENTSPACE_*`` variables apply as for the CLI. Remote: ``api_key`` is sent as a bearer
    token; each request times out after ``timeout`` seconds and is retried ``retries`` times with
    exponential ``backoff`` on 503 answers and connection failures.
    """
    if url is not None:
        if path is not None or settings:
            raise InvalidInput("give either a data dir path (embedded) or a url (remote), not both", "invalid_input")
        from latentspace.remote import HttpTransport, RetryPolicy

        return Client(HttpTransport(url, api_key, timeout, RetryPolicy(retries, backoff)))
    if api_key is not None:
        raise InvalidInput("api_key is for a remote client (connect(url=..., api_key=...))", "invalid_input")
    from latentspace.embedded import EmbeddedTransport

    return Client(EmbeddedTransport(Path(path) if path is not None else Path("data"), **settings))
