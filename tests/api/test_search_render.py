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
