"""Property-based fuzzing of the whole HTTP API from its OpenAPI schema (schemathesis, in-process ASGI).

Every generated request, valid or not, must get a non-5xx answer, and every answer with a declared
status must match its declared response schema and content type. Requests are pointed at a real
collection holding a few documents, so handlers get past the "collection not found" branch.

schemathesis' pytest loader (``schema.parametrize`` via ``from_fixture``) breaks on pytest 9
(``Function._nodeid``), and a module-level ``from_asgi`` would build the app at import time, so each
operation's case strategy is driven by Hypothesis directly and failures are collected per operation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from api.app import create_app
from core.settings import Settings
from ingest.readers import SourceDocument
from tests.conftest import make_engine

COLLECTION = "fuzz"
TEXTS = [
    "Vaccines train the immune system to recognise a pathogen.",
    "The central bank raised interest rates to slow inflation.",
    "A transformer model embeds sentences into vectors.",
    "Tomatoes grow best in warm, sunny soil.",
    "Black holes bend light around them.",
]


def no_server_error(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """``not_a_server_error``, except the documented 503 for a model this server does not have.

    Creating a collection whose model (named, or the default image model) is not installed is a 503
    ``model_unavailable`` by contract (tests/images/test_api.py): models are never downloaded on demand,
    and this test environment has no CLIP model.
    """
    creating = case.method == "POST" and case.path == "/v1/collections"
    if creating and response.status_code == 503 and response.json()["error"]["code"] == "model_unavailable":
        return
    not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = int(os.environ.get("LATENTSPACE_FUZZ_EXAMPLES", "8"))  # raise it for a deeper run
# Deleting the shared collection would turn every later request into a 404: that operation keeps
# generated names (a 404 or a throwaway collection), every other one targets the real collection.
KEEP_GENERATED_NAME = {("DELETE", "/v1/collections/{name}")}
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=os.environ.get("LATENTSPACE_FUZZ_RANDOM") != "1",  # same requests every run: reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, embedders) -> Iterator[schemathesis.BaseSchema]:  # noqa: ANN001
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    engine = make_engine(Settings(data_dir=data_dir, _env_file=None), embedders)
    engine.create_collection(COLLECTION)
    engine.ingest(COLLECTION, [SourceDocument(f"d{i}", t, None, {"i": i}) for i, t in enumerate(TEXTS)])
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(engine.settings, engine=engine))
    finally:
        engine.close()


def _strategy(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    names = {} if (operation.method.upper(), operation.path) in KEEP_GENERATED_NAME else {"name": COLLECTION}
    params = {p.name for p in operation.path_parameters}
    overrides = {k: v for k, v in names.items() if k in params} or None
    return st.one_of(
        operation.as_strategy(mode, path_parameters=overrides)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    )


def _fuzz(operation: schemathesis.APIOperation) -> str | None:
    """None if every generated request passed the checks, else the (shrunk) failure."""

    @FUZZ_SETTINGS
    @given(case=_strategy(operation))
    def run(case: schemathesis.Case) -> None:
        case.validate_response(case.call(), checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # failed checks (a group) or a crash; the others still run
        return f"{operation.label}: {exc}"
    return None


def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # the schema really was loaded from the app
    failures = [failure for failure in map(_fuzz, operations) if failure]
    assert not failures, "\n\n".join(failures)
