"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import EngineDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
def ready(engine: EngineDep) -> JSONResponse:
    try:
        with engine.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    from api.metrics import index_state

    return JSONResponse({"status": "ok", "database": "ok", "indexes": index_state(engine)})
