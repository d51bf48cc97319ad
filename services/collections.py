"""Collections: create (or reopen with ``exist_ok``), list, describe, delete."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.errors import BackendUnsupported, CollectionExists, DimensionMismatch, EmbedderMismatch, InvalidInput
from index.registry import INDEX_KINDS, check_index_params
from ingest.chunking import DEFAULT_CHUNKING, check_chunking, require_chunking
from ingest.clip import load_image_embedder
from ingest.embedders import INTERCHANGEABLE, Embedder, check_backend, require_backend
from ingest.provided import NO_MODEL, ProvidedVectors, check_dimension
from services.context import ServiceContext
from services.writes import drop_derived
from store import changelog
from store import repositories as repo
from store.models import Collection

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
MODALITIES = ("text", "image", "multimodal")  # image and multimodal collections use a CLIP-family model


@dataclass
class CollectionInfo:
    name: str
    modality: str
    model: str | None  # None: a bring-your-own-vector collection
    dimension: int
    model_version: str
    index_kind: str
    index_params: dict[str, Any]
    documents: int
    chunks: int
    indexed_vectors: int
    created_at: str
    options: dict[str, Any] = field(default_factory=dict)


def create_collection(
    ctx: ServiceContext,
    name: str,
    model: str | None = None,
    index_kind: str | None = None,
    index_params: dict[str, Any] | None = None,
    modality: str = "text",
    exist_ok: bool = False,
    chunking: str | None = None,
    backend: str | None = None,
    dimension: int | None = None,
    vectors_only: bool = False,
) -> CollectionInfo:
    """Create collection ``name``; with ``exist_ok``, return the existing one if it agrees with the request.

    ``vectors_only``: no model, every document brings its own vector of ``dimension`` values
    (ingest/provided.py). Otherwise ``dimension``, when given, must be the model's.
    """
    kind = index_kind or ctx.settings.index_kind
    _check_new(name, modality, kind, chunking)
    _check_vectors_only(vectors_only, model, modality, dimension)
    params = _checked_params(kind, index_params or ctx.settings.index_params, from_settings=not index_params)
    with ctx.sessions.begin() as session:
        existing = repo.find_collection(session, name)
        if existing is not None:
            _check_existing(existing, exist_ok, NO_MODEL if vectors_only else model, chunking)
            _check_dimension(existing.name, existing.embedder_dim, dimension)
            require_backend(existing.name, existing.options, backend)
            return collection_info_of(ctx, session, existing)
        if vectors_only:
            backend = _backend_for_new(ctx, modality, backend)
            embedder: Embedder = ProvidedVectors(name, check_dimension(dimension))
            chunking = "truncate"  # one chunk per document: the caller's vector is the document's
        else:
            backend, embedder = _new_embedder(ctx, modality, model, backend)
            _check_dimension(name, embedder.dim, dimension)
        collection = Collection(
            name=name,
            modality=modality,
            embedder_name=embedder.name,
            embedder_dim=embedder.dim,
            embedder_version=embedder.version,
            index_kind=kind,
            index_params=params,
            options={"chunking": chunking or DEFAULT_CHUNKING, "backend": backend},
        )
        session.add(collection)
        session.flush()
        return collection_info_of(ctx, session, collection)


def _check_new(name: str, modality: str, kind: str | None, chunking: str | None) -> None:
    if not NAME.match(name or ""):
        raise InvalidInput("collection names are 1-128 letters, digits, '_', '-' or '.', starting alnum")
    if modality not in MODALITIES:
        raise InvalidInput(f"unknown modality {modality!r}; choose one of {list(MODALITIES)}")
    if kind is not None and kind not in INDEX_KINDS:
        raise InvalidInput(f"unknown index kind {kind!r}; choose one of {sorted(INDEX_KINDS)}")
    if chunking is not None:
        check_chunking(chunking)


def _checked_params(kind: str | None, params: Any, from_settings: bool) -> dict[str, Any]:
    """The index parameters validated by the backend (index/registry.py), before anything is stored."""
    try:
        return check_index_params(kind, params)
    except InvalidInput as exc:
        if from_settings:
            raise InvalidInput(f"LATENTSPACE_INDEX_PARAMS: {exc.message}") from None
        raise


def _check_vectors_only(vectors_only: bool, model: str | None, modality: str, dimension: int | None) -> None:
    if not vectors_only:
        return
    if model is not None:
        raise InvalidInput("a collection without a model cannot also name a model")
    if modality != "text":
        raise InvalidInput("only text collections may come without a model")
    if dimension is None:
        raise InvalidInput("a collection without a model needs its 'dimension' (the length of its vectors)")
    check_dimension(dimension)


def _check_dimension(name: str, actual: int, dimension: int | None) -> None:
    if dimension is not None and check_dimension(dimension) != actual:
        raise DimensionMismatch(f"collection {name!r} has {actual}-d vectors, not {dimension}")


def _check_existing(existing: Collection, exist_ok: bool, model: str | None, chunking: str | None) -> None:
    if not exist_ok:
        raise CollectionExists(f"collection {existing.name!r} already exists")
    if model is not None and model != existing.embedder_name:
        raise EmbedderMismatch(f"collection {existing.name!r} uses model {existing.embedder_name!r}, not {model!r}")
    require_chunking(existing.name, existing.options, chunking)


def _backend_for_new(ctx: ServiceContext, modality: str, backend: str | None) -> str:
    """The backend of a new collection: the one asked for, else the setting (text) or torch (images)."""
    if modality == "text":
        return check_backend(backend or ctx.settings.embedding_backend)
    backend = check_backend(backend or "torch")
    if backend not in INTERCHANGEABLE:
        raise InvalidInput(f"image collections embed with 'torch' or 'onnx' (fp32), not {backend!r}")
    return backend


def _new_embedder(ctx: ServiceContext, modality: str, model: str | None, asked: str | None) -> tuple[str, Embedder]:
    """(backend, embedder) of a new collection. The default backend (not one asked for) falls back to torch for
    a model it cannot run: a CLIP has no int8 form, and its text tower runs in torch in every backend."""
    backend = _backend_for_new(ctx, modality, asked)
    try:
        return backend, _embedder_for_new(ctx, modality, model, backend)
    except BackendUnsupported:
        if asked is not None:
            raise
        return "torch", _embedder_for_new(ctx, modality, model, "torch")


def _embedder_for_new(ctx: ServiceContext, modality: str, model: str | None, backend: str) -> Embedder:
    if modality == "text":
        return ctx.embedders.get(model or ctx.settings.default_model, backend)
    # image/multimodal: a CLIP-family model, with an error that says how to provide one
    return load_image_embedder(ctx.embedders, model or ctx.settings.image_model, backend)


def list_collections(ctx: ServiceContext) -> list[CollectionInfo]:
    with ctx.sessions() as session:
        return [collection_info_of(ctx, session, c) for c in repo.list_collections(session)]


def collection_info(ctx: ServiceContext, name: str) -> CollectionInfo:
    with ctx.sessions() as session:
        return collection_info_of(ctx, session, repo.get_collection(session, name))


def delete_collection(ctx: ServiceContext, name: str) -> None:
    """Delete the collection's rows (documents and chunks cascade), then its derived indexes."""
    with ctx.write_lock, ctx.sessions.begin() as session:
        collection = repo.get_collection(session, name)
        collection_id = collection.id
        session.delete(collection)
        changelog.record_reset(session, collection_id)
    drop_derived(ctx, collection_id)


def collection_info_of(ctx: ServiceContext, session: Session, collection: Collection) -> CollectionInfo:
    """The collection's description; index figures from the loaded index when there is one (no load here)."""
    documents, chunks = repo.collection_counts(session, collection.id)
    loaded = ctx.vectors.loaded(collection.id)
    return CollectionInfo(
        name=collection.name,
        modality=collection.modality,
        model=collection.embedder_name if collection.embedder_name != NO_MODEL else None,
        dimension=collection.embedder_dim,
        model_version=collection.embedder_version,
        index_kind=loaded.kind if loaded else ctx.vectors.kind_for(collection, chunks),
        index_params=collection.index_params,
        documents=documents,
        chunks=chunks,
        indexed_vectors=len(loaded) if loaded else chunks,
        created_at=collection.created_at.isoformat(),
        options=collection.options,
    )
