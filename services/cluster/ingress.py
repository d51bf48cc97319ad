"""The ingress of a sharded deployment: today's Engine, with the shards behind ``ctx.vectors``/``ctx.lexical``.

:class:`ClusterEngine` is the Engine the unchanged FastAPI app (api/app.py) serves in cluster mode. Only
the context's two index registries are swapped for sharded ones, so every route, schema, validation,
filter, fusion, hydration and error path is the single-process one:

- ``ctx.vectors.get(collection)`` is a :class:`ShardedIndex`: ``search`` fans out to every shard (each gets
  the part of a filter's allowed ids that lives on it) and merges the top k; ``len`` sums the shards'.
- ``ctx.lexical.get(collection)`` is a :class:`ShardedBm25`: ``candidates`` asks every shard for its share
  of the query terms' statistics, sums them, and has every shard score its chunks with the sums, so BM25
  (and hybrid) scores equal the unsharded ones; each shard sends back only its top ``depth``, the BM25
  scores of the dense candidates, and the dense scores of its lexical candidates (it holds their vectors).
- writes commit to SQL with their change-log entry (services/writes.py); the shards pick them up from
  the log, and the ingress nudges them to do so at once, so its own next search sees the write.

The read cache of hydrated rows (chunk rows, collection rows, chunk counts) stays on, but runs on a
:class:`~services.cluster.logclock.LogClock` instead of the data dir's write generation alone: other
processes, on other machines, write to the same database without touching this data dir, and every
write appends to the change log, whose newest seq the clock reads every ``cluster_follow_interval``
seconds. A write elsewhere is therefore shown within the follow interval, as the shards show it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Conflict, InvalidInput
from core.settings import Settings
from core.writelock import WriteGeneration
from index.sharding import shard_of
from ingest.embedders import EmbedderCache
from ingest.pipeline import IndexDelta
from services.cluster.coalesce import CoalescingPool
from services.cluster.fanout import Fanout, ShardPool, merge_sparse, merge_top_k
from services.cluster.logclock import LogClock
from services.cluster.termstats import TermStatsCache, still_current, summed
from services.context import ServiceContext
from services.engine import Engine
from services.hitcache import HitCache
from services.search.types import SearchRequest, SearchResult
from services.sync.lexical import LexicalIndexes, LexicalRound
from services.sync.vectors import VectorIndexes
from store import changelog
from store import repositories as repo
from store.models import Collection


def require_postgres(settings: Settings, what: str) -> None:
    """Cluster mode has several writer and reader processes on one database: SQLite cannot be it."""
    if not settings.resolved_database_url().startswith("postgresql"):
        raise InvalidInput(
            f"{what} needs PostgreSQL: several processes (maybe on several machines) share the database. "
            "Set LATENTSPACE_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB"
        )


class ShardedIndex:
    """The VectorIndex face of a collection spread over the shards (search and len; writes go via the log)."""

    def __init__(self, fanout: Fanout, ctx: ServiceContext, collection: Collection, kind: str) -> None:
        self.fanout, self.ctx = fanout, ctx
        self.collection_id, self.dim, self.kind = collection.id, collection.embedder_dim, kind

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple:
        queries = np.asarray(queries, dtype=np.float32)
        queries = queries[None, :] if queries.ndim == 1 else queries
        parts = [None] * self.fanout.shards
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            owner = shard_of(allowed, self.fanout.shards)
            parts = [allowed[owner == shard] for shard in range(self.fanout.shards)]
        args = [(self.collection_id, queries, k, parts[shard]) for shard in range(self.fanout.shards)]
        answers = self.fanout.gather("search", args)
        return merge_top_k([(ids, scores) for _shard, (ids, scores, _seq) in answers], k)

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """None here: the vectors live on the shards, and callers read the few they need from SQL."""
        return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)

    def __len__(self) -> int:
        """The stored chunk count (what the shards converge to): one SQL count instead of a fan-out round,
        kept in the read cache until the next write anywhere (a dense search asks for it every time)."""

        def count() -> int:
            with self.ctx.sessions() as session:
                return repo.collection_counts(session, self.collection_id)[1]

        return self.ctx.hits.value(("chunk-count", self.collection_id), count)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """The write is in the change log already; have the shards read it now rather than at their next tick."""
        self.fanout.pool.tell("sync", [()] * self.fanout.shards)

    def remove(self, ids: np.ndarray) -> None:
        self.fanout.pool.tell("sync", [()] * self.fanout.shards)


class ShardedVectorIndexes(VectorIndexes):
    """``ctx.vectors`` of the ingress: no index in this process, a :class:`ShardedIndex` per collection."""

    def __init__(self, ctx: ServiceContext, fanout: Fanout) -> None:
        super().__init__(ctx.settings.index_dir(), ctx.sessions, ctx.settings.exact_threshold)
        self.ctx, self.fanout = ctx, fanout
        self._layouts: dict[int, int] = {}

    def get(self, collection: Collection) -> Any:
        if self._layouts.get(collection.id) != self.fanout.shards:
            self._check_layout(collection)
        return ShardedIndex(self.fanout, self.ctx, collection, collection.index_kind or "sharded")

    def _check_layout(self, collection: Collection) -> None:
        """Record the collection's shard count on first use; refuse to serve it with another one."""
        with self._sessions.begin() as session:
            recorded = changelog.shard_layout(session, collection.id)
            if recorded is None:
                changelog.record_shard_layout(session, collection.id, self.fanout.shards)
            elif recorded != self.fanout.shards:
                raise Conflict(
                    f"collection {collection.name!r} is split over {recorded} shards and this server runs "
                    f"{self.fanout.shards}; serve it with --shards {recorded}, or run "
                    f"`latentspace cluster reshard -c {collection.name} --shards {self.fanout.shards}`"
                )
        self._layouts[collection.id] = self.fanout.shards

    def save(self, collection: Collection) -> None:
        """Each shard saves its own part; ask them to do so now (the end of a write)."""
        self.fanout.pool.tell("save", [()] * self.fanout.shards)

    def rebuild(self, collection: Collection) -> Any:
        self.fanout.gather("rebuild", [(collection.id,)] * self.fanout.shards)
        return self.get(collection)

    def drop(self, collection_id: int) -> None:
        """The shards drop it when they read the collection's reset entry; forget its layout here."""
        self._layouts.pop(collection_id, None)


class ShardedBm25:
    """The Bm25Index face of a collection spread over the shards, with global statistics: two rounds, or one
    when the query's statistics are kept and still current (services/cluster/termstats.py)."""

    def __init__(self, fanout: Fanout, collection_id: int, kept: TermStatsCache) -> None:
        self.fanout, self.collection_id, self.kept = fanout, collection_id, kept

    def candidates(
        self, query: str, k: int, allowed: np.ndarray | None, wanted: np.ndarray, vector: np.ndarray | None
    ) -> LexicalRound:
        """:meth:`LexicalIndexes.candidates` over every shard that answered: the query terms' statistics summed
        over the shards, then each shard's top ``k`` (of its part of ``allowed``), the BM25 scores of the
        ``wanted`` ids it holds and, given the query ``vector``, the dense scores of its other candidates."""
        question = (query, k, allowed, np.asarray(wanted, dtype=np.int64), vector)
        kept = self.kept.get(self.collection_id, query)
        if kept is not None:
            total, seqs = kept
            answers = self._candidates(total, question)
            if len(answers) == self.fanout.shards and still_current(seqs, answers):
                return _round(answers)
            # A shard applied a write since (or did not answer: partial answers use the statistics of the
            # shards that answer): ask again.
            self.kept.drop(self.collection_id, query)
        stats = self.fanout.gather("term_stats", [(self.collection_id, query)] * self.fanout.shards)
        total, seqs = summed(stats)
        if len(stats) == self.fanout.shards:  # only statistics of every shard are kept
            self.kept.put(self.collection_id, query, total, seqs)
        return _round(self._candidates(total, question))

    def _candidates(self, total: dict, question: tuple) -> list[tuple[int, Any]]:
        """The candidates round of ``question`` (query, k, allowed, wanted, vector) scored with ``total``."""
        query, k, allowed, wanted, vector = question
        every = range(self.fanout.shards)
        parts = [None] * self.fanout.shards  # unfiltered: every shard the same question, so searches ride
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            owner = shard_of(allowed, self.fanout.shards)
            parts = [allowed[owner == shard] for shard in every]
        args = [(self.collection_id, query, total, k, parts[shard], wanted, vector) for shard in every]
        return self.fanout.gather("lexical_candidates", args)


def _round(answers: list[tuple[int, Any]]) -> LexicalRound:
    ids, scores = merge_sparse([(ids, scores) for _shard, (ids, scores, _d, _s, _seq) in answers])
    dense: dict[int, float] = {}
    for _shard, (_ids, _scores, dense_ids, dense_scores, _seq) in answers:
        dense.update(zip(np.asarray(dense_ids).tolist(), np.asarray(dense_scores).tolist(), strict=True))
    return LexicalRound(ids, scores, dense)


class ShardedLexicalIndexes(LexicalIndexes):
    """``ctx.lexical`` of the ingress (also a write listener): the shards hold and follow the BM25 parts."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], fanout: Fanout) -> None:
        super().__init__(settings.index_dir(), sessions, None)
        self.fanout = fanout
        self.kept = TermStatsCache()

    def get(self, collection: Collection) -> Any:
        return ShardedBm25(self.fanout, collection.id, self.kept)

    def candidates(
        self,
        collection: Collection,
        query: str,
        k: int,
        allowed: np.ndarray | None,
        wanted: np.ndarray,
        vector: np.ndarray | None,
    ) -> LexicalRound:
        return self.get(collection).candidates(query, k, allowed, wanted, vector)

    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        """The shards read the delta from the change log (the vector side already nudged them)."""
        self.fanout.pool.tell("sync", [()] * self.fanout.shards)

    def save(self, collection: Collection) -> None:
        self.fanout.pool.tell("save", [()] * self.fanout.shards)

    def rebuild(self, collection: Collection) -> Any:
        """The vector side's rebuild already rebuilt each shard's BM25 part too."""
        return self.get(collection)

    def drop(self, collection_id: int) -> None:
        self.fanout.pool.tell("sync", [()] * self.fanout.shards)


class ClusterEngine(Engine):
    """The Engine of a sharded deployment: searches fan out; responses say which shards answered."""

    searches_in_process = False

    def __init__(self, settings: Settings, pool: ShardPool, embedders: EmbedderCache | None = None) -> None:
        require_postgres(settings, "cluster mode")
        super().__init__(settings, embedders)
        ctx = self.context
        local = WriteGeneration(settings.data_dir / ".write.generation")  # this process's own writes
        self.clock = LogClock(local, ctx.sessions, settings.cluster_follow_interval)
        ctx.hits = HitCache(self.clock, settings.hit_cache_entries)
        coalescing = CoalescingPool(pool, settings.cluster_fanout_inflight, window_ms=settings.cluster_fanout_window_ms)
        self.fanout = Fanout(coalescing)  # concurrent searches share fan-outs
        plain_lexical = ctx.lexical
        ctx.vectors = ShardedVectorIndexes(ctx, self.fanout)
        ctx.lexical = ShardedLexicalIndexes(ctx.settings, ctx.sessions, self.fanout)
        ctx.listeners[:] = [ctx.lexical if listener is plain_lexical else listener for listener in ctx.listeners]

    def search(self, name: str, request: SearchRequest) -> SearchResult:
        with self.fanout.report(request.allow_partial) as report:
            result = super().search(name, request)
        result.cluster = report.summary()
        return result

    def close(self) -> None:
        self.clock.close()
        super().close()
