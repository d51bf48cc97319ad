"""Measure compressed search: recall@k against exact search on full vectors, at equal memory.

Rows: full float32 (4·D bytes/vector), PCA and autoencoder codes at d' (4·d' bytes, searched by
the query's inner product with each decoded vector), FAISS product quantisation with 4·d' one-byte
sub-codes (same bytes as the d' float32 codes) and FAISS 8-bit scalar quantisation (D bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.compression import fit_compressor


@dataclass
class CompressionRow:
    method: str
    dim: int | None
    bytes_per_vector: int
    recall: float


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids (q, k) of the k highest inner products, best first."""
    scores = queries @ base.T
    k = min(k, base.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def recall_at_k(truth: np.ndarray, found: np.ndarray, k: int) -> float:
    """Mean over queries of |truth[:k] ∩ found[:k]| / k."""
    hits = [len(set(t[:k].tolist()) & set(f[:k].tolist())) for t, f in zip(truth, found, strict=True)]
    return float(np.mean(hits) / k) if hits else 0.0


def _faiss_row(name: str, index, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int, nbytes: int):  # noqa: ANN001
    index.train(base)
    index.add(base)
    _scores, found = index.search(queries, k)
    return CompressionRow(name, None, nbytes, recall_at_k(truth, found, k))


def compression_table(
    base: np.ndarray, queries: np.ndarray, dims: list[int], k: int = 10, seed: int = 0, epochs: int = 30
) -> list[CompressionRow]:
    """Recall@k of each compression against exact search over ``base`` (n, D) for ``queries`` (q, D)."""
    import faiss

    base = np.ascontiguousarray(base, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    size = base.shape[1]
    truth = exact_top_k(base, queries, k)
    rows = [CompressionRow("float32", size, 4 * size, 1.0)]
    for dim in dims:
        for method in ("pca", "autoencoder"):
            model = fit_compressor(base, method, dim, seed, epochs)
            decoded = model.decode(model.encode(base))
            rows.append(CompressionRow(method, dim, 4 * dim, recall_at_k(truth, exact_top_k(decoded, queries, k), k)))
        m = 4 * dim
        if size % m == 0 and len(base) >= 256:
            pq = faiss.IndexPQ(size, m, 8, faiss.METRIC_INNER_PRODUCT)
            rows.append(_faiss_row(f"faiss_pq{m}", pq, base, queries, truth, k, m))
    sq8 = faiss.IndexScalarQuantizer(size, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    rows.append(_faiss_row("faiss_sq8", sq8, base, queries, truth, k, size))
    return rows


def best_learned(rows: list[CompressionRow]) -> CompressionRow | None:
    """A PCA/autoencoder row that beats every FAISS row of equal or smaller size, if any."""
    for row in sorted(rows, key=lambda r: -r.recall):
        if row.method not in ("pca", "autoencoder"):
            continue
        rivals = [r for r in rows if r.method.startswith("faiss") and r.bytes_per_vector <= row.bytes_per_vector]
        if rivals and all(row.recall > r.recall for r in rivals):
            return row
    return None
