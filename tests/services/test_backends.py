"""A collection's embedding backend (torch, onnx, onnx-int8): chosen at creation, used for ingest and queries,
and refused when another backend would give other vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from core.errors import EmbedderMismatch
from ingest.readers import SourceDocument
from services.search.types import SearchRequest

DOCS = [
    SourceDocument("v", "Vaccines train the immune system to recognise a pathogen.", None, {}),
    SourceDocument("l", "Lava flows from an erupting volcano and cools into basalt rock.", None, {}),
]


def test_int8_collection_embeds_and_searches_with_its_backend(sqlite_engine) -> None:  # noqa: ANN001
    info = sqlite_engine.create_collection("q", backend="onnx-int8")
    assert info.options["backend"] == "onnx-int8"
    sqlite_engine.ingest("q", DOCS)
    hits = sqlite_engine.search("q", SearchRequest(query="how does immunity work", k=1, mode="dense")).hits
    assert hits[0].id == "v"
    collection = sqlite_engine.context.collection("q")
    embedder = sqlite_engine.context.embedder_for(collection)
    assert embedder is sqlite_engine.embedders.get("all-MiniLM-L6-v2", "onnx-int8")


def test_each_backend_embeds_in_its_own_batch_size_unless_one_is_set(embedders) -> None:  # noqa: ANN001
    """ONNX Runtime runs long texts faster in batches of 16 than 64; torch keeps 64 (docs/BENCHMARKS.md)."""
    from ingest.embedders import batch_size_for

    assert embedders.get("all-MiniLM-L6-v2", "onnx-int8").batch_size == 16
    assert embedders.get("all-MiniLM-L6-v2", "onnx").batch_size == 16
    assert embedders.get("all-MiniLM-L6-v2", "torch").batch_size == 64
    assert [batch_size_for(b, 8) for b in ("torch", "onnx", "onnx-int8")] == [8, 8, 8]


def test_torch_and_fp32_onnx_collections_hold_the_same_vectors(sqlite_engine) -> None:  # noqa: ANN001
    sqlite_engine.create_collection("t", backend="torch")
    sqlite_engine.create_collection("o", backend="onnx")
    for name in ("t", "o"):
        sqlite_engine.ingest(name, DOCS)
    request = SearchRequest(query="volcanic rock", k=2, mode="dense")
    torch_hits, onnx_hits = (sqlite_engine.search(name, request).hits for name in ("t", "o"))
    assert [h.id for h in torch_hits] == [h.id for h in onnx_hits]
    np.testing.assert_allclose([h.score for h in torch_hits], [h.score for h in onnx_hits], atol=1e-5)
    sqlite_engine.create_collection("t", exist_ok=True, backend="onnx")  # interchangeable: accepted
    with pytest.raises(EmbedderMismatch, match="onnx-int8"):
        sqlite_engine.create_collection("t", exist_ok=True, backend="onnx-int8")


def test_api_create_with_a_backend(sqlite_engine) -> None:  # noqa: ANN001
    from api.app import create_app

    with TestClient(create_app(sqlite_engine.settings, engine=sqlite_engine)) as client:
        created = client.post("/v1/collections", json={"name": "o", "backend": "onnx"})
        assert created.status_code == 201 and created.json()["options"]["backend"] == "onnx"
        bad = client.post("/v1/collections", json={"name": "u", "backend": "tensorflow"})
        assert bad.status_code == 422
        assert [c["name"] for c in client.get("/v1/collections").json()] == ["o"]


def test_cli_refuses_another_backend_and_changes_nothing(env: Path) -> None:
    runner = CliRunner()
    (env / "a.txt").write_text("Vaccines train the immune system.")
    (env / "b.txt").write_text("Lava cools into basalt.")
    created = runner.invoke(cli_app, ["collections", "create", "q", "--backend", "onnx-int8"])
    assert created.exit_code == 0 and "backend=onnx-int8" in created.output, created.output
    first = runner.invoke(cli_app, ["ingest", str(env / "a.txt"), "-c", "q"])
    assert first.exit_code == 0, first.output
    other = runner.invoke(cli_app, ["ingest", str(env / "b.txt"), "-c", "q", "--backend", "torch"])
    assert other.exit_code == 1 and "was embedded with backend 'onnx-int8'" in other.output
    found = runner.invoke(cli_app, ["search", "basalt", "-c", "q", "--json"])
    assert [h["id"] for h in json.loads(found.stdout)["hits"]] == [str(env / "a.txt")]  # b was not ingested
    bad = runner.invoke(cli_app, ["collections", "create", "u", "--backend", "tensorflow"])
    assert bad.exit_code == 1 and "unknown embedding backend 'tensorflow'" in bad.output
