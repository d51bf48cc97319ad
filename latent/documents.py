"""Per-document views of a collection for the latent models: one vector and one text per document.

A document's vector is the mean of its chunk vectors, renormalised to unit length (chunks of one
document are close in embedding space, so the mean keeps their shared meaning); its text is its chunks
joined in order. Reading them from the database is services/documents_matrix.py's job; this module
only shapes them (pure numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DocumentMatrix:
    """Documents in id order: ``ids`` int64 (n,), ``external_ids``, ``vectors`` float32 (n, dim), ``texts``."""

    ids: np.ndarray
    external_ids: list[str]
    vectors: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.external_ids)


def mean_by_document(document_ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group chunk vectors (n, dim) by document id (n,): returns (unique ids, unit-length mean vectors)."""
    unique, inverse = np.unique(np.asarray(document_ids, dtype=np.int64), return_inverse=True)
    sums = np.zeros((len(unique), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, vectors)
    return unique, normalise_rows(sums)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def join_texts(document_ids: list[int], texts: list[str]) -> dict[int, str]:
    """Concatenate chunk texts (already in ordinal order) per document id."""
    joined: dict[int, list[str]] = {}
    for doc_id, text in zip(document_ids, texts, strict=True):
        joined.setdefault(int(doc_id), []).append(text)
    return {doc_id: " ".join(parts) for doc_id, parts in joined.items()}
