"""Search a collection by text or by a raw vector."""

from __future__ import annotations

import time
from dataclasses import asdict

from fastapi import APIRouter

from api.deps import EngineDep
from api.schemas import HitOut, SearchIn, SearchOut
from services.search.types import SearchRequest

router = APIRouter(prefix="/v1/collections/{name}", tags=["search"])


@router.post("/search", response_model=SearchOut, response_model_exclude_unset=True)
def search(name: str, body: SearchIn, engine: EngineDep) -> SearchOut:
    started = time.perf_counter()
    result = engine.search(name, SearchRequest(**body.model_dump()))
    took = (time.perf_counter() - started) * 1000
    return SearchOut(
        hits=[HitOut(**asdict(h)) for h in result.hits],
        mode=result.mode,
        took_ms=round(took, 3),
        **(result.cluster or {}),  # cluster mode: index_seq, shards, partial
    )
