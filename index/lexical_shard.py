"""BM25 over one shard's chunks, scored with the statistics of the whole collection.

BM25 depends on corpus statistics: the number of chunks, their mean length and each term's document
frequency. Scored per shard with its own statistics, the same chunk would get another score on every
layout; so a sharded search asks every shard for its share of the statistics of the query's terms
(:meth:`ShardBm25.term_stats`), adds them up (:func:`merge_stats`) and has each shard score its chunks with
the sum (:meth:`ShardBm25.scores_with`), sending back only what the fusion reads
(:meth:`ShardBm25.candidate_scores_with`: its own top ``k`` and the scores of the ids asked for). The
formula and float32 accumulation are those of :func:`index.lexical.bm25_model` (bm25s, Lucene variant), so
a chunk's score equals the unsharded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.lexical import Bm25Index, LexicalOptions, narrow


@dataclass
class TermStats:
    """Corpus statistics for one query: chunks, their total length in terms, document frequency per term."""

    docs: int = 0
    length: int = 0
    df: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"docs": self.docs, "length": self.length, "df": dict(self.df)}

    @classmethod
    def of(cls, raw: dict) -> TermStats:
        return cls(int(raw["docs"]), int(raw["length"]), {str(k): int(v) for k, v in raw["df"].items()})


def merge_stats(parts: list[TermStats]) -> TermStats:
    """The statistics of the union of disjoint shards."""
    total = TermStats()
    for part in parts:
        total.docs += part.docs
        total.length += part.length
        for term, count in part.df.items():
            total.df[term] = total.df.get(term, 0) + count
    return total


class ShardBm25(Bm25Index):
    """A :class:`~index.lexical.Bm25Index` that can also be scored with statistics from outside."""

    def __init__(self, options: LexicalOptions | None = None) -> None:
        super().__init__(options)
        self._postings: tuple | None = None  # built lazily after each write, under the index's lock

    def _matrix(self) -> tuple:
        """(sorted chunk ids, postings by token id: (rows, term frequencies), chunk lengths), kept per write."""
        if self._postings is not None:
            return self._postings
        order = np.sort(self.ids())
        arrays = [self._tokens[int(i)] for i in order]
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        tokens = np.concatenate(arrays).astype(np.int64) if lengths.sum() else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(arrays), dtype=np.int64), lengths)
        n = max(len(arrays), 1)
        keys, tf = np.unique(tokens * n + owner, return_counts=True)
        term, row = keys // n, keys % n
        bounds = np.searchsorted(term, np.arange(len(self._vocab) + 1))
        present = np.unique(term).tolist()
        postings = {t: (row[bounds[t] : bounds[t + 1]], tf[bounds[t] : bounds[t + 1]]) for t in present}
        self._postings = (order, postings, lengths)
        return self._postings

    def add(self, ids: np.ndarray | list[int], texts: list[str]) -> None:
        super().add(ids, texts)
        with self._lock:
            self._postings = None

    def remove(self, ids: np.ndarray | list[int]) -> None:
        super().remove(ids)
        with self._lock:
            self._postings = None

    def term_stats(self, query: str) -> TermStats:
        """This shard's chunks, their total length and each query term's document frequency here."""
        terms = self.analyzer.terms(query)
        with self._lock:
            order, postings, lengths = self._matrix()
            df = {}
            for term in dict.fromkeys(terms):
                token = self._vocab.get(term)
                df[term] = 0 if token is None or token not in postings else len(postings[token][0])
            return TermStats(len(order), int(lengths.sum()), df)

    def scores_with(self, query: str, stats: TermStats) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids int64, BM25 scores float32) of this shard's chunks matching a query term, scored with
        the whole collection's ``stats``; ids ascending. Chunks that match no term are left out."""
        terms = self.analyzer.terms(query)
        k1, b = self.options.k1, self.options.b
        with self._lock:
            order, postings, lengths = self._matrix()
            scores = np.zeros(len(order), dtype=np.float32)
            if stats.docs == 0 or len(order) == 0:
                return order[:0], scores[:0]
            mean = max(stats.length / stats.docs, 1e-9)
            touched = np.zeros(len(order), dtype=bool)
            for term in terms:  # repeated query terms count again, as bm25s sums its query token ids
                token = self._vocab.get(term)
                if token is None or token not in postings:
                    continue
                rows, tf = postings[token]
                df = stats.df.get(term, len(rows))
                idf = np.log(1.0 + (stats.docs - df + 0.5) / (df + 0.5))
                norm = k1 * (1.0 - b + b * lengths[rows] / mean)
                np.add.at(scores, rows, (idf * tf / (tf + norm)).astype(np.float32))
                touched[rows] = True
            return order[touched], scores[touched]

    def candidate_scores_with(
        self, query: str, stats: TermStats, k: int, allowed_ids: np.ndarray | None, wanted: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`scores_with` narrowed to this shard's top ``k`` (among ``allowed_ids``) and the ``wanted`` ids
        that match (:func:`index.lexical.narrow`). The global top ``k`` is among the union of the shards' top
        ``k``, as every shard scores with the same global ``stats``; so the union of these answers gives the
        unsharded :meth:`~index.lexical.Bm25Index.candidate_scores`, ids and scores."""
        return narrow(*self.scores_with(query, stats), k, allowed_ids, wanted)
