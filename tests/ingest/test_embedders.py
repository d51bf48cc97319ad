"""The sentence-transformers embedder with the real bundled model: batching by token length keeps input order."""

from __future__ import annotations

import numpy as np

from ingest.embedder_base import token_length_order


def test_embed_documents_returns_each_texts_own_vector_in_input_order(embedders) -> None:  # noqa: ANN001
    embedder = embedders.get("all-MiniLM-L6-v2")
    # Character length and token count disagree on purpose (digits split into many tokens), across batches.
    texts = [("word " * (i % 7 + 1)) + ("1 2 3 4 5 6 7 8 9 " * (i % 5)) for i in range(2 * embedder.batch_size + 5)]
    texts += ["x" * 3000, "short"]  # one text past the window (truncated), one tiny
    batched = embedder.embed_documents(texts)
    one_by_one = np.vstack([embedder.embed_query(t) for t in texts])
    assert batched.shape == (len(texts), embedder.dim) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, one_by_one, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    order = token_length_order(embedder.tokenizer, texts, embedder.max_tokens)
    encoded = embedder.tokenizer(texts, truncation=True, max_length=embedder.max_tokens)["input_ids"]
    lengths = [len(ids) for ids in encoded]
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    assert embedder.embed_documents([]).shape == (0, embedder.dim)
