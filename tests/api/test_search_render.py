"""The search body api/routers/search.py renders by hand is HitOut's, field for field (they cannot drift)."""

from __future__ import annotations

import dataclasses

import orjson

from api.routers.search import render
from api.schemas import HIT_FIELDS, HitOut, SearchOut
from services.search.types import Hit, SearchResult


def test_hit_fields_are_hitout_fields_and_the_service_hit_has_each() -> None:
    assert HIT_FIELDS == tuple(HitOut.model_fields)
    assert {f.name for f in dataclasses.fields(Hit)} == set(HIT_FIELDS), "a Hit field HitOut does not declare"


def test_rendered_body_is_searchout_exactly() -> None:
    hits = [
        Hit(id="d1", score=0.5, text="alpha", chunk=2, char_start=3, char_end=8, source_uri="file:///a",
            metadata={"year": 2021, "tags": ["x"]}, mode="hybrid", explain={"dense": {"rank": 1}}),
        Hit(id="d2", score=0.25, text="beta", chunk=0, char_start=0, char_end=4, source_uri=None, metadata={}),
    ]
    body = orjson.loads(render(SearchResult(hits=hits, mode="hybrid"), 1.23456))
    assert [list(hit) for hit in body["hits"]] == [list(HIT_FIELDS)] * 2
    assert SearchOut.model_validate(body).model_dump(exclude_none=True) == {
        "hits": [HitOut(**dataclasses.asdict(h)).model_dump(exclude_none=True) for h in hits],
        "mode": "hybrid",
        "took_ms": 1.235,
    }


def _by_dicts(result: SearchResult, took_ms: float) -> bytes:
    """The body as render wrote it before it handed Hit dataclasses to orjson: one dict per hit."""
    hits = [{name: getattr(h, name) for name in HIT_FIELDS} for h in result.hits]
    return orjson.dumps({"hits": hits, "mode": result.mode, "took_ms": round(took_ms, 3), **(result.cluster or {})})


def test_hits_written_as_dataclasses_are_the_same_bytes_as_dicts() -> None:
    hits = [
        Hit(id="d1", score=0.5, text="alpha é", chunk=2, char_start=3, char_end=8, source_uri="file:///a",
            metadata={"year": 2021, "tags": ["x"], "nested": {"a": None}}, mode="hybrid",
            explain={"dense": {"rank": 1}}),
        Hit(id="d2", score=1e-7, text="", chunk=0, char_start=0, char_end=0, source_uri=None, metadata={}),
    ]
    for result in (SearchResult(hits=hits), SearchResult(hits=[], mode="lexical"),
                   SearchResult(hits=hits[:1], cluster={"index_seq": 3, "partial": False})):
        assert render(result, 2.71828) == _by_dicts(result, 2.71828)


def test_what_orjson_refuses_still_falls_back_to_the_stdlib() -> None:
    big = 2**70  # beyond 64 bits: orjson refuses it, json writes it exactly
    hit = Hit(id="d", score=0.5, text="t", chunk=0, char_start=0, char_end=1, source_uri=None, metadata={"n": big})
    body = render(SearchResult(hits=[hit]), 1.0)
    assert b'"n":1180591620717411303424' in body
    assert SearchOut.model_validate_json(body).hits[0].metadata == {"n": big}
