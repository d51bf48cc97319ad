"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EngineDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
def ready(engine: EngineDep) -> JSONResponse:
    state = engine.readiness()
    return JSONResponse(state, status_code=200 if state["status"] == "ok" else 503)
