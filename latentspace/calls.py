"""Every client operation as one :class:`Call`: its name and arguments (what the embedded transport runs on
the Engine) and its HTTP request (what the remote transports send). Client and AsyncClient build calls
here, so both kinds of client check their input the same way and send the same requests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from latentspace.errors import InvalidInput

MISSING_OK = frozenset({"document_not_found"})  # error codes that get_many/delete_many skip


@dataclass(frozen=True)
class Call:
    op: str  # the operation; the embedded transport runs its method of the same name
    method: str
    path: str
    args: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    params: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


def _seg(value: str) -> str:
    """One path segment: ids may hold '/' or '?' (the server decodes %2F back)."""
    return quote(value, safe="")


def _coll(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput("a collection name must be a non-empty string", "invalid_input")
    return f"/v1/collections/{_seg(name)}"


def create_collection(name: str, options: dict[str, Any]) -> Call:
    _coll(name)  # a non-empty string; the service checks the characters
    body = {"name": name, **options}
    return Call("create_collection", "POST", "/v1/collections", {"body": body}, json=body)


def get_collection(name: str) -> Call:
    return Call("get_collection", "GET", _coll(name), {"name": name})


def list_collections() -> Call:
    return Call("list_collections", "GET", "/v1/collections")


def delete_collection(name: str) -> Call:
    return Call("delete_collection", "DELETE", _coll(name), {"name": name})


def upsert(name: str, documents: list[dict[str, Any]]) -> Call:
    body = {"documents": documents}
    return Call("upsert", "POST", _coll(name) + "/documents", {"name": name, "documents": documents}, json=body)


def get_document(name: str, document_id: str) -> Call:
    path = f"{_coll(name)}/documents/{_seg(_id(document_id))}"
    return Call("get_document", "GET", path, {"name": name, "document_id": document_id})


def list_documents(name: str, offset: int, limit: int) -> Call:
    params = {"offset": _int(offset, "offset", 0), "limit": _int(limit, "limit", 1, 1000)}
    return Call("list_documents", "GET", _coll(name) + "/documents", {"name": name, **params}, params=params)


def delete_document(name: str, document_id: str) -> Call:
    path = f"{_coll(name)}/documents/{_seg(_id(document_id))}"
    return Call("delete_document", "DELETE", path, {"name": name, "document_id": document_id})


def search(name: str, body: dict[str, Any]) -> Call:
    body = {k: v for k, v in body.items() if v is not None}
    _int(body.get("k", 10), "k", 1)
    if body.get("vector") is not None:
        body["vector"] = vector_list(body["vector"], "vector")
    return Call("search", "POST", _coll(name) + "/search", {"name": name, "body": body}, json=body)


def search_image(name: str, image: bytes | None, document_id: str | None, k: int, filter: Any) -> Call:  # noqa: A002
    args = {"name": name, "image": image, "document_id": document_id, "k": _int(k, "k", 1), "filter": filter}
    data: dict[str, Any] = {"k": str(k)}
    if document_id is not None:
        data["document_id"] = _id(document_id)
    if filter is not None:
        data["filter"] = json.dumps(filter)
    files = {"file": ("query", image, "application/octet-stream")} if image is not None else None
    return Call("search_image", "POST", _coll(name) + "/search/image", args, files=files, data=data)


def recommend(name: str, user: str, k: int, filter: Any, exclude_seen: bool, explain: bool) -> Call:  # noqa: A002
    args = {"name": name, "user": _id(user), "k": _int(k, "k", 1), "filter": filter}
    args |= {"exclude_seen": exclude_seen, "explain": explain}
    params = {"k": k, "exclude_seen": _flag(exclude_seen), "explain": _flag(explain)}
    if filter is not None:
        params["filter"] = json.dumps(filter)
    return Call("recommend", "GET", f"{_coll(name)}/users/{_seg(user)}/recommendations", args, params=params)


def similar_items(name: str, item: str, k: int) -> Call:
    args = {"name": name, "item": _id(item), "k": _int(k, "k", 1)}
    return Call("similar_items", "GET", f"{_coll(name)}/items/{_seg(item)}/similar", args, params={"k": k})


def add_interactions(name: str, interactions: list[dict[str, Any]], aggregate: str) -> Call:
    body = {"interactions": interactions, "aggregate": aggregate}
    return Call("add_interactions", "POST", _coll(name) + "/interactions", {"name": name, "body": body}, json=body)


def topics(name: str) -> Call:
    return Call("topics", "GET", _coll(name) + "/topics", {"name": name})


def map_points(name: str, sample: int | None) -> Call:
    params = {"sample": _int(sample, "sample", 1)} if sample is not None else None
    return Call("map_points", "GET", _coll(name) + "/map", {"name": name, "sample": sample}, params=params)


# -- input shaping shared by both kinds of client ---------------------------------------------------------


def documents(
    ids: Sequence[str], texts: Sequence[str] | None, metadatas: Sequence[dict] | None, vectors: Sequence | None
) -> list[dict[str, Any]]:
    """The API's document objects from Chroma-style parallel lists (all of the same length)."""
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise InvalidInput("ids must be a non-empty list of strings", "invalid_input")
    if texts is None:
        raise InvalidInput("texts are required: every document is stored with its text", "invalid_input")
    for label, values in (("texts", texts), ("metadatas", metadatas), ("vectors", vectors)):
        if values is not None and len(values) != len(ids):
            raise InvalidInput(f"{label} has {len(values)} entries for {len(ids)} ids", "invalid_input")
    docs = []
    for i, doc_id in enumerate(ids):
        metadata = dict(metadatas[i] or {}) if metadatas is not None else {}
        doc: dict[str, Any] = {"id": _id(doc_id), "text": texts[i], "metadata": metadata}
        if vectors is not None:
            doc["vector"] = vector_list(vectors[i], f"vectors[{i}]")
        docs.append(doc)
    return docs


def vector_list(vector: Any, label: str) -> list[float]:  # noqa: ANN401  (a list, tuple or numpy array)
    """A plain list of finite floats (numpy arrays welcome); anything else is InvalidInput."""
    try:
        values = [float(v) for v in (vector.tolist() if hasattr(vector, "tolist") else vector)]
    except (TypeError, ValueError):
        raise InvalidInput(f"{label} must be a list of numbers", "invalid_input") from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"{label} contains NaN or infinite values", "invalid_input")
    return values


def _id(value: Any) -> str:  # noqa: ANN401
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"ids must be non-empty strings, not {value!r}", "invalid_input")
    return value


def _int(value: Any, label: str, low: int, high: int | None = None) -> int:  # noqa: ANN401
    if type(value) is not int or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(f"{label} must be a whole number {bound}, not {value!r}", "invalid_input")
    return value


def _flag(value: bool) -> str:
    return "true" if value else "false"
