"""Hidden-structure views of a collection: topics, the 2-D map, reconstruction-error outliers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from api.deps import EngineDep

router = APIRouter(prefix="/v1/collections/{name}", tags=["latent"])
# Ids and offsets reach SQL as BIGINT: a larger integer overflowed the driver (500) instead of a 422.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class TermOut(BaseModel):
    term: str
    weight: float


class TopicOut(BaseModel):
    id: int
    label: str
    terms: list[TermOut]
    size: int
    representatives: list[str]


class TopicModelOut(BaseModel):
    model_id: int
    method: str
    params: dict[str, Any]
    stats: dict[str, Any]
    created_at: str


class TopicsOut(BaseModel):
    model: TopicModelOut
    topics: list[TopicOut]


class TopicDocumentOut(BaseModel):
    id: str
    weight: float


class TopicPageOut(BaseModel):
    topic: TopicOut
    items: list[TopicDocumentOut]
    total: int
    offset: int
    limit: int


class PointOut(BaseModel):
    id: str
    x: float
    y: float
    topic: int | None
    label: str


class MapOut(BaseModel):
    map_id: int
    method: str
    total: int
    points: list[PointOut]


class OutlierOut(BaseModel):
    id: str
    score: float
    snippet: str


class OutliersOut(BaseModel):
    method: str
    dim: int
    total: int
    items: list[OutlierOut]


@router.get("/topics", response_model=TopicsOut)
def list_topics(name: str, engine: EngineDep) -> dict[str, Any]:
    return engine.topics.list(name)


@router.get("/topics/{topic_id}", response_model=TopicPageOut)
def get_topic(
    name: str,
    topic_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)],
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    return engine.topics.documents(name, topic_id, offset, limit)


@router.get("/map", response_model=MapOut)
def get_map(
    name: str, engine: EngineDep, sample: Annotated[int | None, Query(ge=1, le=100_000)] = None
) -> dict[str, Any]:
    return engine.maps.points(name, sample)


@router.get("/outliers", response_model=OutliersOut)
def get_outliers(name: str, engine: EngineDep, k: Annotated[int, Query(ge=1, le=1000)] = 10) -> dict[str, Any]:
    return engine.compression.outliers(name, k)
