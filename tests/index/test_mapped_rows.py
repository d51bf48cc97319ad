"""hnswlib's vector copy is mapped from ``vectors.npy`` copy-on-write when loaded (index/rows.py, issue 17).

A loaded index must hold the saved file's pages, not a copy in anonymous memory, and must still behave
exactly like a built one: filtered (exact) search reads the mapped rows, an overwrite or an added id never
touches the file, and saving again writes the changed rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from index.registry import load_index
from index.rows import VectorRows
from tests.index.vector_data import clustered, make


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_loaded_rows_are_a_copy_on_write_map(tmp_path: Path) -> None:
    index = make("hnswlib")
    vectors = clustered(400, seed=3)
    ids = np.arange(400, dtype=np.int64) * 3 + 1
    index.add(ids, vectors)
    index.save(tmp_path / "idx")
    saved = tmp_path / "idx" / "vectors.npy"
    before = _digest(saved)
    loaded = load_index(tmp_path / "idx")
    maps = Path("/proc/self/maps")
    if maps.exists():  # Linux: the file is mapped, not read into memory
        assert str(saved.resolve()) in maps.read_text()
    allowed = ids[::40]
    queries = clustered(5, seed=9)
    np.testing.assert_array_equal(
        loaded.search(queries, k=5, allowed_ids=allowed)[0], index.search(queries, k=5, allowed_ids=allowed)[0]
    )
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
