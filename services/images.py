"""Image collections: ingest pictures (decode, dedup, embed, thumbnail) and uploads.

One document per image, one chunk whose text is a short description (the file name) and whose vector
comes from the CLIP image tower. The content hash is the SHA-256 of the file's bytes and is compared
with the stored one *before* embedding, so re-ingesting an unchanged image costs a decode, no model call.
Text queries on an image collection need nothing here: the collection's CLIP embedder embeds them with
its text tower inside the ordinary search. Search by picture and thumbnails are in
services/image_search.py; removing thumbnails nobody shows is services/sync/thumbnails.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInput, LatentspaceError, NotFound, UnreadableFile
from ingest import images as imgs
from ingest.chunking import require_chunking
from ingest.clip import ImageEmbedder, require_image_tower
from ingest.embedders import IMAGE_BATCH, require_backend
from ingest.pipeline import IngestReport, batched
from ingest.readers import SourceDocument
from services import collections
from services import ingest as ingesting
from services.collections import CollectionInfo
from services.context import ServiceContext
from store import repositories as repo
from store import values
from store.models import Collection

IMAGE_MODALITIES = frozenset({"image", "multimodal"})


@dataclass
class ImageInput:
    """One picture to ingest: its bytes, the id to store it under, and metadata known from outside."""

    external_id: str
    data: bytes
    filename: str
    source_uri: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def uploaded_image(data: bytes, filename: str, metadata: dict[str, Any]) -> ImageInput:
    """An uploaded picture, stored under ``upload-<sha256 prefix>``: uploading the same bytes again is a no-op.

    The form's metadata is checked here (store/values.py), so a NaN or a lone surrogate is a 422 for the
    whole upload rather than one failed image per file.
    """
    values.check_metadata(metadata, "metadata form field")
    return ImageInput(f"upload-{imgs.hash_bytes(data)[:32]}", data, filename, None, dict(metadata))


@dataclass
class _RunState:
    """What the lazy stream hands to Engine.ingest, filled batch by batch just before each is read."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    by_hash: dict[str, np.ndarray] = field(default_factory=dict)  # identical bytes are embedded once
    embedded: int = 0


def open_collection(
    ctx: ServiceContext,
    name: str,
    modality: str | None,
    model: str | None,
    index_kind: str | None,
    chunking: str | None = None,
    backend: str | None = None,
) -> CollectionInfo:
    """The existing collection (its modality, model, chunking and backend must match when asked for), or a new one."""
    try:
        info = collections.collection_info(ctx, name)
    except NotFound:
        return collections.create_collection(
            ctx, name, model=model, index_kind=index_kind, modality=modality or "text", chunking=chunking,
            backend=backend,
        )
    require_chunking(name, info.options, chunking)
    require_backend(name, info.options, backend)
    if modality is not None and modality != info.modality:
        raise InvalidInput(f"collection {name!r} is a {info.modality} collection, not {modality}")
    if model is not None and model != info.model:
        raise InvalidInput(f"collection {name!r} uses model {info.model!r}, not {model!r}")
    return info


def ingest_images(
    ctx: ServiceContext,
    name: str,
    items: Iterable[ImageInput | LatentspaceError],
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Decode, dedup by content hash, embed (image tower), store thumbnails, then write like any ingest."""
    collection = ctx.collection(name)
    if collection.modality not in IMAGE_MODALITIES:
        raise InvalidInput(
            f"collection {name!r} is a {collection.modality} collection; images need one created with "
            "modality 'image' or 'multimodal'"
        )
    embedder = require_image_tower(ctx.embedder_for(collection))
    state = _RunState()
    stream = _embedded_stream(ctx, collection, embedder, items, state)
    report = ingesting.ingest(ctx, name, stream, vectors=state.vectors, hashes=state.hashes, on_progress=on_progress)
    report.chunks_embedded += state.embedded
    return report


def _embedded_stream(
    ctx: ServiceContext,
    collection: Collection,
    embedder: ImageEmbedder,
    items: Iterable[ImageInput | LatentspaceError],
    state: _RunState,
) -> Iterator[SourceDocument | LatentspaceError]:
    settings = ctx.settings
    for batch in batched(items, settings.embed_batch_size or IMAGE_BATCH):
        decoded: list[tuple[ImageInput, imgs.DecodedImage]] = []
        for item in batch:
            if isinstance(item, LatentspaceError):
                yield item
                continue
            try:
                decoded.append((item, imgs.decode_image(item.data, item.filename, settings.image_max_pixels)))
            except UnreadableFile as exc:
                yield exc
        stored = _stored_hashes(ctx, collection.id, [item.external_id for item, _ in decoded])
        pending = [
            (item, image)
            for item, image in decoded
            if stored.get(item.external_id) != image.content_hash and image.content_hash not in state.by_hash
        ]
        unique = list({image.content_hash: image for _, image in pending}.values())
        vectors = embedder.embed_images([image.image for image in unique])
        state.embedded += len(unique)
        state.by_hash.update({image.content_hash: v for image, v in zip(unique, vectors, strict=True)})
        for item, image in decoded:
            yield _to_document(ctx, collection, item, image, state, stored)


def _to_document(
    ctx: ServiceContext,
    collection: Collection,
    item: ImageInput,
    image: imgs.DecodedImage,
    state: _RunState,
    stored: dict[str, str],
) -> SourceDocument:
    digest = image.content_hash
    state.hashes[item.external_id] = digest
    if stored.get(item.external_id) != digest:  # unchanged images get no vector: classified unchanged
        state.vectors[item.external_id] = state.by_hash[digest]
    path = imgs.thumbnail_path(ctx.settings.data_dir, collection.id, digest)
    imgs.write_thumbnail(path, image.image, ctx.settings.thumbnail_size)
    metadata = {**item.metadata, **image.metadata, "filename": item.filename, "modality": "image"}
    return SourceDocument(item.external_id, describe(item.filename), item.source_uri, metadata)


def describe(filename: str) -> str:
    """The chunk text of an image: its file name as words (what lexical search and hits show)."""
    stem = Path(filename).stem.replace("_", " ").replace("-", " ").strip()
    return stem or "image"


def _stored_hashes(ctx: ServiceContext, collection_id: int, external_ids: list[str]) -> dict[str, str]:
    with ctx.sessions() as session:
        docs = repo.documents_by_external_id(session, collection_id, external_ids)
        return {external_id: doc.content_hash for external_id, doc in docs.items()}


def image_files(paths: Iterable[Path], max_bytes: int) -> Iterator[ImageInput | LatentspaceError]:
    """Image files → inputs keyed by absolute path (as text files are); unreadable ones → errors."""
    for path in paths:
        try:
            data = imgs.read_image_file(path, max_bytes)
        except UnreadableFile as exc:
            yield exc
            continue
        uri = path.resolve().as_posix()
        stat = path.stat()
        meta = {"path": uri, "suffix": path.suffix.lower(), "mtime": stat.st_mtime}
        yield ImageInput(uri, data, path.name, uri, meta)
