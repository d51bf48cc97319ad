"""Metadata filters compile to SQL that behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import InvalidFilter
from store import migrate
from store.filters import compile_filter
from store.models import Collection, Document
from store.session import create_db_engine, create_session_factory

DOCS = {
    "a": {"lang": "en", "year": 1999, "tags": "x", "ok": True},
    "b": {"lang": "de", "year": 2005, "ok": False},
    "c": {"lang": "en", "year": 2010.5},
    "d": {"lang": "fr", "year": "unknown"},
    "e": {},
}


@pytest.fixture
def session(db_url: str):
    migrate.upgrade(db_url)
    engine = create_db_engine(db_url)
    sessions = create_session_factory(engine)
    with sessions.begin() as s:
        c = Collection(
            name="f", embedder_name="m", embedder_dim=3, embedder_version="v", index_params={}, options={}
        )
        s.add(c)
        s.flush()
        for ext, meta in DOCS.items():
            s.add(Document(collection_id=c.id, external_id=ext, content_hash=ext, metadata_=meta))
    with sessions() as s:
        yield s
    engine.dispose()


def matching(session, spec) -> set[str]:  # noqa: ANN001
    dialect = session.get_bind().dialect.name
    return set(session.scalars(select(Document.external_id).where(compile_filter(spec, dialect))))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"lang": "en"}, {"a", "c"}),
        ({"lang": {"$in": ["de", "fr"]}}, {"b", "d"}),
        ({"lang": {"$nin": ["en"]}}, {"b", "d", "e"}),
        ({"lang": {"$ne": "en"}}, {"b", "d", "e"}),
        ({"year": {"$gte": 2000}}, {"b", "c"}),
        ({"year": {"$gt": 1999, "$lt": 2010}}, {"b"}),
        ({"year": 1999}, {"a"}),
        ({"year": {"$lte": 2005}, "lang": "en"}, {"a"}),
        ({"ok": True}, {"a"}),
        ({"ok": False}, {"b"}),
        ({"missing": "x"}, set()),
        ({}, {"a", "b", "c", "d", "e"}),
    ],
)
def test_filter_semantics(session, spec, expected) -> None:  # noqa: ANN001
    assert matching(session, spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        {"year": {"$gte": "2000"}},
        {"year": {"$regex": "x"}},
        {"lang": {"$in": []}},
        {"lang": None},
        {"lang": {"nested": 1}},
        {"bad field!": 1},
        {"x'; DROP TABLE documents; --": 1},
        {"lang": {}},
        ["not", "a", "dict"],
    ],
)
def test_invalid_filters_raise(spec) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFilter):
        compile_filter(spec, "sqlite")
