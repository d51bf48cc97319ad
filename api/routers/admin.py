"""Admin endpoints (scope ``admin``): collection snapshots."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep
from services.snapshots import create_snapshot, list_snapshots, resolve_snapshot, restore_snapshot

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class SnapshotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"collection": "papers"}]})

    collection: str = Field(min_length=1, max_length=128)


class SnapshotOut(BaseModel):
    id: str
    collection: str
    created_at: str
    documents: int
    chunks: int


class RestoreOut(BaseModel):
    collection: str


@router.post("/snapshots", status_code=status.HTTP_201_CREATED, response_model=SnapshotOut)
def create(body: SnapshotCreate, engine: EngineDep) -> SnapshotOut:
    info = create_snapshot(engine.context, body.collection)
    return SnapshotOut(**{k: v for k, v in asdict(info).items() if k != "path"})


@router.get("/snapshots", response_model=list[SnapshotOut])
def list_all(engine: EngineDep) -> list[SnapshotOut]:
    infos = list_snapshots(engine.settings.snapshots_dir())
    return [SnapshotOut(**{k: v for k, v in asdict(i).items() if k != "path"}) for i in infos]


@router.post("/snapshots/{snapshot_id}/restore", response_model=RestoreOut)
def restore(snapshot_id: str, engine: EngineDep) -> RestoreOut:
    path = resolve_snapshot(engine.settings.snapshots_dir(), snapshot_id)
    return RestoreOut(collection=restore_snapshot(engine.context, path))
