"""faiss_ivf specifics: exact flat stage before training, self-training, state across save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.faiss_ivf import FaissIvfIndex, auto_nlist
from index.registry import create_index, load_index
from tests.index.vector_data import DIM, brute_force, clustered, recall


def test_untrained_then_trained_transition(tmp_path: Path) -> None:
    index = create_index("faiss_ivf", DIM, {"nlist": 16, "nprobe": 4})
    assert isinstance(index, FaissIvfIndex)
    vectors = clustered(1_200, seed=7)
    ids = np.arange(1_200, dtype=np.int64)
    noise = 0.05 * np.random.default_rng(8).standard_normal((50, DIM)).astype(np.float32)
    queries = vectors[::24] + noise

    index.add(ids[:600], vectors[:600])  # below 39 * 16 = 624: flat, exact
    assert not index.trained
    found, _ = index.search(queries, 10)
    np.testing.assert_array_equal(found, brute_force(queries, vectors[:600], ids[:600], 10))
    index.save(tmp_path / "flat")
    assert not load_index(tmp_path / "flat").trained

    index.add(ids[600:], vectors[600:])
    assert index.trained and index.nprobe == 4 and len(index) == 1_200
    found, _ = index.search(queries, 10)
    assert recall(found, brute_force(queries, vectors, ids, 10)) >= 0.9

    index.remove(ids[:100])
    index.add(ids[:5], vectors[1_000:1_005])  # replacement works on the trained IVF too
    assert len(index) == 1_105
    found, scores = index.search(vectors[1_000], 2)
    assert set(found[0].tolist()) == {0, 1_000}
    index.save(tmp_path / "ivf")
    loaded = load_index(tmp_path / "ivf")
    assert loaded.trained and loaded.nprobe == 4
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    np.testing.assert_array_equal(loaded.search(queries, 10)[0], index.search(queries, 10)[0])


def test_auto_nlist_is_trainable() -> None:
    for n in (2_496, 10_000, 1_000_000):
        assert 1 <= auto_nlist(n) and 39 * auto_nlist(n) <= n
    assert auto_nlist(1_000_000) == 4_000
