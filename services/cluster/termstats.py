"""The ingress's cache of BM25 term statistics: a repeated query skips the statistics round.

A sharded hybrid or lexical search first asks every shard for its share of the query terms' statistics
(document frequencies, chunk count, total length), sums them, and then asks every shard for its candidates
scored with the sums (services/cluster/ingress.py). The sums depend only on the shards' contents, which
change only when a shard applies a change-log entry, and every shard answer carries the seq it had applied.
So the sums are kept per (collection, query) with the seq each shard answered at; a later search with the
same query sends the kept sums straight to the candidates round, and uses its answer only if every shard
answered, each still at the seq it had when the sums were taken (otherwise it drops them and asks again, so
a partial answer is scored with the statistics of the shards that answer, as without the cache): the scores
are the ones a fresh statistics round would give. Only sums over every shard are kept. Bounded, least
recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

ENTRIES = 1024  # queries kept per ingress; a few KB each


def summed(answers: list[tuple[int, Any]]) -> tuple[dict, dict[int, int]]:
    """The shards' ``term_stats`` answers [(shard, (part, seq))] added up, and each shard's seq."""
    total: dict[str, Any] = {"docs": 0, "length": 0, "df": {}}
    seqs: dict[int, int] = {}
    for shard, (part, seq) in answers:
        total["docs"] += part["docs"]
        total["length"] += part["length"]
        for term, count in part["df"].items():
            total["df"][term] = total["df"].get(term, 0) + count
        seqs[shard] = seq
    return total, seqs


def still_current(seqs: dict[int, int], answers: list[tuple[int, Any]]) -> bool:
    """Whether every shard in ``answers`` [(shard, (..., seq))] answered at the seq it had in ``seqs``."""
    return all(seqs.get(shard) == answer[-1] for shard, answer in answers)


class TermStatsCache:
    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self._kept: OrderedDict[tuple[int, str], tuple[dict, dict[int, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, collection_id: int, query: str) -> tuple[dict, dict[int, int]] | None:
        with self._lock:
            found = self._kept.get((collection_id, query))
            if found is not None:
                self._kept.move_to_end((collection_id, query))
            return found

    def put(self, collection_id: int, query: str, total: dict, seqs: dict[int, int]) -> None:
        with self._lock:
            self._kept[(collection_id, query)] = (total, seqs)
            self._kept.move_to_end((collection_id, query))
            while len(self._kept) > self.entries:
                self._kept.popitem(last=False)

    def drop(self, collection_id: int, query: str) -> None:
        with self._lock:
            self._kept.pop((collection_id, query), None)
