"""Collections: create, list, get, delete."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, status

from api.deps import EngineDep
from api.schemas import CollectionCreate, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionOut)
def create_collection(body: CollectionCreate, engine: EngineDep) -> CollectionOut:
    info = engine.create_collection(
        body.name,
        model=body.model,
        index_kind=body.index_kind,
        index_params=body.index_params,
        modality=body.modality,
        chunking=body.chunking,
        backend=body.backend,
        dimension=body.dimension,
        vectors_only="model" in body.model_fields_set and body.model is None,  # explicit null, not omitted
    )
    return CollectionOut(**asdict(info))


@router.get("", response_model=list[CollectionOut])
def list_collections(engine: EngineDep) -> list[CollectionOut]:
    return [CollectionOut(**asdict(info)) for info in engine.list_collections()]


@router.get("/{name}", response_model=CollectionOut)
def get_collection(name: str, engine: EngineDep) -> CollectionOut:
    return CollectionOut(**asdict(engine.collection_info(name)))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_collection(name: str, engine: EngineDep) -> None:
    engine.delete_collection(name)
