"""Interactions in, recommendations out: ingest, user recommendations, cold-user fold-in, similar items."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import EngineDep
from api.params import json_object
from core.errors import InvalidFilter, PayloadTooLarge
from ingest.readers.interactions import Interaction
from services.recommendations.types import Query as RecQuery

router = APIRouter(prefix="/v1/collections/{name}", tags=["recommendations"])


class InteractionIn(BaseModel):
    user: str = Field(min_length=1, max_length=512)
    item: str = Field(min_length=1, max_length=512)
    value: float = Field(1.0, allow_inf_nan=False)
    timestamp: float | None = Field(None, allow_inf_nan=False)


class InteractionsIn(BaseModel):
    interactions: list[InteractionIn]
    aggregate: str = "sum"


class ItemValue(BaseModel):
    item: str = Field(min_length=1, max_length=512)
    value: float = Field(1.0, gt=0, allow_inf_nan=False)


class ColdUserIn(BaseModel):
    interactions: list[ItemValue] = []
    positive: list[str] = []
    negative: list[str] = []
    k: int = 10
    exclude_seen: bool = True
    filter: dict[str, Any] | None = None
    explain: bool = False


@router.post("/interactions")
def add_interactions(name: str, body: InteractionsIn, engine: EngineDep) -> dict[str, Any]:
    if len(body.interactions) > engine.settings.max_batch_documents * 100:
        raise PayloadTooLarge("too many interactions in one request")
    events = [Interaction(i.user, i.item, i.value, i.timestamp) for i in body.interactions]
    return asdict(engine.recommendations.ingest_interactions(name, events, body.aggregate))


@router.get("/model-versions")
def model_versions(name: str, engine: EngineDep) -> list[dict[str, Any]]:
    """Trained recommender versions, oldest first: params (as chosen by tuning), test metrics, and under
    ``metrics.tuning`` the search (every trial's params and validation NDCG) and its choice."""
    return engine.recommendations.versions(name)


@router.get("/users/{user}/recommendations")
def user_recommendations(
    name: str,
    user: str,
    engine: EngineDep,
    k: Annotated[int, Query()] = 10,
    exclude_seen: bool = True,
    explain: bool = False,
    filter: Annotated[str | None, Query(description="metadata filter as JSON")] = None,
) -> dict[str, Any]:
    spec = json_object(filter, "filter", InvalidFilter)
    query = RecQuery(k=k, exclude_seen=exclude_seen, filter=spec, explain=explain)
    return asdict(engine.recommendations.for_user(name, user, query))


@router.post("/recommendations")
def cold_user_recommendations(name: str, body: ColdUserIn, engine: EngineDep) -> dict[str, Any]:
    pairs = [(i.item, i.value) for i in body.interactions] + [(p, 1.0) for p in body.positive]
    query = RecQuery(k=body.k, exclude_seen=body.exclude_seen, filter=body.filter, explain=body.explain)
    return asdict(engine.recommendations.for_interactions(name, pairs, body.negative, query))


@router.get("/items/{item}/similar")
def similar_items(name: str, item: str, engine: EngineDep, k: int = 10) -> dict[str, Any]:
    return asdict(engine.recommendations.similar_items(name, item, k))
