"""Load the per-document view the latent models fit on (latent/documents.py) from the database.

One vector per document (the renormalised mean of its chunk vectors) and one text (its chunks joined
in order), read from the chunks table, the source of truth.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from latent.documents import DocumentMatrix, join_texts, mean_by_document
from store.models import Chunk, Collection, Document


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
