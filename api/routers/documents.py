"""Documents: batch upsert, get one, list, delete."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, status

from api.deps import EngineDep
from api.schemas import DocumentBatch, DocumentOut, DocumentPage, IngestOut
from core.errors import PayloadTooLarge
from ingest.readers import SourceDocument

router = APIRouter(prefix="/v1/collections/{name}/documents", tags=["documents"])
MAX_OFFSET = 2**63 - 1  # the SQL BIGINT range: a larger OFFSET overflows the database driver


@router.post("", response_model=IngestOut)
def upsert_documents(name: str, body: DocumentBatch, engine: EngineDep) -> IngestOut:
    limit = engine.settings.max_batch_documents
    if len(body.documents) > limit:
        raise PayloadTooLarge(f"at most {limit} documents per request")
    longest = engine.settings.max_document_chars  # refused whole, before any work under the write lock
    oversized = next((d.id for d in body.documents if len(d.text) > longest), None)
    if oversized is not None:
        raise PayloadTooLarge(f"document {oversized!r} is over the limit of {longest} characters per document")
    docs = [SourceDocument(d.id, d.text, None, d.metadata) for d in body.documents]
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf here; the pipeline refuses it (422)
        vectors = {d.id: np.asarray(d.vector, dtype=np.float32) for d in body.documents if d.vector is not None}
    report = engine.ingest(name, docs, vectors=vectors)
    return IngestOut(**report.as_dict())


@router.get("", response_model=DocumentPage)
def list_documents(
    name: str,
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> DocumentPage:
    items, total = engine.list_documents(name, offset, limit)
    return DocumentPage(items=[DocumentOut(**i) for i in items], total=total, offset=offset, limit=limit)


# ":path": ids may contain '/' (file paths, URLs), and an encoded %2F arrives decoded, so a plain
# segment parameter made such documents impossible to read or delete. api/app.py registers the
# thumbnail route (".../{document_id:path}/thumbnail") before these, so that suffix stays a thumbnail.
@router.get("/{document_id:path}", response_model=DocumentOut)
def get_document(name: str, document_id: str, engine: EngineDep) -> DocumentOut:
    return DocumentOut(**engine.get_document(name, document_id))


@router.delete("/{document_id:path}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(name: str, document_id: str, engine: EngineDep) -> None:
    engine.delete_document(name, document_id)
