"""Issue 18, class 3 (poisoned writes → permanent 500s) and the value items of class 9.

Values Python's json accepts but JSON does not (NaN, Infinity), lone surrogates and very deep nesting are
refused on every write path with a clear error, and a row poisoned before these rules existed no longer
breaks reads of its collection.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.security.vector_engine import COLLECTION, post_raw, seeded_client, unit

DOCS = f"/v1/collections/{COLLECTION}/documents"
SEARCH = f"/v1/collections/{COLLECTION}/search"
POISON = {
    "nan": "NaN",
    "infinity": "-Infinity",
    "surrogate": '"\\ud800"',
    "surrogate_key": '{"\\udfff": 1}',
    "deep": "[" * 256 + "]" * 256,
    "huge_int": "9" * 30,
    "nul": '"a\\u0000b"',
}


def _reads_all_fine(client) -> None:  # noqa: ANN001
    """Every read of the collection answers without a server error."""
    assert client.get(DOCS).status_code == 200
    assert client.get(f"{DOCS}/d1").status_code == 200
    assert client.post(SEARCH, json={"vector": unit(1), "k": 3}).status_code == 200
    assert client.post(SEARCH, json={"query": "document", "k": 3}).status_code == 200
    filtered = client.post(SEARCH, json={"vector": unit(1), "k": 3, "filter": {"i": {"$gte": 0}}})
    assert filtered.status_code == 200, filtered.text
    assert client.post(SEARCH, json={"vector": unit(1), "k": 3, "filter": {"lang": {"$ne": "de"}}}).status_code == 200


@pytest.mark.parametrize("poison", sorted(POISON))
def test_poisoned_metadata_is_refused_and_nothing_breaks(tmp_path: Path, poison: str, db_url: str) -> None:
    with seeded_client(tmp_path / "data", database_url=db_url) as (client, _engine):
        doc = '{"id": "bad", "text": "t", "vector": ' + json.dumps(unit(3)) + ', "metadata": {"a": ' + POISON[poison]
        body = '{"documents": [' + doc + "}}]}"
        response = post_raw(client, DOCS, body)
        assert response.status_code < 500, response.text
        report = response.json()
        assert report["added"] == 0 and report["failed"] == 1
        assert "metadata" in report["errors"][0]  # one line naming what is wrong
        assert client.get(f"{DOCS}/bad").status_code == 404  # nothing stored
        _reads_all_fine(client)


def test_bad_documents_cost_only_themselves(tmp_path: Path) -> None:
    """A batch with a poisoned document still stores the good ones (the per-document rule of ingest)."""
    with seeded_client(tmp_path / "data") as (client, _engine):
        vector = json.dumps(unit(2))
        good = '{"id": "ok", "text": "fine", "vector": ' + vector + ', "metadata": {"x": 1}}'
        bad = '{"id": "bad", "text": "bad", "vector": ' + vector + ', "metadata": {"k": Infinity}}'
        response = post_raw(client, DOCS, '{"documents": [' + good + ", " + bad + "]}")
        assert response.status_code == 200 and response.json()["added"] == 1 and response.json()["failed"] == 1
        assert client.get(f"{DOCS}/ok").json()["metadata"] == {"x": 1}


def test_image_form_metadata_is_checked_like_json_bodies(tmp_path: Path) -> None:
    with seeded_client(tmp_path / "data") as (client, _engine):
        response = client.post(
            f"/v1/collections/{COLLECTION}/images",
            files={"files": ("a.png", b"not really a png", "image/png")},
            data={"metadata": '{"a": NaN}'},
        )
        assert response.status_code == 422
        assert "metadata form field" in response.json()["error"]["message"]


def test_interaction_value_nan_is_refused(tmp_path: Path) -> None:
    with seeded_client(tmp_path / "data") as (client, engine):
        body = '{"interactions": [{"user": "u", "item": "d1", "value": NaN}, {"user": "u", "item": "d2"}]}'
        response = post_raw(client, f"/v1/collections/{COLLECTION}/interactions", body)
        assert response.status_code == 422, response.text  # refused whole, nothing stored
        from ingest.readers.interactions import Interaction

        report = engine.recommendations.ingest_interactions(
            COLLECTION, [Interaction("u", "d1", float("nan")), Interaction("u", "d2", 1.0)]
        )
        assert (report.added, report.failed) == (1, 1) and "finite" in report.errors[0]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ('{"a": NaN, "b": 1}', {"a": None, "b": 1}),
        ('{"a": "x\\ud800y"}', {"a": "x\ufffdy"}),
        ('{"a": ' + "[" * 256 + "]" * 256 + "}", None),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", {}),  # too deep for Python's json: read as empty
    ],
)
def test_rows_poisoned_before_validation_do_not_break_reads(tmp_path: Path, stored: str, expected) -> None:  # noqa: ANN001
    """Rows written by an older version (or another tool) are repaired on the way out, never a 500."""
    with seeded_client(tmp_path / "data") as (client, _engine):
        with sqlite3.connect(tmp_path / "data" / "latentspace.db") as db:
            db.execute("UPDATE documents SET metadata = ? WHERE external_id = 'd1'", (stored,))
        _reads_all_fine(client)
        metadata = client.get(f"{DOCS}/d1").json()["metadata"]
        if expected is not None:
            assert metadata == expected


def test_weight_nan_says_finite_and_rrf_k_infinity_is_refused(tmp_path: Path) -> None:
    with seeded_client(tmp_path / "data") as (client, engine):
        weight = post_raw(client, SEARCH, '{"query": "document", "weight": NaN}')
        assert weight.status_code == 422 and "finite" in json.dumps(weight.json())
        rrf = post_raw(client, SEARCH, '{"query": "document", "fusion": "rrf", "rrf_k": Infinity}')
        assert rrf.status_code == 422 and "finite" in json.dumps(rrf.json())
        from core.errors import InvalidInput
        from services.search.types import SearchRequest

        with pytest.raises(InvalidInput, match="finite number between 0 and 1"):  # the CLI / Engine path
            engine.search(COLLECTION, SearchRequest(query="document", weight=float("nan")))
        with pytest.raises(InvalidInput, match="finite"):
            engine.search(COLLECTION, SearchRequest(query="document", rrf_k=float("inf")))


def test_vectors_beyond_float32_are_refused_not_zeroed(tmp_path: Path) -> None:
    with seeded_client(tmp_path / "data") as (client, engine):
        from ingest.pipeline import normalise

        unit_vector = normalise([3e38] * 8, 8)  # finite in float32, but its float32 norm overflows
        assert abs(float((unit_vector**2).sum()) - 1.0) < 1e-5
        doc = {"id": "big", "text": "t", "vector": [3.5e38] * 8}  # beyond float32: inf once stored
        refused = client.post(DOCS, json={"documents": [doc]})
        assert refused.status_code == 422 and "infinite" in refused.json()["error"]["message"]
        assert client.get(f"{DOCS}/big").status_code == 404
        huge_query = client.post(SEARCH, json={"vector": [1e39] * 8, "k": 2})
        assert huge_query.status_code == 422
        doc = {"id": "ok-big", "text": "t", "vector": [3e38] * 8}
        assert client.post(DOCS, json={"documents": [doc]}).json()["added"] == 1
        hits = client.post(SEARCH, json={"vector": [1.0] * 8, "k": 1}).json()["hits"]
        assert hits[0]["id"] == "ok-big" and hits[0]["score"] > 0.99  # not a zero vector
