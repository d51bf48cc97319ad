"""Snapshot round trip into a fresh data dir, metrics, readiness, limits and path traversal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import Conflict, InvalidInput, NotFound
from core.settings import Settings
from services.search.types import SearchRequest
from services.snapshots import create_snapshot, list_snapshots, resolve_snapshot, restore_snapshot
from tests.conftest import make_engine
from tests.ops.conftest import unit_vectors, vector_docs

ROOT = Path(__file__).resolve().parents[2]


def _results(engine, name: str) -> list[list[tuple[str, float]]]:  # noqa: ANN001
    return [
        [(h.id, round(h.score, 6)) for h in engine.search(name, SearchRequest(vector=q.tolist(), k=5)).hits]
        for q in unit_vectors(8, seed=9)
    ]


@pytest.mark.parametrize("kind", ["exact", "hnswlib"])
def test_snapshot_restores_identical_results(client, sqlite_engine, embedders, tmp_path, kind) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "s", "index_kind": kind})
    assert client.post("/v1/collections/s/documents", json={"documents": vector_docs(60)}).status_code == 200
    client.delete("/v1/collections/s/documents/d3")
    made = client.post("/v1/admin/snapshots", json={"collection": "s"})
    assert made.status_code == 201 and made.json()["documents"] == 59
    assert [s["id"] for s in client.get("/v1/admin/snapshots").json()] == [made.json()["id"]]
    before = _results(sqlite_engine, "s")
    fresh = make_engine(Settings(data_dir=tmp_path / "fresh", _env_file=None), embedders)
    try:
        path = sqlite_engine.settings.snapshots_dir() / made.json()["id"]
        assert restore_snapshot(fresh.context, path) == "s"
        assert _results(fresh, "s") == before
        assert fresh.collection_info("s").indexed_vectors == 59
        with pytest.raises(Conflict):
            restore_snapshot(fresh.context, path)
    finally:
        fresh.close()


def test_snapshot_checks_and_traversal(client, sqlite_engine, tmp_path) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "t"})
    client.post("/v1/collections/t/documents", json={"documents": vector_docs(3)})
    info = create_snapshot(sqlite_engine.context, "t", tmp_path / "snaps")
    assert [s.id for s in list_snapshots(tmp_path / "snaps")] == [info.id]
    chunks = Path(info.path) / "tables" / "chunks.jsonl"
    chunks.write_text(chunks.read_text()[:-20])
    with pytest.raises(InvalidInput, match="checksum"):
        restore_snapshot(sqlite_engine.context, Path(info.path))
    for bad in ("..", "../x", ".hidden", "a/b"):
        with pytest.raises((InvalidInput, NotFound)):
            resolve_snapshot(tmp_path / "snaps", bad)
    for bad in ("..%2F..%2Fetc", "%2E%2E", "nope"):
        response = client.post(f"/v1/admin/snapshots/{bad}/restore")
        assert response.status_code in (404, 422), bad
    assert client.post("/v1/admin/snapshots", json={"collection": "missing"}).status_code == 404


def test_metrics_ready_and_request_id(client) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "m"})
    client.post("/v1/collections/m/documents", json={"documents": vector_docs(4)})
    searched = client.post("/v1/collections/m/search", json={"vector": [0.1] * 384}, headers={"X-Request-ID": "abc-1"})
    assert searched.status_code == 200 and searched.headers["x-request-id"] == "abc-1"
    assert len(client.get("/health/live").headers["x-request-id"]) == 32
    text = client.get("/metrics").text
    assert (
        'latentspace_http_requests_total{method="POST",route="/v1/collections/{name}/search",status="200"} 1.0' in text
    )
    assert "latentspace_http_request_duration_seconds_bucket" in text
    assert "latentspace_searches_total 1.0" in text and "latentspace_ingested_chunks_total 4.0" in text
    assert 'latentspace_index_vectors{collection_id="1"} 4.0' in text
    ready = client.get("/health/ready").json()
    assert ready["database"] == "ok" and ready["indexes"] == {"loaded": 1, "out_of_sync": []}


def test_json_log_lines_carry_the_request_id() -> None:
    import json
    import logging

    from api.request_log import JsonFormatter, RequestIdFilter, request_id_var

    token = request_id_var.set("rid-7")
    record = logging.makeLogRecord({"msg": "request", "levelname": "INFO", "name": "x", "status": 200})
    RequestIdFilter().filter(record)
    request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "rid-7" and line["status"] == 200 and line["message"] == "request"


@pytest.mark.parametrize(
    ("overrides", "path", "body", "status"),
    [
        ({"max_request_bytes": 2048}, "/v1/collections/l/documents", {"documents": vector_docs(3)}, 413),
        ({"max_batch_documents": 2}, "/v1/collections/l/documents", {"documents": vector_docs(3)}, 413),
        ({"max_k": 5}, "/v1/collections/l/search", {"vector": [0.1] * 384, "k": 6}, 422),
        ({"max_query_chars": 10}, "/v1/collections/l/search", {"query": "x" * 11}, 422),
        ({}, "/v1/collections/l/search", {"vector": [0.1] * 384, "filter": {"i') OR 1=1 --": 1}}, 422),
    ],
)
def test_limits(make_client, overrides, path, body, status) -> None:  # noqa: ANN001
    client = make_client(**overrides)
    client.post("/v1/collections", json={"name": "l"})
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert "error" in response.json()  # a hostile filter key is refused (invalid_filter), never spliced into SQL


def test_compose_file_sets_only_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:15"
    api = services["api"]
    assert api["build"] == "." and "postgres" in api["depends_on"]
    assert any(v.endswith(":/data") for v in api["volumes"]) and "latentspace-data" in compose["volumes"]
    env = api["environment"]
    fields = {name.upper() for name in Settings.model_fields}
    assert {k.removeprefix("LATENTSPACE_") for k in env} <= fields
    assert env["LATENTSPACE_DATA_DIR"] == "/data" and env["LATENTSPACE_DATABASE_URL"].startswith("postgresql")
    Settings(**{k.removeprefix("LATENTSPACE_").lower(): v for k, v in env.items()}, _env_file=None)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["latentspace", "serve"]' in dockerfile and "VOLUME" in dockerfile
