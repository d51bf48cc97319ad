"""Ranking metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from latent.recsys.metrics import (
    average_precision_at_k,
    coverage,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)


def test_precision_and_recall() -> None:
    assert precision_at_k([1, 2, 3, 4], {2, 4, 9}, 4) == 0.5
    assert recall_at_k([1, 2, 3, 4], {2, 4, 9}, 4) == pytest.approx(2 / 3)
    assert recall_at_k([1], set(), 1) == 0.0


def test_ndcg_hand_computed() -> None:
    # hits at ranks 1 and 3; 3 relevant, k=3 -> IDCG over 3 positions
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([5, 6, 7], {5, 7, 8}, 3) == pytest.approx(dcg / idcg)
    # one relevant item found at rank 2: IDCG uses min(|T|, k) = 1 position
    assert ndcg_at_k([1, 2, 3], {2}, 3) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k([1, 2], {1, 2}, 2) == pytest.approx(1.0)


def test_average_precision_hand_computed() -> None:
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(3, 3)
    assert average_precision_at_k([5, 6, 7], {5, 7, 8}, 3) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision_at_k([1, 2, 3], {9}, 3) == 0.0


def test_coverage_and_report() -> None:
    assert coverage([[1, 2], [2, 3]], 10) == 0.3
    report = ranking_report([[1, 2], [3, 4]], [{1}, set()], n_items=4, k=2)
    assert report["users"] == 1 and report["precision@2"] == 0.5 and report["ndcg@2"] == 1.0
