"""Issue 17's HTTP path: the search fast path answers exactly what the route answers, and AUTH=auto's
"no key yet" is remembered without SQL yet ends the moment another process creates a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from services.keys import KeyStore, keys_marker
from store.migrate import upgrade
from tests.ops.conftest import *  # noqa: F403 (the client fixtures)
from tests.ops.conftest import unit_vectors, vector_docs

REPO = Path(__file__).resolve().parents[2]


def _hits(response) -> list[tuple]:  # noqa: ANN001
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"hits", "mode", "took_ms"}
    return [tuple(sorted((k, str(v)) for k, v in hit.items())) for hit in body["hits"]] + [body["mode"]]


def test_fast_path_and_route_give_the_same_hits(client) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "f"})
    assert client.post("/v1/collections/f/documents", json={"documents": vector_docs(30, seed=3)}).status_code == 200
    for i, vector in enumerate(unit_vectors(5, seed=9).tolist()):
        fast = client.post("/v1/collections/f/search", json={"vector": vector, "k": 4})
        # a filter every document passes sends the same search through FastAPI's route instead
        routed = client.post("/v1/collections/f/search", json={"vector": vector, "k": 4, "filter": {"i": {"$gte": 0}}})
        assert _hits(fast) == _hits(routed), i
    text = client.get("/metrics").text
    assert 'route="/v1/collections/{name}/search",status="200"} 10.0' in text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"vector": [0.1, NaN], "k": 3}', 422, "invalid_request"),  # NaN: json.loads reads it, the model refuses
        (b'{"vector": [0.1, 0.2', 422, "invalid_request"),  # not JSON
        (b'{"vector": [0.1, 0.2], "k": 3}', 422, "dimension_mismatch"),  # the engine refuses: the route answers
        (b'{"vector": [0.1, 0.2], "k": 0}', 422, "invalid_request"),
        (b'{"vector": [0.1], "query": "both"}', 422, None),
    ],
)
def test_bodies_the_fast_path_declines_get_the_routes_errors(client, body, status, code) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "e"})
    client.post("/v1/collections/e/documents", json={"documents": vector_docs(3)})
    response = client.post("/v1/collections/e/search", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert code is None or error["code"] == code, error
    assert client.post("/v1/collections/missing/search", json={"vector": [0.1] * 384}).status_code == 404


def test_auto_mode_remembers_no_key_until_another_process_creates_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    upgrade(settings.resolved_database_url())
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/collections").status_code == 200  # auto, no key: open
        store = client.app.state.key_store
        assert store.known_ever_created() is False  # remembered: the next key-less request costs no query
        assert client.get("/v1/collections").status_code == 200
        env = dict(os.environ, LATENTSPACE_DATA_DIR=str(settings.data_dir))
        env.pop("LATENTSPACE_DATABASE_URL", None)
        created = subprocess.run(
            [sys.executable, "-m", "cli.main", "keys", "create", "--name", "other", "--scope", "read"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )
        assert created.returncode == 0, created.stderr
        assert keys_marker(settings.data_dir).exists()
        assert client.get("/v1/collections").status_code == 401  # the other process's key closes it at once
        key = created.stdout.strip().splitlines()[-1]
        assert client.get("/v1/collections", headers={"X-API-Key": key}).status_code == 200


def test_keys_stored_before_the_marker_existed_are_found_and_marked(sqlite_engine) -> None:  # noqa: ANN001
    KeyStore(sqlite_engine.sessions).create("old", ["read"])  # no marker: as a version before issue 17 did
    marker = keys_marker(sqlite_engine.settings.data_dir)
    assert not marker.exists()
    store = KeyStore(sqlite_engine.sessions, marker=marker)
    assert store.known_ever_created() is None  # unknown without a query
    assert store.ever_created() is True and marker.exists()
