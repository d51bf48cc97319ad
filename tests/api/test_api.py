"""The HTTP API through the ASGI app, with the real model and a real database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.readers import SourceDocument

DOCS = [
    {
        "id": "vaccine",
        "text": "Vaccines train the immune system to recognise viruses.",
        "metadata": {"year": 2021, "lang": "en"},
    },
    {"id": "volcano", "text": "Lava from an erupting volcano cools into basalt.", "metadata": {"year": 1990}},
    {"id": "bread", "text": "Knead the dough and bake the bread in a hot oven.", "metadata": {"year": 2005}},
]


@pytest.fixture
def client(engine):  # noqa: ANN001
    app = create_app(engine.settings, engine=engine)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def filled(client):  # noqa: ANN001
    assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
    response = client.post("/v1/collections/c/documents", json={"documents": DOCS})
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 3
    return client


def test_collections_lifecycle(client) -> None:  # noqa: ANN001
    created = client.post("/v1/collections", json={"name": "c", "index_kind": "hnswlib"})
    assert created.status_code == 201
    body = created.json()
    assert (body["dimension"], body["model"], body["index_kind"]) == (384, "all-MiniLM-L6-v2", "hnswlib")
    assert client.post("/v1/collections", json={"name": "c"}).json()["error"]["code"] == "collection_exists"
    assert [c["name"] for c in client.get("/v1/collections").json()] == ["c"]
    assert client.get("/v1/collections/c").json()["documents"] == 0
    assert client.delete("/v1/collections/c").status_code == 204
    missing = client.get("/v1/collections/c")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "collection_not_found"


def test_search_with_filter_and_vector(filled) -> None:  # noqa: ANN001
    response = filled.post("/v1/collections/c/search", json={"query": "immunity against viruses", "k": 2})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits[0]["id"] == "vaccine" and hits[0]["metadata"]["lang"] == "en" and hits[0]["mode"] == "hybrid"
    ranged = filled.post(
        "/v1/collections/c/search", json={"query": "immunity", "k": 3, "filter": {"year": {"$lt": 2010}}}
    ).json()["hits"]
    assert {h["id"] for h in ranged} == {"volcano", "bread"}
    wrong_dim = filled.post("/v1/collections/c/search", json={"vector": [0.5, 0.5], "k": 2})
    assert wrong_dim.status_code == 422 and wrong_dim.json()["error"]["code"] == "dimension_mismatch"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "   "}, "invalid_input"),
        ({"query": "x", "filter": {"year": {"$regex": "1"}}}, "invalid_filter"),
        ({"query": "x", "k": 0}, "invalid_request"),
        ({"k": 3}, "invalid_input"),
        ({"query": "x", "unknown": 1}, "invalid_request"),
    ],
)
def test_search_errors_are_422_json(filled, body, code) -> None:  # noqa: ANN001
    response = filled.post("/v1/collections/c/search", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


def test_documents_get_list_delete(filled) -> None:  # noqa: ANN001
    doc = filled.get("/v1/collections/c/documents/bread").json()
    assert doc["text"].startswith("Knead") and doc["metadata"] == {"year": 2005} and doc["chunks"] == 1
    page = filled.get("/v1/collections/c/documents", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert filled.delete("/v1/collections/c/documents/bread").status_code == 204
    assert filled.get("/v1/collections/c/documents/bread").status_code == 404
    hits = filled.post("/v1/collections/c/search", json={"query": "baking bread", "k": 3}).json()["hits"]
    assert "bread" not in [h["id"] for h in hits]
    assert filled.delete("/v1/collections/c/documents/bread").json()["error"]["code"] == "document_not_found"


def test_upsert_updates_by_external_id(filled) -> None:  # noqa: ANN001
    changed = [{"id": "bread", "text": "Sourdough needs a starter of flour and water.", "metadata": {}}]
    report = filled.post("/v1/collections/c/documents", json={"documents": changed}).json()
    assert (report["added"], report["updated"]) == (0, 1)
    assert filled.get("/v1/collections/c").json()["documents"] == 3


def test_unknown_collection_and_oversized_request(filled, engine) -> None:  # noqa: ANN001
    response = filled.post("/v1/collections/nope/documents", json={"documents": DOCS})
    assert response.status_code == 404
    big = {"documents": [{"id": "x", "text": "a" * (engine.settings.max_request_bytes + 10)}]}
    too_large = filled.post("/v1/collections/c/documents", json=big)
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "payload_too_large"
    assert filled.get("/v1/collections/c").json()["documents"] == 3


def test_health_and_openapi(client) -> None:  # noqa: ANN001
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json()["database"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "/v1/collections/{name}/search" in schema["paths"]


def test_startup_rebuilds_a_missing_index_before_the_first_request(engine) -> None:  # noqa: ANN001
    import shutil

    engine.create_collection("c")
    engine.ingest("c", [SourceDocument(d["id"], d["text"], None, d["metadata"]) for d in DOCS])
    shutil.rmtree(engine.settings.index_dir())
    app = create_app(engine.settings)  # the app builds (and owns) its own Engine at start-up
    with TestClient(app):
        manifests = list(engine.settings.index_dir().rglob("manifest.json"))
        assert manifests, "the start-up check did not rebuild the index"
