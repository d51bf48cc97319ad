"""The embedded transport: runs each :class:`~latentspace.calls.Call` on an in-process Engine (services/).

Answers are the HTTP API's JSON shapes (passed through ``json`` once, so types match a remote answer exactly),
and every internal error becomes the public class of its HTTP status with the same code and message: a
caller cannot tell the two transports apart except by speed. The request-size limits the HTTP routers
check are checked here too, with the same messages.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import LatentspaceError as InternalError
from core.errors import PayloadTooLarge as InternalTooLarge
from core.settings import Settings
from ingest.readers import SourceDocument
from ingest.readers.interactions import Interaction
from latentspace.calls import Call
from latentspace.errors import LatentspaceError, error_for
from services.engine import Engine, open_engine
from services.image_search import search_by_image
from services.recommendations.types import Query
from services.search.types import SearchRequest

CREATE_OPTIONS = ("model", "index_kind", "index_params", "modality", "chunking", "backend", "dimension")
SEARCH_FIELDS = set(SearchRequest.__dataclass_fields__)


class EmbeddedTransport:
    """An Engine on a data dir (migrated on open), owned by this transport until :meth:`close`."""

    def __init__(self, path: str | Path, **settings: Any) -> None:
        self.engine: Engine = open_engine(Settings(data_dir=Path(path), **settings))
        self.engine.verify_indexes()  # like `latentspace serve`: repair any index behind the database

    def close(self) -> None:
        self.engine.close()

    def run(self, call: Call) -> Any:  # noqa: ANN401  (the operation's JSON answer)
        try:
            result = getattr(self, call.op)(**call.args)
        except InternalError as exc:
            raise error_for(exc.status_code, exc.code, exc.message) from None
        return json.loads(json.dumps(result)) if result is not None else None

    # -- collections -----------------------------------------------------------------------------
    def create_collection(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - {"name", *CREATE_OPTIONS}
        if unknown:
            raise error_for(422, "invalid_request", f"request failed validation: unknown fields {sorted(unknown)}")
        options = {k: body[k] for k in CREATE_OPTIONS if k in body and k != "model"}
        vectors_only = "model" in body and body["model"] is None  # explicit null: no model
        return asdict(
            self.engine.create_collection(body["name"], model=body.get("model"), vectors_only=vectors_only, **options)
        )

    def get_collection(self, name: str) -> dict[str, Any]:
        return asdict(self.engine.collection_info(name))

    def list_collections(self) -> list[dict[str, Any]]:
        return [asdict(info) for info in self.engine.list_collections()]

    def delete_collection(self, name: str) -> None:
        self.engine.delete_collection(name)

    # -- documents -------------------------------------------------------------------------------
    def upsert(self, name: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
        settings = self.engine.settings
        if len(documents) > settings.max_batch_documents:
            raise InternalTooLarge(f"at most {settings.max_batch_documents} documents per request")
        longest = settings.max_document_chars
        oversized = next((d["id"] for d in documents if len(d["text"]) > longest), None)
        if oversized is not None:
            raise InternalTooLarge(f"document {oversized!r} is over the limit of {longest} characters per document")
        docs = [SourceDocument(d["id"], _text(d["text"]), None, d.get("metadata") or {}) for d in documents]
        vectors = {d["id"]: np.asarray(d["vector"], dtype=np.float32) for d in documents if "vector" in d}
        return self.engine.ingest(name, docs, vectors=vectors).as_dict()

    def get_document(self, name: str, document_id: str) -> dict[str, Any]:
        return self.engine.get_document(name, document_id)

    def list_documents(self, name: str, offset: int, limit: int) -> dict[str, Any]:
        items, total = self.engine.list_documents(name, offset, limit)
        return {"items": items, "total": total, "offset": offset, "limit": limit}

    def delete_document(self, name: str, document_id: str) -> None:
        self.engine.delete_document(name, document_id)

    # -- search ----------------------------------------------------------------------------------
    def search(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - SEARCH_FIELDS
        if unknown:
            raise error_for(422, "invalid_request", f"request failed validation: unknown fields {sorted(unknown)}")
        result = self.engine.search(name, SearchRequest(**body))
        return {"hits": [asdict(h) for h in result.hits], "mode": result.mode}

    def search_image(self, name: str, image: bytes | None, document_id: str | None, k: int, filter: Any) -> dict:  # noqa: A002, ANN401
        result = search_by_image(self.engine.context, name, image, document_id, k, filter)
        return {"hits": [asdict(h) for h in result.hits], "mode": result.mode}

    # -- recommendations and latent views ---------------------------------------------------------
    def recommend(self, name: str, user: str, k: int, filter: Any, exclude_seen: bool, explain: bool) -> dict:  # noqa: A002, ANN401
        query = Query(k=k, exclude_seen=exclude_seen, filter=filter, explain=explain)
        return asdict(self.engine.recommendations.for_user(name, user, query))

    def similar_items(self, name: str, item: str, k: int) -> dict[str, Any]:
        return asdict(self.engine.recommendations.similar_items(name, item, k))

    def add_interactions(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        events = [
            Interaction(i["user"], i["item"], float(i.get("value", 1.0)), i.get("timestamp"))
            for i in body["interactions"]
        ]
        return asdict(self.engine.recommendations.ingest_interactions(name, events, body.get("aggregate", "sum")))

    def topics(self, name: str) -> dict[str, Any]:
        return self.engine.topics.list(name)

    def map_points(self, name: str, sample: int | None) -> dict[str, Any]:
        return self.engine.maps.points(name, sample)


def _text(value: Any) -> str:  # noqa: ANN401
    if not isinstance(value, str) or not value:
        raise error_for(422, "invalid_request", "request failed validation: documents.text: a non-empty string")
    return value


__all__ = ["EmbeddedTransport", "LatentspaceError"]
