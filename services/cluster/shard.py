"""One shard of every collection: its part of the vector and BM25 indexes, kept current from the change log.

A :class:`ShardServer` answers for the chunks with ``shard_of(chunk id, shards) == shard``. The first time
a collection is asked for, the shard loads its saved files (checksummed, core/saveddir.py) under
``data_dir/shards/<shards>/<shard>/<collection id>/`` and replays the collection's change-log entries after
the seq its ``follow`` manifest recorded (an entry resetting the collection throws the files away); with
no usable files it rebuilds from SQL. From then on :meth:`sync` applies every new entry (a Ray Serve
replica calls it every ``cluster_follow_interval`` seconds, see deploy.py). Applying is idempotent (a
chunk's vector never changes; its id is added or removed), so reading an entry twice is harmless.
Nothing here needs Ray: the Serve deployment wraps this class, and tests may use it in-process.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from core.errors import CollectionNotFound, IndexCorrupt
from core.saveddir import read_saved_dir, write_saved_dir
from core.settings import Settings
from index.lexical_shard import TermStats
from services.cluster.shard_indexes import ShardLexicalIndexes, ShardVectorIndexes
from store import changelog
from store.models import Collection
from store.session import create_db_engine, create_session_factory

log = logging.getLogger(__name__)
FOLLOW = "follow"


def shard_root(settings: Settings, shard: int, shards: int) -> Path:
    return settings.data_dir / "shards" / str(shards) / str(shard)


class ShardServer:
    def __init__(self, settings: Settings, shard: int, shards: int) -> None:
        self.settings, self.shard, self.shards = settings, shard, shards
        self.db = create_db_engine(settings.resolved_database_url())
        self.sessions = create_session_factory(self.db)
        self.root = shard_root(settings, shard, shards)
        self.vectors = ShardVectorIndexes(self.root, self.sessions, settings.exact_threshold, shard, shards)
        self.lexical = ShardLexicalIndexes(self.root, self.sessions, shard, shards)
        self._lock = threading.RLock()  # loads, syncs and saves; searches only take the indexes' own locks
        self._collections: dict[int, Collection] = {}
        self._dirty: set[int] = set()
        self._saved_at = time.monotonic()
        with self.sessions() as session:
            self.seq = changelog.last_seq(session)  # everything loaded from now on is at least this current

    # -- loading --------------------------------------------------------------------------------
    def preload(self) -> int:
        """Load (or rebuild) this shard's part of every stored collection; how many. A replica does this
        before it reports ready, so it never answers a search with an index still being built."""
        with self.sessions() as session:
            ids = list(session.scalars(select(Collection.id).order_by(Collection.id)))
        for collection_id in ids:
            try:
                self.collection(collection_id)
            except CollectionNotFound:  # dropped meanwhile
                continue
        return len(ids)

    def collection(self, collection_id: int) -> Collection:
        """The collection's row, loaded (indexes included) on first use."""
        found = self._collections.get(collection_id)
        if found is not None:
            return found
        with self._lock:
            if collection_id not in self._collections:
                self._load(collection_id)
            return self._collections[collection_id]

    def _load(self, collection_id: int) -> None:
        with self.sessions() as session:
            collection = session.get(Collection, collection_id)
            if collection is None:
                raise CollectionNotFound(f"collection {collection_id} not found")
            session.expunge(collection)
            saved = self._followed_seq(collection_id)
            if saved is not None and any(c.op == "reset" for c in self._changes(session, saved, collection_id)):
                saved = None  # dropped or restored since: the files belong to an older collection
                self._drop_files(collection_id)
            self.vectors.resume_from = self.lexical.resume_from = saved
        self.vectors.get(collection)  # loads (replaying after ``saved``) or rebuilds from SQL
        self.lexical.get(collection)
        self._collections[collection_id] = collection
        self._write_follow(collection_id)

    def _changes(self, session: Any, after: int, collection_id: int | None = None) -> list[changelog.Change]:
        changes, page = [], changelog.changes_after(session, after, collection_id=collection_id)
        while page:
            changes.extend(page)
            page = changelog.changes_after(session, page[-1].seq, collection_id=collection_id)
        return changes

    def _followed_seq(self, collection_id: int) -> int | None:
        try:
            manifest = read_saved_dir(self.root / str(collection_id) / FOLLOW, required=("seq",))
        except IndexCorrupt:
            return None
        if manifest.get("shard") != self.shard or manifest.get("shards") != self.shards:
            return None
        return int(manifest["seq"])

    def _write_follow(self, collection_id: int) -> None:
        manifest = {"kind": "shard-follow", "seq": self.seq, "shard": self.shard, "shards": self.shards}
        write_saved_dir(self.root / str(collection_id) / FOLLOW, manifest, lambda _tmp: None)

    def _drop_files(self, collection_id: int) -> None:
        self.vectors.drop(collection_id)  # removes root/<id> (vector, lexical and follow state)
        self.lexical.forget(collection_id)
        self._collections.pop(collection_id, None)

    # -- following the change log --------------------------------------------------------------
    def sync(self) -> int:
        """Apply every change-log entry after the last one applied; the seq now reached."""
        with self._lock:
            with self.sessions() as session:
                changes = self._changes(session, self.seq)
            reset = {c.collection_id for c in changes if c.op == "reset" and c.collection_id in self._collections}
            for change in changes:
                self._apply(change)
                self.seq = change.seq
            for collection_id in sorted(reset):  # restored or re-analysed: reload now, not inside a search
                try:
                    self.collection(collection_id)
                except CollectionNotFound:  # dropped
                    continue
            if self._dirty and time.monotonic() - self._saved_at >= self.settings.cluster_save_interval:
                self.save()
            return self.seq

    def _apply(self, change: changelog.Change) -> None:
        collection = self._collections.get(change.collection_id)
        if change.op == "reset":
            self._drop_files(change.collection_id)
            self._dirty.discard(change.collection_id)
        elif collection is not None and (change.added or change.removed):  # not a metadata-only entry
            for indexes in (self.vectors, self.lexical):
                indexes.apply_change(collection, indexes.get(collection), change.added, change.removed)
            self._dirty.add(change.collection_id)

    def save(self) -> None:
        """Persist the indexes that changed since the last save, then the seq they reflect."""
        with self._lock:
            for collection_id in sorted(self._dirty):
                self.vectors.store_now(collection_id)
                self.lexical.store_now(collection_id)
                self._write_follow(collection_id)
            self._dirty.clear()
            self._saved_at = time.monotonic()

    def follow(self, stop: threading.Event, interval: float) -> None:
        """Sync every ``interval`` seconds until ``stop`` is set (a replica's background thread)."""
        while not stop.wait(interval):
            try:
                self.sync()
            except Exception:  # the database may be briefly away: log, keep following
                log.exception("shard %d/%d could not follow the change log", self.shard, self.shards)

    # -- answering the ingress -------------------------------------------------------------------
    def search(
        self, collection_id: int, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """This shard's top ``k`` (ids, scores) per query (see VectorIndex.search) and the seq answered at."""
        index = self.vectors.get(self.collection(collection_id))
        ids, scores = index.search(queries, k, allowed_ids=allowed)
        return ids, scores, self.seq

    def search_many(self, calls: list[tuple[int, np.ndarray, int]]) -> list[Any]:
        """Several unfiltered :meth:`search` calls ``(collection id, queries (q_i, d), k)`` answered with one
        index query per (collection, k): the rows of concurrent requests stacked into one matrix (a Serve
        replica batches the requests that arrive together, see deploy.py). One answer per call, in order:
        its :meth:`search` tuple, or the exception its search raised."""
        matrices = [np.atleast_2d(np.asarray(queries, dtype=np.float32)) for _cid, queries, _k in calls]
        groups: dict[tuple[int, int], list[int]] = {}
        for number, (collection_id, _queries, k) in enumerate(calls):
            groups.setdefault((collection_id, k), []).append(number)
        answers: list[Any] = [None] * len(calls)
        for (collection_id, k), numbers in groups.items():
            try:
                ids, scores, seq = self.search(collection_id, np.vstack([matrices[n] for n in numbers]), k, None)
            except Exception as exc:  # e.g. the collection is gone: each of its callers gets the error
                answers = [exc if n in numbers else a for n, a in enumerate(answers)]
                continue
            start = 0
            for number in numbers:
                stop = start + len(matrices[number])
                answers[number] = (ids[start:stop], scores[start:stop], seq)
                start = stop
        return answers

    def size(self, collection_id: int) -> tuple[int, int]:
        return len(self.vectors.get(self.collection(collection_id))), self.seq

    def term_stats(self, collection_id: int, query: str) -> tuple[dict, int]:
        return self.lexical.get(self.collection(collection_id)).term_stats(query).as_dict(), self.seq

    def lexical_candidates(
        self,
        collection_id: int,
        query: str,
        stats: dict,
        k: int,
        allowed: np.ndarray | None,
        wanted: np.ndarray,
        vector: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """A hybrid or lexical search's second BM25 round: (ids, BM25 scores) of this shard's top ``k`` under
        the global ``stats`` (among ``allowed``) and of the ``wanted`` ids it holds that match
        (ShardBm25.candidate_scores_with); with the query ``vector``, (ids, dense scores) of those of its
        answer not ``wanted`` (the ingress has no vectors); and the seq answered at."""
        collection = self.collection(collection_id)
        index = self.lexical.get(collection)
        ids, scores = index.candidate_scores_with(query, TermStats.of(stats), k, allowed, wanted)
        dense_ids, dense = ids[:0], np.zeros(0, dtype=np.float32)
        if vector is not None:
            others = ids[~np.isin(ids, wanted)]
            dense_ids, matrix = self.vectors.get(collection).vectors(others)
            # as hybrid.py scores a vector read from the index: one float32 dot product per chunk
            dense = np.asarray([v @ vector for v in matrix], dtype=np.float32)
        return ids, scores, dense_ids, dense, self.seq

    def term_stats_many(self, collection_id: int, queries: list[str]) -> tuple[list[dict], int]:
        """:meth:`term_stats` of several queries in one request (concurrent searches riding one fan-out,
        services/cluster/coalesce.py): the statistics of each, in order, and the seq answered at."""
        index = self.lexical.get(self.collection(collection_id))
        return [index.term_stats(query).as_dict() for query in queries], self.seq

    def lexical_candidates_many(self, collection_id: int, calls: list[tuple]) -> tuple[list[tuple], int]:
        """:meth:`lexical_candidates` of several (query, global statistics, k, allowed, wanted, vector) calls
        in one request: each one's answer without the seq, in order, and the seq answered at."""
        answers = [self.lexical_candidates(collection_id, *call)[:-1] for call in calls]
        return answers, self.seq

    def rebuild(self, collection_id: int) -> int:
        """Rebuild this shard's part of the collection from SQL; the number of vectors."""
        with self._lock:
            collection = self.collection(collection_id)
            count = len(self.vectors.rebuild(collection))
            self.lexical.rebuild(collection)
            self._write_follow(collection_id)
            return count

    def status(self) -> dict[str, Any]:
        sizes = {cid: len(index) for cid, index in self.vectors.loaded_items()}
        return {"shard": self.shard, "shards": self.shards, "seq": self.seq, "vectors": sizes}

    def close(self) -> None:
        self.save()
        self.db.dispose()
