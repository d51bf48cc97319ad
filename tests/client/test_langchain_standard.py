"""langchain-tests' standard ``VectorStoreIntegrationTests``, unmodified, over the embedded and the remote client.

The suite embeds with its own ``DeterministicFakeEmbedding`` (6-d vectors seeded by a hash of the text), so
each store is a bring-your-own-vector collection; no opt-out is used (sync, async and get_by_ids all run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import latentspace
from latentspace.integrations.langchain import LatentspaceVectorStore


def fresh_store(client: latentspace.Client, embedding) -> Iterator[LatentspaceVectorStore]:  # noqa: ANN001
    name = f"lc-{uuid.uuid4().hex[:12]}"
    store = LatentspaceVectorStore(client=client, collection=name, embedding=embedding)
    try:
        yield store
    finally:
        client.delete_collection(name)


class TestEmbeddedStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, embedded_client: latentspace.Client) -> Iterator[LatentspaceVectorStore]:  # type: ignore[override]
        yield from fresh_store(embedded_client, self.get_embeddings())


class TestRemoteStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, remote_client: latentspace.Client) -> Iterator[LatentspaceVectorStore]:  # type: ignore[override]
        yield from fresh_store(remote_client, self.get_embeddings())
