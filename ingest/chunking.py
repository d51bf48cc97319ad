"""Token-aware chunking: split a document into overlapping pieces that fit an embedder's window.

Each document is tokenised once (a fast tokenizer's offset mapping gives every token's char span) and
cut only at token boundaries, preferring paragraph > sentence/line > whitespace breaks. Because a
substring can tokenise differently from the same characters in context (a mid-word cut turns
``##ffa`` into ``ffa``), every multi-chunk result is re-encoded in one batch call and any chunk over
budget is split again. Cost is therefore about two tokeniser passes per long document, none for
documents that already fit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput

Span = tuple[int, int]

# How good a place the gap before a token is to cut at; higher is better.
_NO_BREAK, _SPACE, _SENTENCE, _PARAGRAPH = 0, 1, 2, 3
_SENTENCE_END = frozenset(".!?")
_CLOSERS = frozenset("\"')]}»”’")
_WORD = re.compile(r"\S+")
_MAX_RESPLIT_DEPTH = 6

# How a collection turns a document into embedded pieces, fixed when the collection is created:
# ``split``: token-aware overlapping chunks, every token embedded (the default);
# ``truncate``: one chunk holding the whole text, whose vector is the model's view of its first
# ``max_seq_length`` tokens (what a plain ``model.encode`` does). Faster on long documents; the text
# past the window is stored, returned and BM25-indexed, but does not shape the dense vector.
CHUNKING_MODES = ("split", "truncate")
DEFAULT_CHUNKING = "split"


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: ``document_text[start:end] == text``."""

    ordinal: int
    text: str
    start: int
    end: int


def chunk_text(text: str, tokenizer: Any, max_tokens: int, overlap: int) -> list[Chunk]:
    """Split ``text`` into chunks that each encode to at most ``max_tokens`` tokens incl. special tokens.

    ``overlap`` is the approximate number of tokens consecutive chunks share. Empty text gives ``[]``;
    text that fits gives one chunk equal to ``text.strip()``.
    """
    return chunk_texts([text], tokenizer, max_tokens, overlap)[0]


def chunk_texts(texts: Sequence[str], tokenizer: Any, max_tokens: int, overlap: int) -> list[list[Chunk]]:
    """Batch form of :func:`chunk_text`; one tokenizer call for all texts (fast tokenizers parallelise it)."""
    budget = _token_budget(tokenizer, max_tokens, overlap)
    if not texts:
        return []
    bounds = [_strip_bounds(t) for t in texts]
    stripped = [t[a:b] for t, (a, b) in zip(texts, bounds, strict=True)]
    offsets = _token_offsets(stripped, tokenizer)
    plans = [_plan(s, o, budget, overlap) for s, o in zip(stripped, offsets, strict=True)]
    plans = _enforce_budget(stripped, plans, tokenizer, max_tokens, overlap, depth=0)
    return [
        [Chunk(i, c.text, c.start + a, c.end + a) for i, c in enumerate(plan)]
        for plan, (a, _) in zip(plans, bounds, strict=True)
    ]


def whole_text_chunks(texts: Sequence[str]) -> list[list[Chunk]]:
    """The ``truncate`` mode's pieces: each text, stripped, as its only chunk (``[]`` when empty)."""
    result = []
    for text in texts:
        start, end = _strip_bounds(text)
        result.append([Chunk(0, text[start:end], start, end)] if end > start else [])
    return result


def collection_chunking(options: dict[str, Any] | None) -> str:
    """A collection's chunking mode from its stored options (collections made before the option: split)."""
    return (options or {}).get("chunking", DEFAULT_CHUNKING)


def check_chunking(mode: str) -> str:
    if mode not in CHUNKING_MODES:
        raise InvalidInput(f"unknown chunking {mode!r}; choose one of {list(CHUNKING_MODES)}")
    return mode


def require_chunking(name: str, options: dict[str, Any] | None, chunking: str | None) -> None:
    """Refuse another chunking for an existing collection: its stored chunks and vectors were made with its own."""
    if chunking is None:
        return
    current = collection_chunking(options)
    if check_chunking(chunking) != current:
        raise InvalidInput(
            f"collection {name!r} uses chunking {current!r}, not {chunking!r}; "
            "chunking is set when a collection is created"
        )


def _token_budget(tokenizer: Any, max_tokens: int, overlap: int) -> int:
    budget = max_tokens - tokenizer.num_special_tokens_to_add(pair=False)
    if budget < 1:
        raise InvalidInput(f"max_tokens={max_tokens} leaves no room for text after special tokens")
    if not 0 <= overlap < budget:
        raise InvalidInput(f"overlap must be in [0, {budget}) for max_tokens={max_tokens}, got {overlap}")
    return budget


def _strip_bounds(text: str) -> Span:
    start = len(text) - len(text.lstrip())
    return start, max(start, len(text.rstrip()))


def _token_offsets(texts: list[str], tokenizer: Any) -> list[list[Span]]:
    """Char span of every (non-special) token of each text."""
    if not getattr(tokenizer, "is_fast", False):
        return [_approximate_offsets(t, tokenizer) for t in texts]
    encoded = tokenizer(
        texts,
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,  # documents are longer than model_max_length on purpose; no warning
    )
    return [[tuple(span) for span in spans] for spans in encoded["offset_mapping"]]


def _approximate_offsets(text: str, tokenizer: Any) -> list[Span]:
    """Offsets for slow tokenizers: tokenise word by word and share each word's chars among its pieces.

    Spans inside a word are estimates; the budget check after planning corrects any that mislead.
    """
    pieces_of: dict[str, list[str]] = {}
    offsets: list[Span] = []
    for match in _WORD.finditer(text):
        word = match.group()
        pieces = pieces_of.get(word)
        if pieces is None:
            pieces = pieces_of[word] = tokenizer.tokenize(word)
        cursor, word_end = match.start(), match.end()
        for k, piece in enumerate(pieces):
            width = max(1, len(piece.lstrip("#▁Ġ")))
            end = word_end if k == len(pieces) - 1 else min(cursor + width, word_end)
            offsets.append((cursor, end))
            cursor = end
    return offsets


def _plan(text: str, offsets: list[Span], budget: int, overlap: int) -> list[Chunk]:
    """Greedy token-window layout: fill up to ``budget``, cut at the best break in the back half."""
    n = len(offsets)
    if n <= budget:
        return [Chunk(0, text, 0, len(text))] if text else []
    scores = _break_scores(text, offsets)
    min_len = max(budget // 2, overlap + 1)  # > overlap, so every window moves forward
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = n if n - start <= budget else _best(scores, start + min_len, start + budget, latest=True)
        chunks.append(_span_chunk(text, len(chunks), offsets[start][0], offsets[end - 1][1]))
        if end == n:
            return [c for c in chunks if c.text]
        start = end if overlap == 0 else _best(scores, max(end - overlap, start + 1), end - overlap // 2 - 1)


def _break_scores(text: str, offsets: list[Span]) -> list[int]:
    """``scores[i]`` rates cutting just before token ``i``."""
    scores = [_NO_BREAK] * (len(offsets) + 1)
    for i in range(1, len(offsets)):
        gap_start, gap_end = offsets[i - 1][1], offsets[i][0]
        if gap_end <= gap_start:
            continue  # tokens touch: inside a word or before punctuation
        gap = text[gap_start:gap_end]
        if gap.count("\n") >= 2:
            scores[i] = _PARAGRAPH
        elif "\n" in gap or _ends_sentence(text, gap_start):
            scores[i] = _SENTENCE
        elif any(ch.isspace() for ch in gap):
            scores[i] = _SPACE
    return scores


def _ends_sentence(text: str, pos: int) -> bool:
    before = text[max(0, pos - 2) : pos]
    if before[-1:] in _CLOSERS:
        before = before[:-1]
    return before[-1:] in _SENTENCE_END


def _best(scores: list[int], lo: int, hi: int, latest: bool = False) -> int:
    """Index in ``[lo, hi]`` with the best score; ties go to the latest (or earliest) index."""
    hi = max(lo, hi)
    if latest:
        return max(range(lo, hi + 1), key=lambda i: (scores[i], i))
    return max(range(lo, hi + 1), key=lambda i: (scores[i], -i))


def _span_chunk(text: str, ordinal: int, start: int, end: int) -> Chunk:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    return Chunk(ordinal, piece, start + lead, start + lead + len(piece))


def _enforce_budget(
    texts: list[str], plans: list[list[Chunk]], tokenizer: Any, max_tokens: int, overlap: int, depth: int
) -> list[list[Chunk]]:
    """Re-encode every chunk of multi-chunk plans in one call; split again any that exceed ``max_tokens``."""
    to_check = [(d, k) for d, plan in enumerate(plans) if len(plan) > 1 for k in range(len(plan))]
    if not to_check:
        return plans
    ids = tokenizer(
        [plans[d][k].text for d, k in to_check],
        add_special_tokens=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,
    )["input_ids"]
    too_long = {(d, k) for (d, k), row in zip(to_check, ids, strict=True) if len(row) > max_tokens}
    if not too_long:
        return plans
    fixed: list[list[Chunk]] = []
    for d, plan in enumerate(plans):
        pieces: list[Chunk] = []
        for k, chunk in enumerate(plan):
            parts = _resplit(chunk, tokenizer, max_tokens, overlap, depth) if (d, k) in too_long else [chunk]
            pieces.extend(parts)
        fixed.append(_drop_contained(pieces))
    return fixed


def _drop_contained(chunks: list[Chunk]) -> list[Chunk]:
    """Order by span and drop pieces wholly inside another (a re-split piece can fall in an overlap)."""
    kept: list[Chunk] = []
    for chunk in sorted(chunks, key=lambda c: (c.start, -c.end)):
        if not kept or chunk.end > kept[-1].end:
            kept.append(Chunk(len(kept), chunk.text, chunk.start, chunk.end))
    return kept


def _resplit(chunk: Chunk, tokenizer: Any, max_tokens: int, overlap: int, depth: int) -> list[Chunk]:
    """Chunk an over-budget chunk on its own tokenisation; returns spans in the parent's coordinates."""
    if depth >= _MAX_RESPLIT_DEPTH:
        return _halve(chunk, tokenizer, max_tokens)
    budget = _token_budget(tokenizer, max_tokens, 0)
    sub_overlap = min(overlap, budget // 4)
    plan = _plan(chunk.text, _token_offsets([chunk.text], tokenizer)[0], budget, sub_overlap)
    if len(plan) < 2:  # tokenises within budget on its own after all; halve to guarantee progress
        return _halve(chunk, tokenizer, max_tokens)
    plan = _enforce_budget([chunk.text], [plan], tokenizer, max_tokens, sub_overlap, depth + 1)[0]
    return [Chunk(0, c.text, c.start + chunk.start, c.end + chunk.start) for c in plan]


def _halve(chunk: Chunk, tokenizer: Any, max_tokens: int) -> list[Chunk]:
    """Last resort for pathological tokenisers: split by characters until each piece fits."""
    count = len(tokenizer(chunk.text, add_special_tokens=True, verbose=False)["input_ids"])
    if count <= max_tokens or len(chunk.text) < 2:
        return [chunk]
    mid = len(chunk.text) // 2
    halves = [
        _span_chunk(chunk.text, 0, 0, mid),
        _span_chunk(chunk.text, 0, mid, len(chunk.text)),
    ]
    out: list[Chunk] = []
    for half in halves:
        if half.text:
            shifted = Chunk(0, half.text, half.start + chunk.start, half.end + chunk.start)
            out.extend(_halve(shifted, tokenizer, max_tokens))
    return out
