"""Property: whatever JSON metadata and filters a client sends, no read or write of the API is a 5xx.

Random JSON values (NaN, ±Infinity, integers far beyond int64, lone surrogates in strings and keys, deep
nesting) are written as document metadata through the API as raw JSON text (Python's json, and so the
API, parses all of them); after each write, GET, list, unfiltered and filtered search (with the value's
own fields and with random filters) must all answer below 500. The model-free engine keeps it fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.vector_engine import COLLECTION, post_raw, seeded_client, unit

DOCS = f"/v1/collections/{COLLECTION}/documents"
SEARCH = f"/v1/collections/{COLLECTION}/search"
EXAMPLES = int(os.environ.get("LATENTSPACE_FUZZ_EXAMPLES", "8")) * 8

# Text including surrogates (category Cs), which st.characters() leaves out by default.
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
KEYS = st.one_of(st.sampled_from(["i", "lang", "topic", "a", "b.c", "x-y"]), TEXT)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)
DEEP = st.integers(min_value=20, max_value=300).map(lambda depth: _nest(depth))
METADATA = st.dictionaries(KEYS, st.one_of(JSON, DEEP), max_size=5)
OPERATORS = st.sampled_from(["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$nope"])
CONDITIONS = st.one_of(
    JSON,
    st.dictionaries(OPERATORS, st.one_of(JSON, st.lists(SCALARS, max_size=6)), max_size=3),
)
FILTERS = st.one_of(st.dictionaries(KEYS, CONDITIONS, max_size=4), JSON)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("LATENTSPACE_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _raw(value: Any) -> str:
    """JSON text as a hostile client may send it: NaN/Infinity literals, surrogates as \\u escapes."""
    return json.dumps(value, allow_nan=True, ensure_ascii=True)


def _ok(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


def test_random_metadata_and_filters_never_cause_server_errors(tmp_path: Path, db_url: str) -> None:
    with seeded_client(tmp_path / "data", database_url=db_url) as (client, _engine):

        @FUZZ
        @given(metadata=METADATA, spec=FILTERS, slot=st.integers(min_value=0, max_value=3), query=TEXT)
        def run(metadata: dict[str, Any], spec: Any, slot: int, query: str) -> None:
            doc = f'{{"id": "h{slot}", "text": "fuzzed", "vector": {unit(slot)}, "metadata": {_raw(metadata)}}}'
            _ok(post_raw(client, DOCS, f'{{"documents": [{doc}]}}'), "write")
            _ok(client.get(f"{DOCS}/h{slot}"), "get")
            _ok(client.get(DOCS, params={"limit": 1000}), "list")
            _ok(client.post(SEARCH, json={"vector": unit(slot), "k": 10}), "search")
            _ok(post_raw(client, SEARCH, f'{{"query": {_raw(query or "q")}, "k": 10}}'), "text search")
            own = {k: v for k, v in metadata.items() if not isinstance(v, list | dict)}
            for candidate in (spec, own, {"$in": spec}):
                body = f'{{"vector": {unit(slot)}, "k": 10, "filter": {_raw(candidate)}}}'
                _ok(post_raw(client, SEARCH, body), f"filtered search {_raw(candidate)[:200]}")

        run()
