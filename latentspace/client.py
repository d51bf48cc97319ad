"""The synchronous client: :class:`Client` and its :class:`Collection`, over an embedded or a remote transport.

Both transports take the same :class:`~latentspace.calls.Call` and answer the HTTP API's JSON, which this
module turns into the public types: a method returns the same thing whichever way the client is connected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from latentspace import calls, shapes
from latentspace.errors import Conflict, NotFound
from latentspace.shapes import Default
from latentspace.types import CollectionInfo, Document, Hit, Recommendations, WriteResult


class Transport(Protocol):
    def run(self, call: calls.Call) -> Any: ...  # noqa: ANN401

    def close(self) -> None: ...


class Collection:
    """One collection. Get it from :meth:`Client.create_collection` or :meth:`Client.get_collection`."""

    def __init__(self, transport: Transport, info: CollectionInfo) -> None:
        self.transport = transport
        self.name = info.name
        self.info = info

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, model={self.info.model!r}, dimension={self.info.dimension})"

    def refresh(self) -> CollectionInfo:
        """The collection's current description (counts, index kind); also kept as :attr:`info`."""
        self.info = CollectionInfo.from_json(self.transport.run(calls.get_collection(self.name)))
        return self.info

    def count(self) -> int:
        return self.refresh().documents

    # -- documents -------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any]] | None = None,
        vectors: Sequence[Any] | None = None,
    ) -> WriteResult:
        """Add new documents; Conflict (nothing written) when an id is already stored: use upsert to replace."""
        docs = calls.documents(ids, texts, metadatas, vectors)
        taken = [d.id for d in self.get([doc["id"] for doc in docs])]
        if taken:
            raise Conflict(f"documents already in {self.name!r}: {taken[:10]} (upsert replaces them)", "conflict")
        return shapes.strict_write(self.transport.run(calls.upsert(self.name, docs)), len(docs))

    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any]] | None = None,
        vectors: Sequence[Any] | None = None,
    ) -> WriteResult:
        """Add or replace documents by id. ``vectors`` skip embedding (required without a model)."""
        docs = calls.documents(ids, texts, metadatas, vectors)
        return shapes.strict_write(self.transport.run(calls.upsert(self.name, docs)), len(docs))

    def get(self, ids: Sequence[str] | None = None, *, offset: int = 0, limit: int = 50) -> list[Document]:
        """Documents by id (missing ids are left out, order kept), or without ids one page of all (no text)."""
        if ids is None:
            page = self.transport.run(calls.list_documents(self.name, offset, limit))
            return [Document.from_json(d) for d in page["items"]]
        found = []
        for doc_id in ids:
            try:
                found.append(Document.from_json(self.transport.run(calls.get_document(self.name, doc_id))))
            except NotFound as exc:
                if not shapes.missing(exc):
                    raise
        return found

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; ids not stored are skipped. Returns how many were deleted."""
        deleted = 0
        for doc_id in ids:
            try:
                self.transport.run(calls.delete_document(self.name, doc_id))
                deleted += 1
            except NotFound as exc:
                if not shapes.missing(exc):
                    raise
        return deleted

    # -- search ----------------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        *,
        vector: Any = None,  # noqa: ANN401  (a list or numpy array)
        k: int = 10,
        filter: dict[str, Any] | None = None,  # noqa: A002
        mode: str | None = None,
        explain: bool = False,
        **options: Any,
    ) -> list[Hit]:
        """By text ``query`` or by ``vector``; ``mode`` dense | lexical | hybrid; ``options``: the API's
        other search fields (fusion, weight, normalisation, rrf_k, diversity, group_by_document)."""
        body = shapes.search_body(query, vector, k, filter, mode, explain, options)
        return shapes.hits(self.transport.run(calls.search(self.name, body)))

    def search_image(
        self,
        image: bytes | str | Path | None = None,
        *,
        document_id: str | None = None,
        k: int = 10,
        filter: dict[str, Any] | None = None,  # noqa: A002
    ) -> list[Hit]:
        """By a picture (bytes or a file path) or by a stored document's vector (CLIP collections)."""
        call = calls.search_image(self.name, shapes.image_bytes(image), document_id, k, filter)
        return shapes.hits(self.transport.run(call))

    # -- recommendations and latent views ----------------------------------------------------------
    def add_interactions(self, interactions: Iterable[Any], aggregate: str = "sum") -> WriteResult:
        """User-item events: dicts ``{"user", "item", "value"?, "timestamp"?}`` or tuples in that order."""
        call = calls.add_interactions(self.name, shapes.interactions(interactions), aggregate)
        return WriteResult.from_json(self.transport.run(call))

    def recommend(
        self,
        user: str,
        k: int = 10,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002
        exclude_seen: bool = True,
        explain: bool = False,
    ) -> Recommendations:
        call = calls.recommend(self.name, user, k, filter, exclude_seen, explain)
        return Recommendations.from_json(self.transport.run(call))

    def similar_items(self, item: str, k: int = 10) -> Recommendations:
        return Recommendations.from_json(self.transport.run(calls.similar_items(self.name, item, k)))

    def topics(self) -> dict[str, Any]:
        """The fitted topic model and its topics (Conflict until ``latentspace topics fit``)."""
        return self.transport.run(calls.topics(self.name))

    def map(self, sample: int | None = None) -> dict[str, Any]:
        """The 2-D map's points (Conflict until ``latentspace map fit``)."""
        return self.transport.run(calls.map_points(self.name, sample))


class Client:
    """Collections of one latentspace, embedded or remote (see :func:`latentspace.connect`)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def create_collection(
        self, name: str, model: str | None | Default = Default.MODEL, dimension: int | None = None, **options: Any
    ) -> Collection:
        """A new collection: ``model`` omitted = the default model, ``None`` = no model (give ``dimension``);
        ``options``: index_kind, index_params, modality, chunking, backend. Conflict if the name is taken."""
        call = calls.create_collection(name, shapes.create_body(model, dimension, options))
        return Collection(self.transport, CollectionInfo.from_json(self.transport.run(call)))

    def get_collection(self, name: str) -> Collection:
        """NotFound if there is no such collection."""
        info = CollectionInfo.from_json(self.transport.run(calls.get_collection(name)))
        return Collection(self.transport, info)

    def get_or_create_collection(
        self, name: str, model: str | None | Default = Default.MODEL, dimension: int | None = None, **options: Any
    ) -> Collection:
        try:
            found = self.get_collection(name)
            shapes.check_existing(found.info, model, dimension)
            return found
        except NotFound as exc:
            if exc.code != "collection_not_found":
                raise
        try:
            return self.create_collection(name, model, dimension, **options)
        except Conflict:  # created meanwhile by someone else
            return self.get_collection(name)

    def list_collections(self) -> list[CollectionInfo]:
        return [CollectionInfo.from_json(c) for c in self.transport.run(calls.list_collections())]

    def delete_collection(self, name: str) -> None:
        """Delete the collection with all its documents and indexes (NotFound if absent)."""
        self.transport.run(calls.delete_collection(name))
