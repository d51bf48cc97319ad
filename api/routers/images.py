"""Images: multipart upload into an image collection, search by picture, thumbnails."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse

from api.deps import EngineDep
from api.params import json_object
from api.schemas import HitOut, IngestOut, SearchOut
from core.errors import InvalidInput, PayloadTooLarge, UnreadableFile
from services.image_search import search_by_image, thumbnail_for
from services.images import ingest_images, uploaded_image

router = APIRouter(prefix="/v1/collections/{name}", tags=["images"])


@router.post("/images", response_model=IngestOut)
def upload_images(
    name: str,
    engine: EngineDep,
    files: Annotated[list[UploadFile], File(description="one or more image files")],
    metadata: Annotated[str | None, Form(description="JSON object added to every image's metadata")] = None,
) -> IngestOut:
    """Each image is stored under ``upload-<sha256 prefix>``: uploading the same bytes again is a no-op."""
    settings = engine.settings
    if len(files) > settings.max_upload_files:
        raise PayloadTooLarge(f"at most {settings.max_upload_files} files per upload")
    extra = json_object(metadata, "metadata") or {}
    items = []
    for upload in files:
        filename = _safe_name(upload.filename)
        data = _read_limited(upload, settings.image_max_bytes, filename)
        items.append(uploaded_image(data, filename, extra))
    report = ingest_images(engine.context, name, items)
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise UnreadableFile("; ".join(report.errors))
    return IngestOut(**report.as_dict())


@router.post("/search/image", response_model=SearchOut)
def search_image(
    name: str,
    engine: EngineDep,
    file: Annotated[UploadFile | None, File(description="the query picture")] = None,
    document_id: Annotated[str | None, Form(description="or: an existing document's id")] = None,
    k: Annotated[int, Form(ge=1)] = 10,
    filter: Annotated[str | None, Form(description="metadata filter as JSON")] = None,
) -> SearchOut:
    """Image → image on an image collection; image → text on a text collection with the same CLIP model."""
    started = time.perf_counter()
    data = _read_limited(file, engine.settings.image_max_bytes, _safe_name(file.filename)) if file else None
    result = search_by_image(engine.context, name, data, document_id, k, json_object(filter, "filter"))
    took = (time.perf_counter() - started) * 1000
    return SearchOut(hits=[HitOut(**asdict(h)) for h in result.hits], mode=result.mode, took_ms=round(took, 3))


@router.get("/documents/{document_id:path}/thumbnail", response_class=FileResponse)
def thumbnail(name: str, document_id: str, engine: EngineDep) -> FileResponse:
    path = thumbnail_for(engine.context, name, document_id)
    return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "private, max-age=86400"})


def _read_limited(upload: UploadFile, limit: int, filename: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{filename}: larger than the image size limit of {limit} bytes")
    if not data:
        raise InvalidInput(f"{filename}: empty file")
    return data


def _safe_name(filename: str | None) -> str:
    """The client's base name, only ever stored as metadata (paths come from hashes)."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"
