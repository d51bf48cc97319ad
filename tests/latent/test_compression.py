"""Compression: recall computed correctly, PCA / autoencoder round trips, outliers by reconstruction error."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInput, ModelNotFitted
from latent.compression import Compressor, fit_autoencoder, fit_pca
from latent.compression_eval import best_learned, compression_table, exact_top_k, recall_at_k


def test_recall_at_k_known_answers() -> None:
    truth = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    found = np.array([[3, 2, 9, 8], [4, 5, 6, 7]])
    assert recall_at_k(truth, found, 4) == pytest.approx((2 / 4 + 4 / 4) / 2)
    assert recall_at_k(truth, found, 2) == pytest.approx((0 / 2 + 2 / 2) / 2)


def test_exact_top_k_orders_by_inner_product() -> None:
    base = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    assert exact_top_k(base, np.array([[1, 0.1]], dtype=np.float32), 3).tolist() == [[0, 2, 1]]


def _low_rank(n: int = 700, rank: int = 8, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, dim))
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


def test_pca_recovers_low_rank_data_exactly_and_table_is_consistent() -> None:
    data = _low_rank()
    base, queries = data[100:], data[:100]
    rows = compression_table(base, queries, dims=[8], k=10, epochs=5)
    by_method = {r.method: r for r in rows}
    assert by_method["float32"].recall == 1.0 and by_method["float32"].bytes_per_vector == 4 * 64
    assert by_method["pca"].recall == pytest.approx(1.0) and by_method["pca"].bytes_per_vector == 32
    assert 0.0 <= by_method["autoencoder"].recall <= 1.0
    assert by_method["faiss_pq32"].bytes_per_vector == 32 and by_method["faiss_sq8"].bytes_per_vector == 64
    winner = best_learned(rows)
    assert winner is not None and winner.recall > by_method["faiss_pq32"].recall


def test_compressors_round_trip_and_check_dimensions(tmp_path) -> None:  # noqa: ANN001
    data = _low_rank(n=300)
    pca = fit_pca(data, 8)
    assert pca.encode(data).shape == (300, 8) and pca.reconstruction_error(data).max() < 1e-8
    auto = fit_autoencoder(data, 4, hidden=32, epochs=3, seed=1)
    assert np.array_equal(auto.encode(data), fit_autoencoder(data, 4, hidden=32, epochs=3, seed=1).encode(data))
    auto.save(tmp_path)
    loaded = Compressor.load(tmp_path)
    assert loaded.dim == 4 and np.allclose(loaded.decode(loaded.encode(data)), auto.decode(auto.encode(data)))
    with pytest.raises(InvalidInput):
        fit_pca(data, 64)


def test_outliers_rank_planted_outliers_first(planted) -> None:  # noqa: ANN001
    engine, _docs, _ = planted
    engine.create_collection("no-compression", exist_ok=True)
    with pytest.raises(ModelNotFitted):
        engine.compression.outliers("no-compression", 3)
    engine.compression.fit("planted", "pca", dim=2)
    result = engine.compression.outliers("planted", k=2)
    assert {item["id"] for item in result["items"]} == {"odd-0", "odd-1"}
    assert result["items"][0]["score"] >= result["items"][1]["score"] > 0
