"""Documents of a collection: get one (with its text), list a page, delete one."""

from __future__ import annotations

from typing import Any

from core.errors import DocumentNotFound
from ingest.pipeline import IndexDelta
from services.context import ServiceContext
from services.writes import apply_delta, log_delta, save_derived
from store import repositories as repo
from store.models import Chunk, Document


def delete_document(ctx: ServiceContext, name: str, external_id: str, save: bool = True) -> None:
    """Delete one document and its chunks; ``save=False`` leaves saving the derived state to the caller."""
    collection = ctx.collection(name)
    with ctx.write_lock:
        index = ctx.vectors.get(collection)
        with ctx.sessions.begin() as session:
            doc = repo.documents_by_external_id(session, collection.id, [external_id]).get(external_id)
            if doc is None:
                raise DocumentNotFound(f"document {external_id!r} not found in {name!r}")
            delta = IndexDelta(removed_document_ids=[doc.id], removed_content_hashes=[doc.content_hash])
            delta.removed_ids = repo.delete_chunks_of_document(session, doc.id)
            session.delete(doc)
            log_delta(session, collection.id, delta)
        apply_delta(ctx, collection, index, delta)
        if save:
            save_derived(ctx, collection)


def get_document(ctx: ServiceContext, name: str, external_id: str) -> dict[str, Any]:
    collection = ctx.collection(name)
    with ctx.sessions() as session:
        doc = repo.documents_by_external_id(session, collection.id, [external_id]).get(external_id)
        if doc is None:
            raise DocumentNotFound(f"document {external_id!r} not found in {name!r}")
        return document_view(doc, with_text=True)


def list_documents(
    ctx: ServiceContext, name: str, offset: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """One page of the collection's documents (without text) in id order, and the total count."""
    collection = ctx.collection(name)
    with ctx.sessions() as session:
        docs = repo.list_documents(session, collection.id, offset, limit)
        total, _ = repo.collection_counts(session, collection.id)
        return [document_view(d, with_text=False) for d in docs], total


def document_view(doc: Document, with_text: bool) -> dict[str, Any]:
    view = {
        "id": doc.external_id,
        "source_uri": doc.source_uri,
        "content_hash": doc.content_hash,
        "metadata": doc.metadata_,
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
        "chunks": len(doc.chunks),
    }
    if with_text:
        view["text"] = join_chunks(doc.chunks)
    return view


def join_chunks(chunks: list[Chunk]) -> str:
    """Rebuild a document's text from its overlapping chunk spans (gaps were whitespace)."""
    if not chunks:
        return ""
    buffer = [" "] * max(c.char_end for c in chunks)
    for chunk in chunks:
        buffer[chunk.char_start : chunk.char_end] = chunk.text
    return "".join(buffer).strip()
