"""The ingress side of a sharded search: ask every shard, count who answered, merge their top-k.

A :class:`ShardPool` runs one method on every shard at once (deploy.py: Ray Serve handles; LocalShardPool:
in-process :class:`~services.cluster.shard.ShardServer` objects, for tests and benchmarks). A search runs
inside :meth:`Fanout.report`: every round of it (a dense search, BM25 statistics, BM25 scores) notes which
shards answered and at which change-log seq. A shard that fails or times out makes the search fail with
503 (ShardUnavailable), unless the request allowed partial results: then the answer is built from the
shards that did answer and says ``partial: true``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from core.errors import LatentspaceError, ShardUnavailable

log = logging.getLogger(__name__)


class ShardPool(Protocol):
    shards: int

    def ask(self, method: str, args: Sequence[tuple]) -> list[Any]:
        """Call ``method(*args[i])`` on shard i for every shard at once; each result, or the exception raised."""
        ...

    def tell(self, method: str, args: Sequence[tuple]) -> None:
        """Like :meth:`ask` without waiting for (or seeing) the results."""
        ...


class LocalShardPool:
    """Shards in this process (no Ray): the same protocol, called one after the other."""

    def __init__(self, servers: Sequence[Any]) -> None:
        self.servers = list(servers)
        self.shards = len(self.servers)
        self.down: set[int] = set()  # shards that act as crashed (tests of the 503 / partial paths)

    def ask(self, method: str, args: Sequence[tuple]) -> list[Any]:
        results: list[Any] = []
        for number, (server, arguments) in enumerate(zip(self.servers, args, strict=True)):
            try:
                if number in self.down:
                    raise ConnectionError(f"shard {number} is down")
                results.append(getattr(server, method)(*arguments))
            except Exception as exc:  # handed back like a remote failure; the fan-out decides
                results.append(exc)
        return results

    def tell(self, method: str, args: Sequence[tuple]) -> None:
        self.ask(method, args)


@dataclass
class FanoutReport:
    """What one search saw of the shards."""

    allow_partial: bool
    total: int
    failed: set[int] = field(default_factory=set)
    seqs: dict[int, int] = field(default_factory=dict)  # shard -> the lowest seq it answered at

    def summary(self) -> dict[str, Any]:
        answered = self.total - len(self.failed)
        seq = min(self.seqs.values()) if self.seqs else None
        return {"index_seq": seq, "shards": {"answered": answered, "total": self.total}, "partial": bool(self.failed)}


_current: contextvars.ContextVar[FanoutReport | None] = contextvars.ContextVar("fanout_report", default=None)


class Fanout:
    def __init__(self, pool: ShardPool) -> None:
        self.pool = pool
        self.shards = pool.shards

    @contextlib.contextmanager
    def report(self, allow_partial: bool) -> Iterator[FanoutReport]:
        report = FanoutReport(allow_partial, self.shards)
        token = _current.set(report)
        try:
            yield report
        finally:
            _current.reset(token)

    def gather(self, method: str, args: Sequence[tuple]) -> list[tuple[int, Any]]:
        """(shard, result) of every shard that answered; raises ShardUnavailable unless partial is allowed.

        Every shard method answers a tuple whose last item is the seq the shard had applied.
        """
        report = _current.get() or FanoutReport(False, self.shards)
        answered = []
        for shard, result in enumerate(self.pool.ask(method, args)):
            if isinstance(result, LatentspaceError):  # the shard's own answer (e.g. collection gone): pass it on
                raise result
            if isinstance(result, BaseException):
                log.warning("shard %d/%d failed on %s: %s", shard, self.shards, method, result.__class__.__name__)
                report.failed.add(shard)
                continue
            report.seqs[shard] = min(report.seqs.get(shard, result[-1]), result[-1])
            answered.append((shard, result))
        if report.failed and not report.allow_partial:
            down = ", ".join(str(s) for s in sorted(report.failed))
            raise ShardUnavailable(
                f"{len(report.failed)} of {self.shards} search shards did not answer (shard {down}); "
                "retry, or ask with allow_partial for results from the others"
            )
        if not answered:
            raise ShardUnavailable(f"none of the {self.shards} search shards answered")
        return answered


def merge_top_k(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard (ids (q, k_i), scores (q, k_i)) into the global top ``k`` per query row.

    Ordered by score, then id (the shards are disjoint, so no id appears twice); padded with -1 / -inf.
    """
    ids = np.concatenate([p[0] for p in parts], axis=1)
    scores = np.concatenate([p[1] for p in parts], axis=1).astype(np.float32)
    out_ids = np.full((ids.shape[0], k), -1, dtype=np.int64)
    out_scores = np.full((ids.shape[0], k), -np.inf, dtype=np.float32)
    for row in range(ids.shape[0]):
        valid = ids[row] >= 0
        row_ids, row_scores = ids[row][valid], scores[row][valid]
        order = np.lexsort((row_ids, -row_scores))[:k]
        out_ids[row, : len(order)] = row_ids[order]
        out_scores[row, : len(order)] = row_scores[order]
    return out_ids, out_scores


def merge_sparse(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-shard (ids, scores) vectors into one sorted by id."""
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts])
    scores = np.concatenate([np.asarray(p[1], dtype=np.float32) for p in parts])
    order = np.argsort(ids, kind="stable")
    return ids[order], scores[order]
