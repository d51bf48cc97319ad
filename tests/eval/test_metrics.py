"""Ranking metrics against hand-computed values and against ranx on a small fixture."""

from __future__ import annotations

import math
import random

import pytest

from eval.metrics import (
    average_precision_at,
    evaluate,
    mrr_at,
    ndcg_at,
    parse_metric,
    percentiles,
    recall_at,
)

QRELS = {"a": 1, "c": 2, "x": 1}  # "x" is never retrieved
RANKING = ["b", "a", "c", "d"]


def test_ndcg_by_hand() -> None:
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(RANKING, QRELS, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at(RANKING, QRELS, 1) == 0.0
    assert ndcg_at(["c", "a", "x"], QRELS, 3) == pytest.approx(1.0)


def test_recall_mrr_map_by_hand() -> None:
    assert recall_at(RANKING, QRELS, 2) == pytest.approx(1 / 3)
    assert recall_at(RANKING, QRELS, 10) == pytest.approx(2 / 3)
    assert mrr_at(RANKING, QRELS, 10) == pytest.approx(0.5)
    assert mrr_at(RANKING, QRELS, 1) == 0.0
    assert average_precision_at(RANKING, QRELS, 10) == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert average_precision_at(RANKING, QRELS, 2) == pytest.approx((1 / 2) / 3)


def test_edge_cases() -> None:
    assert ndcg_at([], QRELS, 10) == 0.0
    assert recall_at(["a"], {"a": 0}, 10) == 0.0
    assert evaluate({}, {"q": {"a": 1}}, ["ndcg@10"]) == {"ndcg@10": 0.0}
    # a query with only non-relevant judgements is not averaged in
    assert evaluate({"q": ["a"]}, {"q": {"a": 1}, "r": {"b": 0}}, ["mrr@10"]) == {"mrr@10": 1.0}
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("ndcg")
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("prec@5")
    assert percentiles([5.0, 1.0, 3.0, 2.0, 4.0]) == {"p50": 3.0, "p90": 5.0, "p95": 5.0, "p99": 5.0}
    assert percentiles([]) == {}


def _fixture(seed: int = 7) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(60)]
    run, qrels = {}, {}
    for q in range(25):
        ranking = rng.sample(docs, 40)
        judged = rng.sample(docs, rng.randint(1, 6))
        run[f"q{q}"] = ranking
        qrels[f"q{q}"] = {d: rng.choice([1, 1, 2]) for d in judged}
    return run, qrels


# ranx.evaluate(Qrels(qrels), Run(run as descending scores), METRICS) on _fixture(), ranx 0.3.x. Recorded rather
# than recomputed: ranx compiles with numba on first use, which takes minutes on a busy two-core machine.
RANX_REFERENCE = {
    "ndcg@10": 0.10702394626781256,
    "recall@10": 0.152,
    "recall@30": 0.5253333333333334,
    "mrr@10": 0.21014285714285713,
    "map@30": 0.10428382945532816,
}


def test_matches_ranx_reference_numbers() -> None:
    run, qrels = _fixture()
    ours = evaluate(run, qrels, list(RANX_REFERENCE))
    for name, value in RANX_REFERENCE.items():
        assert ours[name] == pytest.approx(value, abs=1e-9), name
