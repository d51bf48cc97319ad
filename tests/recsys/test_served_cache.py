"""Recommendations served from the read cache still see every write made by another process."""

from __future__ import annotations

from ingest.readers import SourceDocument
from ingest.readers.interactions import Interaction
from services.recommendations.serving import Query
from tests.conftest import make_engine
from tests.recsys.blocks import block_matrix

PARAMS = {"factors": 4, "iterations": 15, "regularization": 5.0, "alpha": 10.0, "weighting": "binary"}


def test_a_second_process_sees_new_metadata_and_a_new_active_version(sqlite_settings, embedders) -> None:  # noqa: ANN001
    server, writer = make_engine(sqlite_settings, embedders), make_engine(sqlite_settings, embedders)
    try:
        writer.create_collection("c")
        coo = block_matrix().tocoo()
        events = [Interaction(f"u{u}", f"i{i}") for u, i in zip(coo.row, coo.col, strict=True)]
        writer.recommendations.ingest_interactions("c", events)
        first = writer.recommendations.train("c", "als", PARAMS)["version"]
        service = server.recommendations
        result = service.for_user("c", "u0", Query(k=10))
        assert result.version == first and result.items[0]["metadata"] == {}
        top = result.items[0]["id"]
        assert service.for_user("c", "u0", Query(k=10)).items[0]["metadata"] == {}  # now from the cache
        # The writer gives the top item a document, then trains and activates a second version.
        writer.ingest("c", [SourceDocument(top, "a film", None, {"genre": "noir"})])
        assert service.for_user("c", "u0", Query(k=10)).items[0] == {
            **result.items[0],
            "metadata": {"genre": "noir"},
            "has_document": True,
        }
        second = writer.recommendations.train("c", "ease", {"lambda": 10.0})["version"]
        assert service.for_user("c", "u0", Query(k=10)).version == second
        writer.recommendations.activate("c", first)
        assert service.for_user("c", "u0", Query(k=10)).version == first
    finally:
        server.close()
        writer.close()
