"""Lexical and hybrid search through the Engine: the BM25 index follows every write, fusion finds what
each signal alone misses, filters apply to every mode, explain/diversity, the API and clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.errors import InvalidInput
from ingest.readers import SourceDocument
from services.search.types import SearchRequest
from tests.conftest import make_engine

# Relevant to QUERY: "code" (only lexically: the rare token) and "para" (only by meaning: no shared word).
TEXTS = {
    "code": "ZX81Q tulip bulbs and rose seeds for spring gardens.",
    "para": "If a notebook will not boot, hold the button down for thirty seconds to drain residual charge.",
    "d1": "My notebook battery dies quickly on long flights.",
    "d2": "Electric drills on sale this weekend: drills and saws.",
    "d3": "A recipe for lemon cake with a crunchy sugar glaze.",
    "d4": "Repairing a bicycle chain: keep it oiled.",
    "d5": "The new bridge by the river opened in spring.",
}
QUERY = "laptop will not power up ZX81Q"


def docs(texts: dict[str, str]) -> list[SourceDocument]:
    group = {"code": "a", "d1": "a"}
    return [SourceDocument(key, text, None, {"group": group.get(key, "b")}) for key, text in texts.items()]


@pytest.fixture
def filled(sqlite_engine):  # noqa: ANN001, ANN201
    sqlite_engine.create_collection("c")
    sqlite_engine.ingest("c", docs(TEXTS))
    return sqlite_engine


def ids(engine, query: str = QUERY, **options) -> list[str]:  # noqa: ANN001
    return [hit.id for hit in engine.search("c", SearchRequest(query=query, **options)).hits]


def test_each_signal_misses_what_the_other_finds_and_hybrid_finds_both(filled) -> None:  # noqa: ANN001
    assert "code" not in ids(filled, k=2, mode="dense")
    assert "para" not in ids(filled, k=2, mode="lexical")
    for fusion in ("rrf", "convex"):
        assert set(ids(filled, k=2, mode="hybrid", fusion=fusion)) == {"code", "para"}, fusion
    # z-scores are degenerate when BM25 matches a single chunk (its z is 0): the reason min-max is the default
    assert "code" not in ids(filled, k=2, mode="hybrid", fusion="convex", normalisation="zscore")
    result = filled.search("c", SearchRequest(query=QUERY, k=2))
    assert result.mode.startswith("hybrid") and {h.mode for h in result.hits} == {"hybrid"}


def test_lexical_index_follows_updates_deletes_and_filters(filled) -> None:  # noqa: ANN001
    filled.ingest("c", [SourceDocument("d3", "Gooseberry ZX81Q jam.", None, {"group": "b"})])
    assert "d3" in ids(filled, "gooseberry", mode="lexical")
    assert ids(filled, "lemon", mode="lexical") == []  # the old text is gone
    filled.delete_document("c", "code")
    assert ids(filled, "tulip", mode="lexical") == []
    assert ids(filled, "ZX81Q", mode="lexical", filter={"group": "a"}) == []
    assert ids(filled, "ZX81Q", mode="lexical", filter={"group": "b"}) == ["d3"]
    assert set(ids(filled, mode="hybrid", filter={"group": "a"})) == {"d1"}


def test_persists_rebuilds_and_repairs_from_the_database(filled, sqlite_settings, embedders) -> None:  # noqa: ANN001
    expected = ids(filled, "notebook", mode="lexical")
    info_id = filled.context.collection("c").id
    lexical_dir = filled.settings.index_dir() / str(info_id) / "lexical"
    assert (lexical_dir / "manifest.json").exists()
    # a fresh Engine loads the saved index
    again = make_engine(sqlite_settings, embedders)
    assert ids(again, "notebook", mode="lexical") == expected
    # stale: the saved index misses a write (crash between commit and save) → repaired on load
    from index.lexical import Bm25Index

    stale = Bm25Index.load(lexical_dir)
    stale.remove(stale.ids()[:2])
    stale.save(lexical_dir)
    assert ids(make_engine(sqlite_settings, embedders), "notebook", mode="lexical") == expected
    # missing → rebuilt; explicit rebuild too
    shutil.rmtree(lexical_dir)
    assert ids(make_engine(sqlite_settings, embedders), "notebook", mode="lexical") == expected
    again.rebuild_index("c")
    assert len(Bm25Index.load(lexical_dir)) == len(TEXTS)
    again.delete_collection("c")
    assert not lexical_dir.exists()


def test_per_collection_analysis_options(sqlite_engine) -> None:  # noqa: ANN001
    from services.sync.lexical import configure_lexical

    sqlite_engine.create_collection("c")
    sqlite_engine.ingest("c", docs({"a": "running shoes", "b": "a long run"}))
    assert set(ids(sqlite_engine, "run", mode="lexical")) == {"a", "b"}  # English stemming by default
    configure_lexical(sqlite_engine.context, "c", {"stemmer": "none"})
    assert sqlite_engine.collection_info("c").options["lexical"] == {"stemmer": "none"}
    assert ids(sqlite_engine, "run", mode="lexical") == ["b"]  # no stemming: "running" ≠ "run"
    with pytest.raises(InvalidInput, match="stemmer"):
        configure_lexical(sqlite_engine.context, "c", {"stemmer": "klingon"})


def test_explain_and_diversity(filled) -> None:  # noqa: ANN001
    hits = filled.search("c", SearchRequest(query=QUERY, k=3, mode="hybrid", explain=True)).hits
    top = hits[0].explain
    assert {"fused", "dense", "lexical"} <= set(top) and top["lexical"]["rank"] == 1
    assert "lexical" not in next(h.explain for h in hits if h.id == "para")
    dense = filled.search("c", SearchRequest(query=QUERY, k=3, mode="dense", explain=True)).hits
    assert [h.id for h in dense] == ids(filled, k=3, mode="dense")
    assert [h.explain["dense"]["rank"] for h in dense] == [1, 2, 3]
    filled.ingest("c", docs({"dup1": "Hold the notebook button for thirty seconds to drain charge."}))
    plain = ids(filled, "notebook will not boot", k=3, mode="dense")
    diverse = ids(filled, "notebook will not boot", k=3, mode="dense", diversity=0.9)
    assert plain[0] == diverse[0] and plain != diverse


def test_bad_requests_are_refused(filled) -> None:  # noqa: ANN001
    vector = list(np.ones(384) / np.sqrt(384))
    with pytest.raises(InvalidInput, match="needs a text"):
        filled.search("c", SearchRequest(vector=vector, mode="lexical"))
    assert filled.search("c", SearchRequest(vector=vector)).mode == "dense"
    for bad in ({"mode": "fuzzy"}, {"weight": 1.5}, {"diversity": -1.0}, {"fusion": "magic", "mode": "hybrid"}):
        with pytest.raises(InvalidInput):
            filled.search("c", SearchRequest(query="x", **bad))
    with pytest.raises(InvalidInput, match="diversity"):
        filled.search("c", SearchRequest(query="x", mode="lexical", diversity=0.5))


def test_api_modes_explain_and_errors(filled) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(filled.settings, engine=filled)) as client:
        response = client.post("/v1/collections/c/search", json={"query": QUERY, "k": 2, "explain": True})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"].startswith("hybrid") and {h["id"] for h in body["hits"]} == {"code", "para"}
        assert "dense" in body["hits"][0]["explain"]
        lexical = client.post("/v1/collections/c/search", json={"query": "tulip", "mode": "lexical"}).json()
        assert [h["id"] for h in lexical["hits"]] == ["code"] and lexical["hits"][0]["mode"] == "lexical"
        bad_bodies = (
            {"query": "x", "mode": "fuzzy"},
            {"query": "x", "weight": 2},
            {"vector": [0.1] * 384, "mode": "lexical"},
        )
        for bad in bad_bodies:
            response = client.post("/v1/collections/c/search", json=bad)
            assert response.status_code == 422, response.text
            assert "error" in response.json()


def test_a_candidate_only_bm25_found_gets_its_exact_dense_score(tmp_path, embedders) -> None:  # noqa: ANN001
    from core.settings import Settings

    # depth = max(fusion_depth, 4k) = 8 < 19 documents, so the dense index does not return every chunk
    settings = Settings(data_dir=tmp_path / "d", _env_file=None, fusion_depth=1)
    engine = make_engine(settings, embedders)
    fillers = {f"f{i}": f"Note {i}: my computer refuses to start after the update." for i in range(12)}
    # torch: a text's vector does not depend on the batch it was embedded in (int8's activation scale does)
    engine.create_collection("c", backend="torch")
    engine.ingest("c", docs(TEXTS | fillers))
    assert "code" not in ids(engine, k=8, mode="dense")  # not among the dense candidates
    hits = engine.search("c", SearchRequest(query=QUERY, k=2, explain=True, weight=0.2)).hits
    code = next(h for h in hits if h.id == "code")
    embedder = engine.embedders.get(engine.collection_info("c").model)
    exact = float(embedder.embed_query(QUERY) @ embedder.embed_query(TEXTS["code"]))
    assert code.explain["dense"]["score"] == pytest.approx(exact, abs=1e-5)
    assert code.explain["dense"]["rank"] > 8 and code.explain["lexical"]["rank"] == 1
    engine.close()


def test_candidates_are_scored_with_the_stored_vectors_read_from_the_index(filled) -> None:  # noqa: ANN001
    from services.search.common import stored_vectors
    from store import repositories as repo

    ctx = filled.context
    filled.delete_document("c", "d5")
    collection = ctx.collection("c")
    with ctx.sessions() as session:
        stored = {
            i: v
            for found, matrix in repo.iter_vectors(session, collection.id, collection.embedder_dim)
            for i, v in zip(found.tolist(), matrix, strict=True)
        }
    asked = [*stored, max(stored) + 1000]  # the last one is no chunk (e.g. deleted since)
    in_index, _ = ctx.vectors.get(collection).vectors(np.asarray(asked))
    assert sorted(in_index.tolist()) == sorted(stored)  # every one from memory: no SQL read needed
    got = stored_vectors(ctx, collection, asked)
    assert got.keys() == stored.keys()
    for chunk_id, vector in stored.items():
        np.testing.assert_array_equal(got[chunk_id], vector)
