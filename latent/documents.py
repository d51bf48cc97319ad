"""Per-document views of a collection for the latent models: one vector and one text per document.

A document's vector is the mean of its chunk vectors, renormalised to unit length (chunks of one
document are close in embedding space, so the mean keeps their shared meaning); its text is its chunks
joined in order. Both are read from the database, the source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Chunk, Collection, Document


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


def load_documents(
    session: Session, collection: Collection, document_ids: list[int] | None = None
) -> DocumentMatrix:
    """Every document of the collection (or those in ``document_ids``) with its vector and text."""
    stmt = (
        select(Chunk.document_id, Document.external_id, Chunk.text, Chunk.embedding)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.collection_id == collection.id)
        .order_by(Chunk.document_id, Chunk.ordinal)
    )
    if document_ids is not None:
        stmt = stmt.where(Chunk.document_id.in_([int(i) for i in document_ids]))
    rows = session.execute(stmt).all()
    dim = collection.embedder_dim
    if not rows:
        return DocumentMatrix(np.zeros(0, np.int64), [], np.zeros((0, dim), np.float32), [])
    doc_ids = np.array([r[0] for r in rows], dtype=np.int64)
    chunk_vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), dim)
    ids, vectors = mean_by_document(doc_ids, chunk_vectors)
    texts = join_texts([r[0] for r in rows], [r[2] for r in rows])
    external = {int(r[0]): r[1] for r in rows}
    return DocumentMatrix(ids, [external[int(i)] for i in ids], vectors, [texts[int(i)] for i in ids])
