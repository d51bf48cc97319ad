"""The lexical (BM25) index of each collection, kept in step with the database as a write listener.

The Engine keeps it as ``ServiceContext.lexical`` and registers it as a write listener
(services/sync/listeners.py): every committed delta is applied to the collection's
:class:`~index.lexical.Bm25Index`, saved after each write, dropped with the collection. On first use the
saved index is checked against the stored chunk ids, like the vector index: missing chunks are analysed
from their stored text, extra ones removed, and a missing, unreadable or differently-configured index is
rebuilt from the database. Analysis options live in ``Collection.options["lexical"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.writelock import WriteLock
from index.lexical import Bm25Index, LexicalOptions
from ingest.pipeline import IndexDelta
from services.sync.derived import DerivedIndexes
from store import changelog
from store import repositories as repo
from store.models import Chunk, Collection


def lexical_options(collection: Collection) -> LexicalOptions:
    return LexicalOptions.from_dict((collection.options or {}).get("lexical"))


@dataclass
class LexicalRound:
    """What a fusion's lexical round brings back (:meth:`LexicalIndexes.candidates`).

    ``ids`` (int64, ascending) and ``scores`` (float32): BM25 scores of the top-``k`` chunks and of the
    wanted ids that match; ``dense``: query-vector scores of some of those ids, where whoever answered holds
    their vectors (a cluster's shards do; in one process the caller reads its own vector index instead).
    """

    ids: np.ndarray
    scores: np.ndarray
    dense: dict[int, float] = field(default_factory=dict)


class LexicalIndexes(DerivedIndexes[Bm25Index]):
    """One BM25 index per collection under ``root/<collection id>/lexical`` (see services/sync/derived.py)."""

    name = "lexical"
    subdir = "lexical"
    label = "lexical index"

    def _load(self, directory: Path) -> Bm25Index:
        return Bm25Index.load(directory)

    def _create(self, collection: Collection, count: int) -> Bm25Index:
        return Bm25Index(lexical_options(collection))

    def _compatible(self, collection: Collection, index: Bm25Index) -> bool:
        return index.options == lexical_options(collection)

    def _stored(
        self, session: Session, collection: Collection, ids: np.ndarray | None
    ) -> Iterator[tuple[list[int], list[str]]]:
        return _iter_texts(session, collection.id, ids)

    def candidates(
        self,
        collection: Collection,
        query: str,
        k: int,
        allowed: np.ndarray | None,
        wanted: np.ndarray,
        vector: np.ndarray | None,
    ) -> LexicalRound:
        """A hybrid or lexical search's BM25 round: the top ``k`` chunks (among ``allowed``) and the scores of
        the ``wanted`` ids (the dense candidates), see :meth:`~index.lexical.Bm25Index.candidate_scores`.
        ``vector`` is not needed here: this process's vector index scores the lexical-only candidates."""
        return LexicalRound(*self.get(collection).candidate_scores(query, k, allowed, wanted))

    # -- WriteListener (save, rebuild and drop come from DerivedIndexes) -------------------------
    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        with self._lock:
            index = self.get(collection)
            index.remove(delta.removed_ids)
            index.add(delta.added_ids, delta.added_texts)


def _iter_texts(session: Session, collection_id: int, ids: np.ndarray | None, batch: int = 2000):  # noqa: ANN202
    """Yield (chunk ids, texts) batches of stored chunks, all of the collection or just ``ids``."""
    stmt = select(Chunk.id, Chunk.text).where(Chunk.collection_id == collection_id).order_by(Chunk.id)
    if ids is None:
        rows = session.execute(stmt.execution_options(yield_per=batch))
        for part in rows.partitions(batch):
            yield [r[0] for r in part], [r[1] for r in part]
        return
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), 500):
        part = session.execute(stmt.where(Chunk.id.in_(wanted[start : start + 500]))).all()
        yield [r[0] for r in part], [r[1] for r in part]


class LexicalContext(Protocol):
    """What :func:`configure_lexical` needs of a services/context.py ServiceContext.

    Spelled out here because the context module imports this one: naming ServiceContext would close a circle.
    """

    sessions: sessionmaker[Session]
    write_lock: WriteLock
    lexical: LexicalIndexes | None


def configure_lexical(ctx: LexicalContext, name: str, raw: dict[str, Any]) -> LexicalOptions:
    """Validate and store a collection's lexical options, then rebuild its BM25 index with them."""
    options = LexicalOptions.from_dict(raw)
    with ctx.write_lock:
        with ctx.sessions.begin() as session:
            collection = repo.get_collection(session, name)
            collection.options = {**(collection.options or {}), "lexical": raw}
            changelog.record_reset(session, collection.id)  # shards re-analyse with the new options
        if ctx.lexical is not None:
            with ctx.sessions() as session:
                ctx.lexical.rebuild(repo.get_collection(session, name))
    return options
