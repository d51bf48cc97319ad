"""Group commit for shard calls: concurrent searches reach the shards as one request per shard.

Every sharded search costs one request per shard per round, and on the ingress each request costs the
same fixed work whatever it carries (Ray Serve routes it in Python, serialises it, waits for it): with 16
clients that fixed work, not the index, limits throughput (docs/BENCHMARKS.md, "Cluster, quiet machine").
:class:`CoalescingPool` therefore lets concurrent calls of one kind ride one fan-out, like a database's
group commit. Three kinds of call ride (a :class:`Ride` each says how calls are keyed, carried and split):

- ``search`` without a filter, per (collection, ``k``): the riders' query matrices are stacked;
- ``term_stats`` (a hybrid or lexical search's first BM25 round), per collection: one ``term_stats_many``
  request per shard answers every rider's query;
- ``lexical_candidates`` (its second round) without a filter, per collection: one ``lexical_candidates_many``
  request per shard answers every rider's (query, global statistics, depth, dense candidates, vector).

The mechanism is the same for all: a call that finds fewer than ``inflight`` fan-outs of its key under way
(``cluster_fanout_inflight``, default 1: on a busy machine fewer, fuller requests beat more, smaller ones)
sends at once, taking with it whatever others are queued (up to ``max_rows`` query rows): a lone client
never waits; otherwise it queues, and when a fan-out comes back its sender hands every waiter its own part
of each shard's answer and, if calls queued meanwhile, wakes the first of them to send the next batch.
Dense searches alone add a window (``cluster_fanout_window_ms``): while they are concurrent, a leader waits
up to that long for riders before it sends (a lone client's fan-outs carry one caller, so it never waits).

Each caller gets its own per-shard results (a shard's failure is every rider's failure), so the fan-out's
503 / ``allow_partial`` decision stays per search (services/cluster/fanout.py). A queued call may wait for
the fan-out ahead of it before its own starts: with a shard down, up to twice the shard timeout. Filtered
searches and every other method pass straight through to the wrapped pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_ROWS = 64


@dataclass(frozen=True)
class Ride:
    """How calls of one shard method share a fan-out.

    ``key(args)`` groups calls that may ride together (None: this call goes alone, straight through);
    ``payload(first_args)`` is what one caller brings, ``rows(payload)`` its size against ``max_rows``;
    ``request(key, payloads)`` the arguments every shard gets for ``batched``; ``split(answer, sizes)``
    one shard's answer to that request as one answer per rider, in order, each in ``method``'s shape.
    """

    method: str
    batched: str
    key: Callable[[Sequence[tuple]], tuple | None]
    payload: Callable[[tuple], Any]
    rows: Callable[[Any], int]
    request: Callable[[tuple, list[Any]], tuple]
    split: Callable[[Any, list[int]], list[Any]]
    waits: bool = False  # whether a leader may wait the pool's window for riders (measured for dense only)


def _same(args: Sequence[tuple]) -> bool:
    """Every shard is asked the same question (what ShardedIndex and ShardedBm25 send)."""
    first = args[0]
    return all(
        len(a) == len(first) and all(x is y or _equal(x, y) for x, y in zip(a, first, strict=True)) for a in args
    )


def _equal(x: Any, y: Any) -> bool:
    return not isinstance(x, np.ndarray) and not isinstance(y, np.ndarray) and x == y


def _split_rows(answer: tuple, sizes: list[int]) -> list[Any]:
    ids, scores, seq = answer
    bounds = np.cumsum([0, *sizes])
    return [(ids[a:b], scores[a:b], seq) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


SEARCH = Ride(
    method="search",
    batched="search",
    key=lambda args: ("search", int(args[0][0]), int(args[0][2])) if args[0][3] is None and _same(args) else None,
    payload=lambda first: np.atleast_2d(np.asarray(first[1], dtype=np.float32)),
    rows=len,
    request=lambda key, queries: (key[1], np.vstack(queries), key[2], None),
    split=_split_rows,
    waits=True,
)
TERM_STATS = Ride(
    method="term_stats",
    batched="term_stats_many",
    key=lambda args: ("term_stats", int(args[0][0])) if _same(args) else None,
    payload=lambda first: first[1],
    rows=lambda _query: 1,
    request=lambda key, queries: (key[1], list(queries)),
    split=lambda answer, sizes: [(stats, answer[1]) for stats in answer[0]],
)
LEXICAL_CANDIDATES = Ride(
    method="lexical_candidates",
    batched="lexical_candidates_many",
    key=lambda args: ("lexical_candidates", int(args[0][0])) if _same(args) else None,
    payload=lambda first: first[1:],
    rows=lambda _call: 1,
    request=lambda key, calls: (key[1], list(calls)),
    split=lambda answer, sizes: [(*part, answer[1]) for part in answer[0]],
)
RIDES = {ride.method: ride for ride in (SEARCH, TERM_STATS, LEXICAL_CANDIDATES)}


class _Rider:
    def __init__(self, payload: Any, rows: int) -> None:
        self.payload, self.rows = payload, rows
        self.results: list[Any] | None = None
        self.lead = False
        self.wake = threading.Event()


class CoalescingPool:
    """A ShardPool over ``pool`` whose concurrent searches and BM25 rounds share fan-outs (module docstring)."""

    def __init__(
        self,
        pool: Any,
        inflight: int = 1,
        max_rows: int = MAX_ROWS,
        rides: Mapping[str, Ride] = RIDES,
        window_ms: float = 0.0,
    ) -> None:
        """``rides``: the methods whose calls share fan-outs, by name (every other method passes through);
        ``window_ms``: how long a leader waits for riders while searches are concurrent (0: never)."""
        self.pool, self.shards = pool, pool.shards
        self.inflight, self.max_rows, self.rides = inflight, max_rows, rides
        self.window = window_ms / 1000.0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a rider queued (what a waiting leader waits for)
        self._queued: dict[tuple, list[_Rider]] = {}
        self._sending: dict[tuple, int] = {}
        self._last: dict[tuple, tuple[float, int]] = {}  # key -> (when its last fan-out ended, its callers)

    def ask(self, method: str, args: Sequence[tuple]) -> list[Any]:
        ride = self.rides.get(method)
        key = ride.key(args) if ride is not None else None
        if ride is None or key is None:
            return self.pool.ask(method, args)
        payload = ride.payload(args[0])
        rider = _Rider(payload, ride.rows(payload))
        with self._lock:
            if self._sending.get(key, 0) < self.inflight:
                self._sending[key] = self._sending.get(key, 0) + 1
                rider.lead = True
            else:
                self._queued.setdefault(key, []).append(rider)
                self._arrived.notify()
        while rider.results is None:
            if rider.lead:
                self._send(ride, key, rider)
            else:
                rider.wake.wait()
                rider.wake.clear()
        return rider.results

    def _send(self, ride: Ride, key: tuple, leader: _Rider) -> None:
        """One fan-out for ``leader`` and the riders queued behind it; then pass the lead on (or give it up)."""
        with self._lock:
            if ride.waits:
                self._wait_for_riders(key, leader.rows)
            queued = self._queued.get(key, [])
            batch, rows = [leader], leader.rows
            while queued and rows + queued[0].rows <= self.max_rows:
                rows += queued[0].rows
                batch.append(queued.pop(0))
        sizes = [rider.rows for rider in batch]
        try:
            request = ride.request(key, [rider.payload for rider in batch])
            answers = self.pool.ask(ride.batched, [request] * self.shards)
        except Exception as exc:  # the pool itself failed: every shard counts as down for every rider
            answers = [exc] * self.shards
        per_shard = [_parts(ride, answer, sizes) for answer in answers]
        for number, rider in enumerate(batch):
            rider.results = [parts[number] for parts in per_shard]
        with self._lock:
            self._last[key] = (time.monotonic(), len(batch))
            queued = self._queued.get(key, [])
            if queued:
                successor = queued.pop(0)  # it sends next (taking the others queued behind it)
                successor.lead = True
            else:
                successor = None
                self._sending[key] -= 1
        for rider in batch[1:]:
            rider.wake.set()
        if successor is not None:
            successor.wake.set()

    def _wait_for_riders(self, key: tuple, rows: int) -> None:
        """With a window, and while this key's searches are concurrent (its last fan-out carried several
        callers and ended within ten windows), wait up to the window for riders or a full request (lock held).
        A lone client's fan-outs carry one caller each, so it never waits."""
        ended, callers = self._last.get(key, (0.0, 0))
        now = time.monotonic()
        if not self.window or callers < 2 or now - ended > 10 * self.window:
            return
        deadline = now + self.window
        while rows + sum(r.rows for r in self._queued.get(key, [])) < self.max_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.wait(left)

    def tell(self, method: str, args: Sequence[tuple]) -> None:
        self.pool.tell(method, args)

    def status(self) -> list[Any]:
        return self.pool.status()


def _parts(ride: Ride, answer: Any, sizes: list[int]) -> list[Any]:
    """One shard's answer as every rider's part of it; an exception (or a malformed answer) is everyone's."""
    if isinstance(answer, BaseException):
        return [answer] * len(sizes)
    try:
        parts = ride.split(answer, sizes)
    except Exception as exc:  # e.g. a replica without the batched method answered something else
        return [exc] * len(sizes)
    if len(parts) != len(sizes):
        return [ValueError(f"{ride.batched} answered {len(parts)} parts for {len(sizes)} calls")] * len(sizes)
    return parts
