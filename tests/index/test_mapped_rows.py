"""hnswlib's vector copy stays in ``vectors.npy`` when loaded and is read with pread (index/rows.py, issue 17).

A loaded index must not hold the saved file's rows in memory, nor keep any page of it mapped after a filtered
search, and must still behave exactly like a built one: filtered (exact) search reads the same rows a map of the
file gives, an overwrite or an added id never touches the file, and saving again writes the changed rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from index.registry import load_index
from index.rows import VectorRows
from tests.index.vector_data import clustered, make


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mapped(path: Path) -> bool:
    return str(path.resolve()) in Path("/proc/self/maps").read_text()


def test_loaded_rows_are_read_from_the_file_never_mapped(tmp_path: Path) -> None:
    index = make("hnswlib")
    vectors = clustered(400, seed=3)
    ids = np.arange(400, dtype=np.int64) * 3 + 1
    index.add(ids, vectors)
    index.save(tmp_path / "idx")
    saved = tmp_path / "idx" / "vectors.npy"
    before = _digest(saved)
    loaded = load_index(tmp_path / "idx")
    allowed = ids[::40]
    queries = clustered(5, seed=9)
    np.testing.assert_array_equal(
        loaded.search(queries, k=5, allowed_ids=allowed)[0], index.search(queries, k=5, allowed_ids=allowed)[0]
    )
    if Path("/proc/self/maps").exists():  # Linux: after a filtered search no page of the file is mapped
        assert not _mapped(saved)
    loaded.add(ids[:2], vectors[200:202])  # overwrite two rows in place: a private copy of their page
    loaded.add(np.array([9_999], dtype=np.int64), vectors[300:301])  # a new row: the matrix grows into memory
    assert _digest(saved) == before
    only = np.array([ids[0], 9_999], dtype=np.int64)
    found, scores = loaded.search(vectors[200:201], k=1, allowed_ids=only)
    assert found[0, 0] == ids[0] and abs(scores[0, 0] - 1.0) < 1e-5
    loaded.save(tmp_path / "again")
    reloaded = load_index(tmp_path / "again")
    assert reloaded.search(vectors[300:301], k=1, allowed_ids=only)[0][0, 0] == 9_999


def test_adopted_rows_gather_and_overwrite() -> None:
    labels = np.array([5, 2, 9], dtype=np.int64)
    matrix = np.arange(9, dtype=np.float32).reshape(3, 3)
    rows = VectorRows.adopt(labels, matrix.copy())
    np.testing.assert_array_equal(rows.get(np.array([9, 5])), matrix[[2, 0]])
    rows.put(np.array([2, 7], dtype=np.int64), np.ones((2, 3), dtype=np.float32))
    assert len(rows) == 4
    np.testing.assert_array_equal(rows.get(np.array([2, 7, 9])), [[1, 1, 1], [1, 1, 1], matrix[2]])
    saved_ids, saved = rows.arrays()
    assert saved_ids.tolist() == [5, 2, 9, 7] and saved.shape == (4, 3)


@pytest.mark.parametrize("picks", ["scattered", "runs", "repeats", "most", "none"])
def test_file_rows_equal_mapped_rows(tmp_path: Path, picks: str) -> None:
    """Rows read with pread are exactly the rows a map of the same file gives, in the order asked."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 7)).astype(np.float32)
    labels = rng.permutation(10_000)[:300].astype(np.int64)
    np.save(tmp_path / "v.npy", vectors, allow_pickle=False)
    from_file = VectorRows.from_file(labels, tmp_path / "v.npy", 7)
    mapped = VectorRows.adopt(labels, np.load(tmp_path / "v.npy", mmap_mode="r"))
    wanted = {
        "scattered": labels[rng.choice(300, 40, replace=False)],
        "runs": np.r_[labels[10:30], labels[200:203], labels[5:6], labels[299:300]],
        "repeats": labels[[3, 3, 250, 3, 0]],
        "most": labels[rng.permutation(300)[:200]],
        "none": labels[:0],
    }[picks]
    got = from_file.get(wanted)
    assert got.dtype == np.float32 and got.shape == (len(wanted), 7)
    np.testing.assert_array_equal(got, mapped.get(wanted))
    saved_ids, saved = from_file.arrays()
    np.testing.assert_array_equal(saved_ids, labels)
    np.testing.assert_array_equal(saved, vectors)
    if Path("/proc/self/maps").exists():
        del mapped
        assert not _mapped(tmp_path / "v.npy")


def test_a_file_that_does_not_match_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((4, 3), dtype=np.float64), allow_pickle=False)
    with pytest.raises(ValueError):
        VectorRows.from_file(np.arange(4), tmp_path / "v.npy", 3)
    np.save(tmp_path / "w.npy", np.zeros((4, 3), dtype=np.float32), allow_pickle=False)
    with pytest.raises(ValueError):
        VectorRows.from_file(np.arange(5), tmp_path / "w.npy", 3)
    (tmp_path / "w.npy").write_bytes((tmp_path / "w.npy").read_bytes()[:-8])  # truncated
    with pytest.raises(ValueError):
        VectorRows.from_file(np.arange(4), tmp_path / "w.npy", 3)
