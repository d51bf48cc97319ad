"""2-D maps: shapes, determinism, stored positions and placement of new documents by the fitted transform."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInput
from ingest.readers import SourceDocument
from latent.maps import FittedMap, fit_projection
from tests.latent.planted import planted_corpus


def _matrix() -> tuple[list, np.ndarray]:
    docs, vectors = planted_corpus(per_topic=15, outliers=0)
    return docs, np.vstack([vectors[d] for d, _, _ in docs])


def test_pca_map_shape_determinism_and_round_trip(tmp_path) -> None:  # noqa: ANN001
    docs, matrix = _matrix()
    first = fit_projection(matrix, "pca", seed=3)
    again = fit_projection(matrix.copy(), "pca", seed=3)
    positions = first.transform(matrix)
    assert positions.shape == (len(docs), 2) and positions.dtype == np.float32
    assert np.array_equal(positions, again.transform(matrix))
    first.save(tmp_path)
    assert np.array_equal(FittedMap.load(tmp_path).transform(matrix), positions)
    # the planted topics are separated on the map: each topic's points sit near their own centre
    names = np.array([t for _, _, t in docs])
    centres = {n: positions[names == n].mean(axis=0) for n in set(names)}
    spread = max(np.linalg.norm(positions[names == n] - c, axis=1).mean() for n, c in centres.items())
    gaps = [np.linalg.norm(a - b) for a in centres.values() for b in centres.values() if a is not b]
    assert min(gaps) > 2 * spread


def test_knn_placement_interpolates_fitted_positions() -> None:
    _docs, matrix = _matrix()
    anchors = np.arange(2 * len(matrix), dtype=np.float32).reshape(-1, 2)
    fitted = FittedMap("umap", np.zeros(0, np.float32), matrix, anchors)
    placed = fitted.transform(matrix[:5])
    assert placed.shape == (5, 2)
    # a point's neighbours are its own topic's points, so it lands inside their bounding box
    low, high = anchors[:15].min(axis=0), anchors[:15].max(axis=0)
    assert np.all((placed >= low) & (placed <= high))


def test_map_errors() -> None:
    with pytest.raises(InvalidInput):
        fit_projection(np.eye(2, 8, dtype=np.float32), "pca")
    with pytest.raises(InvalidInput):
        fit_projection(np.eye(5, 8, dtype=np.float32), "tsne")


def test_stored_map_and_new_documents(planted) -> None:  # noqa: ANN001
    engine, docs, vectors = planted
    engine.maps.fit("planted", "pca", seed=0)
    full = engine.maps.points("planted")
    assert full["total"] == len(docs) and len(full["points"]) == len(docs)
    sample = engine.maps.points("planted", sample=10)
    assert len(sample["points"]) == 10 and sample == engine.maps.points("planted", sample=10)
    by_id = {p["id"]: p for p in full["points"]}
    engine.ingest("planted", [SourceDocument("late-space", "comet orbit", None, {})],
                  vectors={"late-space": vectors["space-1"]})
    placed = {p["id"]: p for p in engine.maps.points("planted")["points"]}["late-space"]
    assert (placed["x"], placed["y"]) == pytest.approx((by_id["space-1"]["x"], by_id["space-1"]["y"]), abs=1e-5)
    assert placed["map_id"] if "map_id" in placed else True
    engine.delete_document("planted", "late-space")
