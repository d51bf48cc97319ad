"""Pure fusion functions: RRF, normalised convex combination, MMR, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from index import fusion

DENSE = {1: 0.9, 2: 0.5, 3: 0.1}
LEXICAL = {3: 12.0, 4: 6.0}


def test_ranks_and_rrf_by_hand() -> None:
    assert fusion.ranks({5: 1.0, 2: 1.0, 9: 3.0}) == {9: 1, 2: 2, 5: 3}  # ties broken by key
    fused = fusion.rrf({"d": DENSE, "l": LEXICAL}, k=60)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61) and fused[4] == pytest.approx(1 / 62)
    assert max(fused, key=fused.get) == 3  # found by both beats first place in one


def test_convex_min_max_and_z_score() -> None:
    fused = fusion.convex(DENSE, LEXICAL, weight=0.5)
    assert fused == pytest.approx({1: 0.5, 2: 0.25, 3: 0.5, 4: 0.0})
    assert fusion.convex(DENSE, LEXICAL, weight=1.0) == pytest.approx({1: 1.0, 2: 0.5, 3: 0.0, 4: 0.0})
    assert fusion.min_max({7: 2.0, 8: 2.0}) == {7: 1.0, 8: 1.0}
    z = fusion.z_score({1: 1.0, 2: 3.0})
    assert z == pytest.approx({1: -1.0, 2: 1.0})
    zf = fusion.convex({1: 1.0, 2: 3.0}, {2: 5.0, 3: 1.0}, 0.5, normalise="zscore")
    assert zf == pytest.approx({1: -1.0, 2: 1.0, 3: -1.0})  # a missing key takes the signal's lowest z
    assert fusion.fuse(DENSE, LEXICAL, "rrf", 0.5, 60) == fusion.rrf({"d": DENSE, "l": LEXICAL}, 60)


def test_mmr_trades_relevance_for_novelty() -> None:
    scores = {1: 1.0, 2: 0.95, 3: 0.5}
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    sim = fusion.cosine_matrix(vectors)
    similarity = lambda a, b: float(sim[a - 1, b - 1])  # noqa: E731
    assert fusion.mmr(scores, similarity, 3, diversity=0.0) == [1, 2, 3]
    assert fusion.mmr(scores, similarity, 2, diversity=0.5) == [1, 3]  # 2 is a near-duplicate of 1
    assert fusion.mmr({}, similarity, 3, 0.5) == []
    np.testing.assert_allclose(np.diag(sim), 1.0)
