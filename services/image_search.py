"""Reading image collections: search by picture, a document's stored vector, and thumbnails.

Image → image on an image collection, image → text on a text collection with the same CLIP model; the
query is an uploaded picture (embedded by the image tower) or a stored document's vector. Thumbnails are
served from disk and regenerated from the source file when missing and its bytes still match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DocumentNotFound, InvalidInput, NotFound
from ingest import images as imgs
from ingest.clip import require_image_tower
from services.context import ServiceContext
from services.search.dispatch import search
from services.search.types import SearchRequest, SearchResult
from store import repositories as repo
from store.models import Collection


def search_by_image(
    ctx: ServiceContext,
    name: str,
    data: bytes | None = None,
    document_id: str | None = None,
    k: int = 10,
    filter: dict[str, Any] | None = None,
) -> SearchResult:
    """Image → image (image collection) or image → text (text collection with the same CLIP model).

    The query is an uploaded picture (embedded by the image tower) or a stored document's vector.
    """
    if (data is None) == (document_id is None):
        raise InvalidInput("give exactly one of an uploaded image or a document id")
    collection = ctx.collection(name)
    if document_id is not None:
        vector = stored_vector(ctx, collection, document_id)
    else:
        embedder = require_image_tower(ctx.embedder_for(collection))
        decoded = imgs.decode_image(data or b"", "uploaded image", ctx.settings.image_max_pixels)
        vector = embedder.embed_images([decoded.image])[0]
    return search(ctx, name, SearchRequest(vector=vector.tolist(), k=k, filter=filter, mode="dense"))


def stored_vector(ctx: ServiceContext, collection: Collection, document_id: str) -> np.ndarray:
    """The first chunk's stored vector of a document (an image's only chunk)."""
    with ctx.sessions() as session:
        doc = repo.documents_by_external_id(session, collection.id, [document_id]).get(document_id)
        if doc is None or not doc.chunks:
            raise DocumentNotFound(f"document {document_id!r} not found in {collection.name!r}")
        return np.frombuffer(doc.chunks[0].embedding, dtype="<f4").astype(np.float32)


def thumbnail_for(ctx: ServiceContext, name: str, document_id: str) -> Path:
    """The stored thumbnail file; regenerated from the source file when missing and the bytes still match."""
    collection = ctx.collection(name)
    with ctx.sessions() as session:
        doc = repo.documents_by_external_id(session, collection.id, [document_id]).get(document_id)
        if doc is None:
            raise DocumentNotFound(f"document {document_id!r} not found in {name!r}")
        digest, meta, source = doc.content_hash, dict(doc.metadata_ or {}), doc.source_uri
    if meta.get("modality") != "image":
        raise NotFound(f"document {document_id!r} is not an image, so it has no thumbnail")
    path = imgs.thumbnail_path(ctx.settings.data_dir, collection.id, digest)
    if not path.exists():
        _regenerate(ctx, path, digest, source)
    return path


def _regenerate(ctx: ServiceContext, path: Path, digest: str, source: str | None) -> None:
    settings = ctx.settings
    source_path = Path(source) if source else None
    if source_path is None or not source_path.is_file():
        raise NotFound("the thumbnail is gone and the source image is not available to rebuild it")
    data = imgs.read_image_file(source_path, settings.image_max_bytes)
    if imgs.hash_bytes(data) != digest:
        raise NotFound("the thumbnail is gone and the source image changed since ingest; re-ingest it")
    decoded = imgs.decode_image(data, source_path.name, settings.image_max_pixels)
    imgs.write_thumbnail(path, decoded.image, settings.thumbnail_size)
