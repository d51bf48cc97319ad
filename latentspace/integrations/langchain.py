"""A LangChain vector store over a latentspace collection: ``pip install 'latentspace[langchain]'``.

    from latentspace.integrations.langchain import LatentspaceVectorStore

    store = LatentspaceVectorStore(client=latentspace.connect(), collection="notes")         # our model
    store = LatentspaceVectorStore(client=client, collection="oa", embedding=OpenAIEmbeddings())  # yours

With ``embedding=None`` the collection's own model embeds texts and queries on the server (a collection the
store creates gets the default model, or ``model=``, with ``chunking="truncate"`` so each LangChain
document stays one stored document). With a LangChain ``Embeddings``, the store embeds on the client and the
collection is a bring-your-own-vector one of that dimension. Scores are cosine similarities (higher is
better); ``filter`` takes latentspace's metadata filters (``{"f": v}``, ``$in``, ``$gte``, ...).
Maximal marginal relevance runs on the server (``diversity = 1 - lambda_mult``) over its candidate depth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "latentspace.integrations.langchain needs langchain-core: pip install 'latentspace[langchain]'"
    ) from exc

from latentspace.client import Client, Collection
from latentspace.errors import InvalidInput
from latentspace.shapes import Default
from latentspace.types import Hit

BATCH = 256  # documents per write request (the server's default limit is 1000)


class LatentspaceVectorStore(VectorStore):
    """A LangChain ``VectorStore`` on collection ``collection`` of an embedded or remote :class:`Client`."""

    def __init__(
        self,
        client: Client,
        collection: str = "langchain",
        embedding: Embeddings | None = None,
        *,
        model: str | Default = Default.MODEL,
        search_mode: str = "dense",
    ) -> None:
        self.client = client
        self.embedding = embedding
        self.search_mode = search_mode if embedding is None else "dense"
        self.collection: Collection = self._open(collection, model)

    def _open(self, name: str, model: str | Default) -> Collection:
        if self.embedding is None:
            return self.client.get_or_create_collection(name, model, chunking="truncate")
        dimension = len(self.embedding.embed_query("latentspace dimension probe"))
        return self.client.get_or_create_collection(name, None, dimension)

    @property
    def embeddings(self) -> Embeddings | None:
        return self.embedding

    # -- writing ---------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add or replace (by id) texts; ids missing or None get a new UUID. Returns the ids."""
        texts = list(texts)
        given = list(ids) if ids is not None else [None] * len(texts)
        if len(given) != len(texts) or (metadatas is not None and len(metadatas) != len(texts)):
            raise InvalidInput("texts, metadatas and ids must have the same length", "invalid_input")
        out = [i if i else str(uuid.uuid4()) for i in given]
        for start in range(0, len(texts), BATCH):
            part = slice(start, start + BATCH)
            vectors = self.embedding.embed_documents(texts[part]) if self.embedding is not None else None
            metas = [dict(m or {}) for m in metadatas[part]] if metadatas is not None else None
            self.collection.upsert(out[part], texts[part], metas, vectors)
        return out

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (ids not stored are skipped); ``ids=None`` deletes every document."""
        if ids is None:
            ids = self._all_ids()
        self.collection.delete(ids)
        return True

    def _all_ids(self) -> list[str]:
        found: list[str] = []
        while True:
            page = self.collection.get(offset=len(found), limit=1000)
            found += [d.id for d in page]
            if len(page) < 1000:
                return found

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [Document(id=d.id, page_content=d.text or "", metadata=d.metadata) for d in self.collection.get(ids)]

    # -- searching -------------------------------------------------------------------------------
    def similarity_search(
        self,
        query: str,
        k: int = 4,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[Document]:
        return [doc for doc, _score in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[tuple[Document, float]]:
        """(document, cosine similarity) pairs, best first."""
        if self.embedding is not None:
            return self._by_vector(self.embedding.embed_query(query), k, filter, kwargs)
        hits = self.collection.search(query, k=k, filter=filter, mode=self.search_mode, **kwargs)
        return [(_document(h), h.score) for h in hits]

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[Document]:
        return [doc for doc, _score in self._by_vector(embedding, k, filter, kwargs)]

    def _by_vector(
        self,
        vector: list[float],
        k: int,
        filter: dict[str, Any] | None,
        options: dict[str, Any],  # noqa: A002
    ) -> list[tuple[Document, float]]:
        hits = self.collection.search(vector=vector, k=k, filter=filter, **options)
        return [(_document(h), h.score) for h in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        """MMR on the server: ``lambda_mult`` 1 = pure relevance, 0 = most diverse. ``fetch_k`` is accepted
        for compatibility; the candidates are the server's fusion depth (LATENTSPACE_FUSION_DEPTH)."""
        options = {"diversity": 1.0 - lambda_mult, **kwargs}
        if self.embedding is not None:
            return [d for d, _s in self._by_vector(self.embedding.embed_query(query), k, filter, options)]
        hits = self.collection.search(query, k=k, filter=filter, mode=self.search_mode, **options)
        return [_document(h) for h in hits]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        options = {"diversity": 1.0 - lambda_mult, **kwargs}
        return [d for d, _s in self._by_vector(embedding, k, filter, options)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return _cosine_to_relevance

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        client: Client | None = None,
        collection: str = "langchain",
        **kwargs: Any,
    ) -> LatentspaceVectorStore:
        """A store on ``client`` (default: ``latentspace.connect()``, the embedded ./data) holding ``texts``."""
        if client is None:
            from latentspace import connect

            client = connect()
        store = cls(client=client, collection=collection, embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store


def _document(hit: Hit) -> Document:
    return Document(id=hit.id, page_content=hit.text, metadata=hit.metadata)


def _cosine_to_relevance(score: float) -> float:
    """Cosine similarity in [-1, 1] -> relevance in [0, 1]."""
    return (1.0 + score) / 2.0
