"""The asynchronous client for a remote latentspace: :class:`AsyncClient` and :class:`AsyncCollection`.

The same methods, arguments, return types and exceptions as the synchronous :class:`~latentspace.Client`,
as coroutines (httpx.AsyncClient underneath).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from latentspace import calls, shapes
from latentspace.errors import Conflict, NotFound
from latentspace.remote import AsyncHttpTransport, RetryPolicy
from latentspace.shapes import Default
from latentspace.types import CollectionInfo, Document, Hit, Recommendations, WriteResult


class AsyncCollection:
    def __init__(self, transport: AsyncHttpTransport, info: CollectionInfo) -> None:
        self.transport = transport
        self.name = info.name
        self.info = info

    def __repr__(self) -> str:
        return f"AsyncCollection({self.name!r}, model={self.info.model!r}, dimension={self.info.dimension})"

    async def refresh(self) -> CollectionInfo:
        self.info = CollectionInfo.from_json(await self.transport.run(calls.get_collection(self.name)))
        return self.info

    async def count(self) -> int:
        return (await self.refresh()).documents

    async def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any]] | None = None,
        vectors: Sequence[Any] | None = None,
    ) -> WriteResult:
        docs = calls.documents(ids, texts, metadatas, vectors)
        taken = [d.id for d in await self.get([doc["id"] for doc in docs])]
        if taken:
            raise Conflict(f"documents already in {self.name!r}: {taken[:10]} (upsert replaces them)", "conflict")
        return shapes.strict_write(await self.transport.run(calls.upsert(self.name, docs)), len(docs))

    async def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any]] | None = None,
        vectors: Sequence[Any] | None = None,
    ) -> WriteResult:
        docs = calls.documents(ids, texts, metadatas, vectors)
        return shapes.strict_write(await self.transport.run(calls.upsert(self.name, docs)), len(docs))

    async def get(self, ids: Sequence[str] | None = None, *, offset: int = 0, limit: int = 50) -> list[Document]:
        if ids is None:
            page = await self.transport.run(calls.list_documents(self.name, offset, limit))
            return [Document.from_json(d) for d in page["items"]]
        found = []
        for doc_id in ids:
            try:
                found.append(Document.from_json(await self.transport.run(calls.get_document(self.name, doc_id))))
            except NotFound as exc:
                if not shapes.missing(exc):
                    raise
        return found

    async def delete(self, ids: Sequence[str]) -> int:
        deleted = 0
        for doc_id in ids:
            try:
                await self.transport.run(calls.delete_document(self.name, doc_id))
                deleted += 1
            except NotFound as exc:
                if not shapes.missing(exc):
                    raise
        return deleted

    async def search(
        self,
        query: str | None = None,
        *,
        vector: Any = None,  # noqa: ANN401
        k: int = 10,
        filter: dict[str, Any] | None = None,  # noqa: A002
        mode: str | None = None,
        explain: bool = False,
        **options: Any,
    ) -> list[Hit]:
        body = shapes.search_body(query, vector, k, filter, mode, explain, options)
        return shapes.hits(await self.transport.run(calls.search(self.name, body)))

    async def search_image(
        self,
        image: bytes | str | Path | None = None,
        *,
        document_id: str | None = None,
        k: int = 10,
        filter: dict[str, Any] | None = None,  # noqa: A002
    ) -> list[Hit]:
        call = calls.search_image(self.name, shapes.image_bytes(image), document_id, k, filter)
        return shapes.hits(await self.transport.run(call))

    async def add_interactions(self, interactions: Iterable[Any], aggregate: str = "sum") -> WriteResult:
        call = calls.add_interactions(self.name, shapes.interactions(interactions), aggregate)
        return WriteResult.from_json(await self.transport.run(call))

    async def recommend(
        self,
        user: str,
        k: int = 10,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002
        exclude_seen: bool = True,
        explain: bool = False,
    ) -> Recommendations:
        call = calls.recommend(self.name, user, k, filter, exclude_seen, explain)
        return Recommendations.from_json(await self.transport.run(call))

    async def similar_items(self, item: str, k: int = 10) -> Recommendations:
        return Recommendations.from_json(await self.transport.run(calls.similar_items(self.name, item, k)))

    async def topics(self) -> dict[str, Any]:
        return await self.transport.run(calls.topics(self.name))

    async def map(self, sample: int | None = None) -> dict[str, Any]:
        return await self.transport.run(calls.map_points(self.name, sample))


class AsyncClient:
    """``async with AsyncClient(url, api_key=...) as client: ...`` — a remote latentspace, asynchronously."""

    def __init__(
        self, url: str, api_key: str | None = None, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.25
    ) -> None:
        self.transport = AsyncHttpTransport(url, api_key, timeout, RetryPolicy(retries, backoff))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    async def create_collection(
        self, name: str, model: str | None | Default = Default.MODEL, dimension: int | None = None, **options: Any
    ) -> AsyncCollection:
        call = calls.create_collection(name, shapes.create_body(model, dimension, options))
        return AsyncCollection(self.transport, CollectionInfo.from_json(await self.transport.run(call)))

    async def get_collection(self, name: str) -> AsyncCollection:
        info = CollectionInfo.from_json(await self.transport.run(calls.get_collection(name)))
        return AsyncCollection(self.transport, info)

    async def get_or_create_collection(
        self, name: str, model: str | None | Default = Default.MODEL, dimension: int | None = None, **options: Any
    ) -> AsyncCollection:
        try:
            found = await self.get_collection(name)
            shapes.check_existing(found.info, model, dimension)
            return found
        except NotFound as exc:
            if exc.code != "collection_not_found":
                raise
        try:
            return await self.create_collection(name, model, dimension, **options)
        except Conflict:
            return await self.get_collection(name)

    async def list_collections(self) -> list[CollectionInfo]:
        return [CollectionInfo.from_json(c) for c in await self.transport.run(calls.list_collections())]

    async def delete_collection(self, name: str) -> None:
        await self.transport.run(calls.delete_collection(name))
