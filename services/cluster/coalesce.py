"""Group commit for shard searches: concurrent unfiltered searches reach the shards as one request each.

Every sharded search costs one request per shard, and on the ingress each request costs the same
fixed work whatever it carries (Ray Serve routes it in Python, serialises it, waits for it): with 16
clients that fixed work, not the index, limits throughput (docs/BENCHMARKS.md, "Cluster, quiet machine").
:class:`CoalescingPool` therefore lets concurrent unfiltered searches of one collection and ``k`` ride
one fan-out whose query matrix stacks theirs, like a database's group commit:

- a search that finds fewer than ``inflight`` fan-outs of its kind under way (``cluster_fanout_inflight``,
  default 1: on a busy machine fewer, fuller requests beat more, smaller ones) sends at once, taking with
  it whatever others are queued (up to ``max_rows`` query rows): a lone client never waits;
- otherwise it queues; when a fan-out comes back, its sender hands every waiter its own rows of each
  shard's answer and, if searches queued meanwhile, wakes the first of them to send the next batch.

Each caller gets its own per-shard results (a shard's failure is every rider's failure), so the fan-out's
503 / ``allow_partial`` decision stays per search (services/cluster/fanout.py). A queued search may wait
for the fan-out ahead of it before its own starts: with a shard down, up to twice the shard timeout.
Filtered searches and every other method pass straight through to the wrapped pool.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_ROWS = 64


class _Rider:
    def __init__(self, queries: np.ndarray) -> None:
        self.queries = queries
        self.results: list[Any] | None = None
        self.lead = False
        self.wake = threading.Event()


class CoalescingPool:
    """A ShardPool over ``pool`` that batches concurrent unfiltered ``search`` calls (module docstring)."""

    def __init__(self, pool: Any, inflight: int = 1, max_rows: int = MAX_ROWS) -> None:
        self.pool, self.shards = pool, pool.shards
        self.inflight, self.max_rows = inflight, max_rows
        self._lock = threading.Lock()
        self._queued: dict[tuple[int, int], list[_Rider]] = {}
        self._sending: dict[tuple[int, int], int] = {}

    def ask(self, method: str, args: Sequence[tuple]) -> list[Any]:
        if method != "search" or not _same_unfiltered(args):
            return self.pool.ask(method, args)
        collection_id, queries, k, _allowed = args[0]
        key = (int(collection_id), int(k))
        rider = _Rider(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        with self._lock:
            if self._sending.get(key, 0) < self.inflight:
                self._sending[key] = self._sending.get(key, 0) + 1
                rider.lead = True
            else:
                self._queued.setdefault(key, []).append(rider)
        while rider.results is None:
            if rider.lead:
                self._send(key, rider)
            else:
                rider.wake.wait()
                rider.wake.clear()
        return rider.results

    def _send(self, key: tuple[int, int], leader: _Rider) -> None:
        """One fan-out for ``leader`` and the riders queued behind it; then pass the lead on (or give it up)."""
        with self._lock:
            queued = self._queued.get(key, [])
            batch, rows = [leader], len(leader.queries)
            while queued and rows + len(queued[0].queries) <= self.max_rows:
                rows += len(queued[0].queries)
                batch.append(queued.pop(0))
        try:
            stacked = np.vstack([rider.queries for rider in batch])
            answers = self.pool.ask("search", [(key[0], stacked, key[1], None)] * self.shards)
        except Exception as exc:  # the pool itself failed: every shard counts as down for every rider
            answers = [exc] * self.shards
        start = 0
        for rider in batch:
            stop = start + len(rider.queries)
            rider.results = [_rows(answer, start, stop) for answer in answers]
            start = stop
        with self._lock:
            queued = self._queued.get(key, [])
            if queued:
                successor = queued[0]  # it sends next (taking the others queued behind it)
                queued.pop(0)
                successor.lead = True
            else:
                successor = None
                self._sending[key] -= 1
        for rider in batch[1:]:
            rider.wake.set()
        if successor is not None:
            successor.wake.set()

    def tell(self, method: str, args: Sequence[tuple]) -> None:
        self.pool.tell(method, args)

    def status(self) -> list[Any]:
        return self.pool.status()


def _same_unfiltered(args: Sequence[tuple]) -> bool:
    """True for a search asking every shard the same unfiltered question (what ShardedIndex sends)."""
    first = args[0]
    return all(a[0] == first[0] and a[1] is first[1] and a[2] == first[2] and a[3] is None for a in args)


def _rows(answer: Any, start: int, stop: int) -> Any:
    """A rider's rows of one shard's (ids, scores, seq) answer; an exception is everyone's."""
    if isinstance(answer, BaseException):
        return answer
    ids, scores, seq = answer
    return ids[start:stop], scores[start:stop], seq
