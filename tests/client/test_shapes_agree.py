"""The client's dataclasses mirror the server's shapes field for field (the client cannot import them).

latentspace/types.py must stay importable without the server's stack, so it repeats the service's
``CollectionInfo`` and ``Hit`` and the API's ``CollectionOut`` and ``HitOut``. A field added on one side and
not the other would be silently dropped by ``from_json`` (it ignores unknown keys); this catches it.
"""

from __future__ import annotations

import dataclasses

import pytest

from api.schemas import CollectionOut, HitOut
from latentspace import types as client
from services.collections import CollectionInfo
from services.search.types import Hit


def names(shape: type) -> list[str]:
    if dataclasses.is_dataclass(shape):
        return [f.name for f in dataclasses.fields(shape)]
    return list(shape.model_fields)


@pytest.mark.parametrize(
    ("client_shape", "server_shapes"),
    [(client.CollectionInfo, (CollectionInfo, CollectionOut)), (client.Hit, (Hit, HitOut))],
    ids=["CollectionInfo", "Hit"],
)
def test_client_shape_has_every_server_field(client_shape: type, server_shapes: tuple[type, ...]) -> None:
    for server_shape in server_shapes:
        assert set(names(client_shape)) == set(names(server_shape)), server_shape.__qualname__


def test_collection_info_round_trips_through_the_api_shape() -> None:
    info = CollectionInfo(
        name="c", modality="text", model=None, dimension=3, model_version="v", index_kind="flat",
        index_params={"M": 16}, documents=2, chunks=3, indexed_vectors=3, created_at="2026-12-02T00:00:00",
        options={"backend": "torch"},
    )
    body = CollectionOut(**dataclasses.asdict(info)).model_dump(mode="json")
    assert dataclasses.asdict(client.CollectionInfo.from_json(body)) == dataclasses.asdict(info)
