"""Ranking metrics, pure functions with trec_eval's definitions.

A *ranking* is a list of document ids, best first. *Qrels* map a document id to its graded relevance
(``> 0`` is relevant; documents absent from the qrels have relevance 0). Every function scores one query;
:func:`evaluate` averages over the queries that have qrels (a query with no result scores 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

Ranking = Sequence[str]
Qrels = Mapping[str, int]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: ``sum(gain_i / log2(i + 1))`` for 1-based positions ``i``."""
    return sum(gain / math.log2(position + 1) for position, gain in enumerate(gains, 1))


def ndcg_at(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """nDCG@k with linear gains (trec_eval ``ndcg_cut``): DCG of the top k over DCG of the ideal top k."""
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(qrels.get(doc, 0), 0) for doc in ranking[:k]]) / ideal


def recall_at(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {doc for doc, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k (0 when there is none)."""
    for position, doc in enumerate(ranking[:k], 1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / position
    return 0.0


def average_precision_at(ranking: Ranking, qrels: Qrels, k: int) -> float:
    """AP@k (trec_eval ``map_cut``): mean of precision at each relevant hit in the top k, over all relevant."""
    relevant_total = sum(1 for grade in qrels.values() if grade > 0)
    if relevant_total == 0:
        return 0.0
    found, total = 0, 0.0
    for position, doc in enumerate(ranking[:k], 1):
        if qrels.get(doc, 0) > 0:
            found += 1
            total += found / position
    return total / relevant_total


MetricFn = Callable[[Ranking, Qrels, int], float]
METRICS: dict[str, MetricFn] = {
    "ndcg": ndcg_at,
    "recall": recall_at,
    "mrr": mrr_at,
    "map": average_precision_at,
}
DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")


def parse_metric(name: str) -> tuple[MetricFn, int]:
    """``"ndcg@10"`` → (ndcg_at, 10)."""
    base, _, cut = name.partition("@")
    if base not in METRICS or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"unknown metric {name!r}; use one of {sorted(METRICS)} with @k, e.g. ndcg@10")
    return METRICS[base], int(cut)


def evaluate(
    run: Mapping[str, Ranking], qrels: Mapping[str, Qrels], metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Mean of each metric over the queries in ``qrels`` that have a relevant document."""
    judged = [q for q, docs in qrels.items() if any(g > 0 for g in docs.values())]
    parsed = {name: parse_metric(name) for name in metrics}
    if not judged:
        return {name: 0.0 for name in metrics}
    return {
        name: sum(fn(run.get(q, []), qrels[q], k) for q in judged) / len(judged) for name, (fn, k) in parsed.items()
    }


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 90, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (``p50`` …) of ``values``; empty input gives an empty dict."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{p}": ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] for p in points}
