"""Issue 18, class 2: collection settings accepted that later break everything.

Index parameters are validated by the backend at creation (422, nothing stored), the same for the API,
the Engine and LATENTSPACE_INDEX_PARAMS; every value is bounded so no setting can size a huge allocation;
a saved index whose manifest parses but holds impossible values is rebuilt, it never stops start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.security.vector_engine import COLLECTION, seeded_client, unit, vector_engine

BAD_PARAMS = [
    ("faiss_hnsw", {"M": "abc"}),
    ("faiss_hnsw", {"bogus": 1}),
    ("faiss_hnsw", {"M": -5}),
    ("faiss_hnsw", {"M": 10**9}),
    ("faiss_hnsw", {"ef_search": 1.5}),
    ("faiss_hnsw", {"ef_construction": True}),
    ("hnswlib", {"M": "abc"}),
    ("hnswlib", {"initial_capacity": 10**12}),
    ("hnswlib", {"growth": 1000.0}),
    ("faiss_ivf", {"nlist": -1}),
    ("faiss_ivf", {"nprobe": 10**15}),
    ("exact", {"M": 16}),
    (None, {"M": 16}),  # the automatic kind may be exact or hnswlib: it takes no parameters
]


@pytest.mark.parametrize(("kind", "params"), BAD_PARAMS)
def test_bad_index_params_are_422_and_nothing_is_stored(tmp_path: Path, kind: str | None, params: dict) -> None:
    with seeded_client(tmp_path / "data") as (client, _engine):
        body = {"name": "bad", "index_params": params} | ({"index_kind": kind} if kind else {})
        response = client.post("/v1/collections", json=body)
        assert response.status_code == 422, response.text
        assert "param" in response.json()["error"]["message"]
        assert [c["name"] for c in client.get("/v1/collections").json()] == [COLLECTION]


def test_index_params_from_the_environment_are_validated(tmp_path: Path) -> None:
    from core.errors import InvalidInput

    engine = vector_engine(tmp_path / "data", index_kind="faiss_hnsw", index_params={"M": -5})
    try:
        with pytest.raises(InvalidInput, match="LATENTSPACE_INDEX_PARAMS"):
            engine.create_collection("env")
        assert engine.list_collections() == []
        # explicit, valid parameters still win over the environment's and work
        engine.create_collection("g", index_kind="faiss_hnsw", index_params={"M": 8, "ef_search": 32})
        from ingest.readers import SourceDocument

        docs = [SourceDocument(i, i, None, {}) for i in ("a", "b")]
        engine.ingest("g", docs, vectors={"a": unit(1), "b": unit(2)})
        from services.search.types import SearchRequest

        assert engine.search("g", SearchRequest(vector=unit(2), k=1)).hits[0].id == "b"
    finally:
        engine.close()


@pytest.mark.parametrize("damage", [{"dim": -1}, {"dim": "x"}])
def test_parseable_but_invalid_manifest_triggers_a_rebuild(tmp_path: Path, damage: dict) -> None:
    data_dir = tmp_path / "data"
    engine = vector_engine(data_dir)
    engine.create_collection(COLLECTION, index_kind="hnswlib")
    from ingest.readers import SourceDocument

    docs = [SourceDocument(f"d{i}", f"text {i}", None, {}) for i in range(4)]
    engine.ingest(COLLECTION, docs, vectors={f"d{i}": unit(i) for i in range(4)})
    engine.close()
    [manifest_path] = (data_dir / "indexes").rglob("vector/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(manifest | damage))

    engine = vector_engine(data_dir)  # a new process: start-up checks every index
    try:
        from api.app import create_app

        with TestClient(create_app(engine.settings, engine=engine), raise_server_exceptions=False) as client:
            hits = client.post(f"/v1/collections/{COLLECTION}/search", json={"vector": unit(3), "k": 1}).json()
            assert hits["hits"][0]["id"] == "d3"  # rebuilt from the database
    finally:
        engine.close()


def test_parameters_stored_before_validation_do_not_stop_start_up(tmp_path: Path) -> None:
    """A collection created by an older version with {"M": "abc"} falls back to the defaults, with a warning."""
    import sqlite3

    data_dir = tmp_path / "data"
    engine = vector_engine(data_dir)
    engine.create_collection(COLLECTION, index_kind="faiss_hnsw")
    engine.close()
    with sqlite3.connect(data_dir / "latentspace.db") as db:
        db.execute("UPDATE collections SET index_params = ?", (json.dumps({"M": "abc", "bogus": 1}),))
    engine = vector_engine(data_dir)
    try:
        from api.app import create_app

        with TestClient(create_app(engine.settings, engine=engine), raise_server_exceptions=False) as client:
            docs = [{"id": "a", "text": "a", "vector": unit(1)}]
            assert client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": docs}).status_code == 200
            assert client.post(f"/v1/collections/{COLLECTION}/search", json={"vector": unit(1)}).status_code == 200
    finally:
        engine.close()
