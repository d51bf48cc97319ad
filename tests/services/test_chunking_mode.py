"""A collection's chunking mode: ``split`` (default) vs ``truncate`` (one chunk per document), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from core.errors import InvalidInput
from ingest.chunking import whole_text_chunks
from ingest.readers import SourceDocument
from services.search.types import SearchRequest

# ~700 tokens: far past MiniLM's 256-token window. Only the last paragraph names the rare word.
HEAD = " ".join(f"Glaciers carve valley number {i} into the granite of the northern range." for i in range(40))
TAIL = "At the very end, the brewer explains zymurgy: yeast turns malt sugar into alcohol."
LONG = f"{HEAD}\n\n{TAIL}"
SHORT = "Lava flows from an erupting volcano and cools into basalt rock."


def long_docs() -> list[SourceDocument]:
    return [SourceDocument("long", f"  {LONG}\n", None, {}), SourceDocument("short", SHORT, None, {})]


def test_whole_text_chunks_strip_and_keep_spans() -> None:
    text = "\n  two words \n"
    [[chunk], empty] = whole_text_chunks([text, "   "])
    assert (chunk.text, text[chunk.start : chunk.end], chunk.ordinal) == ("two words", "two words", 0)
    assert empty == []


def test_truncate_keeps_one_chunk_with_the_whole_text_and_the_models_own_vector(engine) -> None:  # noqa: ANN001
    # torch, whose vector of a text does not depend on its batch (the test compares with a lone encode)
    engine.create_collection("t", chunking="truncate", backend="torch")
    engine.create_collection("s", backend="torch")
    assert engine.collection_info("t").options["chunking"] == "truncate"
    assert engine.collection_info("s").options["chunking"] == "split"
    report = engine.ingest("t", long_docs())
    assert (report.added, report.chunks_embedded) == (2, 2)
    assert engine.ingest("s", long_docs()).chunks_embedded > 3  # split embeds every token of the long one
    assert engine.get_document("t", "long")["text"] == LONG
    assert engine.collection_info("t").chunks == 2

    embedder = engine.embedders.get(engine.collection_info("t").model)
    hit = engine.search("t", SearchRequest(vector=embedder.embed_query(LONG).tolist(), k=1)).hits[0]
    assert (hit.id, hit.text, hit.char_start) == ("long", LONG, 2)
    assert hit.score == pytest.approx(1.0, abs=1e-5)  # the stored vector is plain encode() of the text
    # Past the window, the text shapes nothing: the same head with another ending gives the same vector.
    other_ending = embedder.embed_query(f"{HEAD}\n\nSomething else entirely about cars.")
    assert float(np.dot(other_ending, embedder.embed_query(LONG))) == pytest.approx(1.0, abs=1e-5)
    # ...but it is stored and BM25-indexed.
    assert [h.id for h in engine.search("t", SearchRequest(query="zymurgy", mode="lexical", k=2)).hits] == ["long"]


def test_chunking_is_fixed_at_creation_and_validated(engine) -> None:  # noqa: ANN001
    engine.create_collection("t", chunking="truncate")
    engine.ingest("t", long_docs())
    with pytest.raises(InvalidInput, match="uses chunking 'truncate', not 'split'"):
        engine.create_collection("t", exist_ok=True, chunking="split")
    assert engine.create_collection("t", exist_ok=True).options["chunking"] == "truncate"
    assert engine.create_collection("t", exist_ok=True, chunking="truncate").documents == 2
    with pytest.raises(InvalidInput, match="unknown chunking 'pages'"):
        engine.create_collection("u", chunking="pages")
    assert [c.name for c in engine.list_collections()] == ["t"]


def test_api_create_with_chunking(engine) -> None:  # noqa: ANN001
    from api.app import create_app

    with TestClient(create_app(engine.settings, engine=engine)) as client:
        created = client.post("/v1/collections", json={"name": "t", "chunking": "truncate"})
        assert created.status_code == 201 and created.json()["options"]["chunking"] == "truncate"
        bad = client.post("/v1/collections", json={"name": "u", "chunking": "pages"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
        assert [c["name"] for c in client.get("/v1/collections").json()] == ["t"]


def test_cli_ingest_with_chunking_and_mismatch(env: Path) -> None:
    runner = CliRunner()
    (env / "long.txt").write_text(LONG)
    first = runner.invoke(cli_app, ["ingest", str(env / "long.txt"), "-c", "t", "--chunking", "truncate"])
    assert first.exit_code == 0, first.output
    other = runner.invoke(cli_app, ["ingest", str(env / "long.txt"), "-c", "t", "--chunking", "split"])
    assert other.exit_code == 1 and "uses chunking 'truncate', not 'split'" in other.output
    bad = runner.invoke(cli_app, ["collections", "create", "u", "--chunking", "pages"])
    assert bad.exit_code == 1 and "unknown chunking 'pages'" in bad.output
    hits = runner.invoke(cli_app, ["search", "zymurgy", "-c", "t", "--mode", "lexical", "--json"])
    assert hits.exit_code == 0, hits.output
    [hit] = json.loads(hits.stdout)["hits"]
    assert hit["text"] == LONG
