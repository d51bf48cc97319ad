"""VectorIndex contract, run against every registered backend."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import DimensionMismatch, IndexCorrupt, InvalidInput, UnknownIndexKind
from index.base import VectorIndex
from index.registry import INDEX_KINDS, create_index, default_kind, load_index
from tests.index.vector_data import DIM, clustered, make


def filled(kind: str, n: int = 300, seed: int = 0):
    index = make(kind)
    vectors = clustered(n, seed=seed)
    ids = np.arange(n, dtype=np.int64) * 10 + 7  # sparse ids, as database keys are
    index.add(ids, vectors)
    return index, ids, vectors


def test_registry_and_defaults() -> None:
    assert set(INDEX_KINDS) == {"exact", "faiss_hnsw", "faiss_ivf", "hnswlib"}
    with pytest.raises(UnknownIndexKind, match="valid kinds"):
        create_index("annoy", DIM)
    assert default_kind(19_999) == "exact"
    assert default_kind(20_000) == "hnswlib"
    assert default_kind(50, threshold=10) == "hnswlib"


def test_unknown_param_rejected(kind: str) -> None:
    with pytest.raises(InvalidInput, match="unknown parameter"):
        create_index(kind, DIM, {"ef_serach": 10})


def test_add_and_search_finds_itself(kind: str) -> None:
    index, ids, vectors = filled(kind)
    assert isinstance(index, VectorIndex)
    assert index.kind == kind and index.dim == DIM and len(index) == 300
    found, scores = index.search(vectors[:20], k=5)
    assert found.shape == (20, 5) and found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found[:, 0], ids[:20])
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-4)
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must be sorted descending"
    np.testing.assert_array_equal(index.ids(), ids)


def test_one_dimensional_query(kind: str) -> None:
    index, ids, vectors = filled(kind)
    found, _ = index.search(vectors[3].tolist(), k=2)
    assert found.shape == (1, 2) and found[0, 0] == ids[3]


def test_remove(kind: str) -> None:
    index, ids, vectors = filled(kind)
    gone = ids[:100]
    index.remove(np.concatenate([gone, [999_999]]))  # unknown id ignored
    index.remove(gone[:5])  # removing twice is harmless
    assert len(index) == 200
    np.testing.assert_array_equal(index.ids(), ids[100:])
    found, _ = index.search(vectors[:100], k=10)
    assert not np.isin(found, gone).any()


def test_readd_replaces_vector(kind: str) -> None:
    index, ids, vectors = filled(kind)
    new = vectors[200]
    index.add(ids[:1], new[None, :])
    assert len(index) == 300
    found, scores = index.search(new, k=2)
    assert set(found[0].tolist()) == {ids[0], ids[200]}
    found, scores = index.search(vectors[0], k=300)
    got = dict(zip(found[0].tolist(), scores[0].tolist(), strict=True))
    assert got[int(ids[0])] == pytest.approx(float(vectors[0] @ new), abs=1e-4)
    assert found[0].tolist().count(int(ids[0])) == 1


def test_readd_after_remove_and_duplicates_in_batch(kind: str) -> None:
    index, ids, vectors = filled(kind)
    index.remove(ids[:10])
    index.add(np.array([ids[0], ids[0]]), vectors[[50, 60]])  # last occurrence wins
    assert len(index) == 291 and ids[0] in index.ids()
    found, scores = index.search(vectors[60], k=2)
    assert set(found[0].tolist()) == {ids[0], ids[60]}
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-4)


def test_empty_index_returns_padding(kind: str) -> None:
    index = make(kind)
    found, scores = index.search(clustered(3), k=4)
    assert found.shape == (3, 4) and (found == -1).all() and np.isneginf(scores).all()
    assert len(index) == 0 and index.ids().dtype == np.int64 and index.ids().size == 0
    found, _ = index.search(clustered(1), k=4, allowed_ids=np.array([1, 2]))
    assert (found == -1).all()


def test_k_larger_than_index(kind: str) -> None:
    index, ids, vectors = filled(kind, n=7)
    found, scores = index.search(vectors[:2], k=10)
    assert found.shape == (2, 10)
    assert sorted(found[0, :7].tolist()) == sorted(ids.tolist())
    assert (found[:, 7:] == -1).all() and np.isneginf(scores[:, 7:]).all()
    assert np.isfinite(scores[:, :7]).all()


def test_wrong_dimension(kind: str) -> None:
    index, ids, vectors = filled(kind, n=20)
    with pytest.raises(DimensionMismatch):
        index.add(np.array([1]), np.zeros((1, DIM + 1), dtype=np.float32))
    with pytest.raises(DimensionMismatch):
        index.search(np.zeros((2, DIM - 1), dtype=np.float32), k=3)
    with pytest.raises(InvalidInput):
        index.add(np.array([1, 2]), vectors[:1])
    with pytest.raises(InvalidInput):
        index.add(np.array([-3]), vectors[:1])
    with pytest.raises(InvalidInput):
        index.search(vectors[:1], k=0)


def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    index, ids, vectors = filled(kind, n=500)
    index.remove(ids[::7])
    index.add(ids[1:3], vectors[400:402])
    queries = clustered(30, seed=5)
    before = index.search(queries, k=10)
    index.save(tmp_path / "idx")
    loaded = load_index(tmp_path / "idx")
    assert type(loaded) is type(index) and len(loaded) == len(index)
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    after = loaded.search(queries, k=10)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1], before[1], atol=1e-6)
    loaded.add(np.array([123_456]), queries[:1])  # a loaded index stays writable
    assert loaded.search(queries[0], k=1)[0][0, 0] == 123_456


def test_save_overwrites_previous(kind: str, tmp_path: Path) -> None:
    index, ids, _ = filled(kind, n=50)
    index.save(tmp_path / "idx")
    index.remove(ids[:10])
    index.save(tmp_path / "idx")
    assert len(load_index(tmp_path / "idx")) == 40
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_load_missing_or_corrupt(kind: str, tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path / "nothing")
    index, _, _ = filled(kind, n=50)
    index.save(tmp_path / "idx")
    natives = [p for p in (tmp_path / "idx").iterdir() if p.name != "manifest.json"]
    biggest = max(natives, key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path / "idx")
    with pytest.raises(IndexCorrupt):
        INDEX_KINDS[kind].load(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path / "idx")


def test_load_rejects_other_kind(kind: str, tmp_path: Path) -> None:
    other = next(k for k in sorted(INDEX_KINDS) if k != kind)
    make(other).save(tmp_path / "idx")
    with pytest.raises(IndexCorrupt, match=other):
        INDEX_KINDS[kind].load(tmp_path / "idx")


def test_failed_save_keeps_old_index(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, ids, vectors = filled(kind, n=60)
    index.save(tmp_path / "idx")
    index.remove(ids[:30])
    cls = type(index)
    original = cls._write_native

    def half_written(self, directory: Path) -> None:
        original(self, directory)
        raise OSError("disk full")

    monkeypatch.setattr(cls, "_write_native", half_written)
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path / "idx")
    assert [p.name for p in tmp_path.iterdir()] == ["idx"], "temp dir must be cleaned up"
    old = load_index(tmp_path / "idx")
    assert len(old) == 60
    np.testing.assert_array_equal(old.ids(), ids)


def test_concurrent_search_during_mutation(kind: str) -> None:
    index, ids, vectors = filled(kind, n=400)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                found, _ = index.search(vectors[:8], k=5)
                assert found.shape == (8, 5)
                index.search(vectors[:2], k=5, allowed_ids=ids[:50])
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    extra = clustered(600, seed=9)
    for start in range(0, 600, 50):
        index.add(np.arange(10_000 + start, 10_050 + start), extra[start : start + 50])
        index.remove(ids[start // 3 : start // 3 + 10])
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(index) == len(index.ids())


def test_vectors_gives_the_stored_vectors_of_live_ids(kind: str, tmp_path: Path) -> None:
    index, ids, vectors = filled(kind)
    index.remove(ids[:10])
    asked = np.concatenate([ids[[50, 5, 20, 50]], [999_999]])  # repeated, removed and unknown ids
    found, matrix = index.vectors(asked)
    np.testing.assert_array_equal(found, ids[[20, 50]])
    assert matrix.dtype == np.float32 and matrix.shape == (2, DIM)
    np.testing.assert_allclose(matrix, vectors[[20, 50]], atol=1e-6)
    index.save(tmp_path / "idx")
    np.testing.assert_allclose(load_index(tmp_path / "idx").vectors(ids[[20, 50]])[1], vectors[[20, 50]], atol=1e-6)
    empty_found, empty_matrix = make(kind).vectors(ids[:3])
    assert len(empty_found) == 0 and empty_matrix.shape == (0, DIM)
