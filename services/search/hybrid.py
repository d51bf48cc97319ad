"""Lexical and hybrid search (and dense search with ``explain`` or ``diversity``).

Each signal retrieves its top ``depth`` chunks (filters applied inside both indexes); then every candidate
of the union is scored by *both* signals, so fusion never has to guess a missing score: BM25 scores come
from the lexical round, which is given the dense candidates' ids (``LexicalIndexes.candidates``); dense
scores come from the index for the chunks it found, from the lexical round where it could score them (a
cluster's shards hold the vectors), and from the stored vectors for the rest (all of them with
``diversity``, which needs them). With
``group_by_document`` each document takes its best chunk per signal. The fused ranking is optionally
diversified with MMR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InvalidInput
from index import fusion
from index.lexical import lookup, top_k
from services.context import ServiceContext
from services.search.common import chunk_hits, query_vector, stored_vectors
from services.search.types import Hit, SearchRequest, SearchResult
from services.sync.lexical import LexicalRound
from store import repositories as repo
from store.models import Collection

Signals = dict[str, dict[int, float]]  # scores by signal name ("dense", "lexical"), then by chunk or document id


@dataclass
class Candidates:
    """Chunk-level scores per signal, and the stored rows of every candidate chunk."""

    signals: Signals
    rows: dict[int, repo.ChunkHit]
    vectors: dict[int, np.ndarray]


@dataclass
class FusionPlan:
    """How a hybrid search combines its two signals (the request's choices, else the settings')."""

    method: str
    weight: float
    normalise: str
    rrf_k: float

    @classmethod
    def of(cls, ctx: ServiceContext, request: SearchRequest) -> FusionPlan:
        settings = ctx.settings
        method = request.fusion or settings.fusion
        if method not in fusion.FUSIONS:
            raise InvalidInput(f"fusion must be one of {fusion.FUSIONS}, not {method!r}")
        normalise = request.normalisation or settings.fusion_normalisation
        if normalise not in fusion.NORMALISERS:
            raise InvalidInput(f"normalisation must be one of {sorted(fusion.NORMALISERS)}, not {normalise!r}")
        weight = settings.fusion_weight if request.weight is None else request.weight
        rrf_k = settings.rrf_k if request.rrf_k is None else request.rrf_k
        return cls(method, weight, normalise, rrf_k)


def multi_search(
    ctx: ServiceContext, collection: Collection, request: SearchRequest, mode: str, allowed: np.ndarray | None
) -> SearchResult:
    """Lexical or hybrid search (or dense with ``explain``/``diversity``), over ``allowed`` chunk ids if given."""
    how = FusionPlan.of(ctx, request)
    depth = max(ctx.settings.fusion_depth, request.k * 4)
    vector = query_vector(ctx, collection, request) if mode != "lexical" else None
    found = _candidates(ctx, collection, request, vector, mode, depth, allowed)
    signals = _group(found, request.group_by_document)
    if mode == "hybrid":
        fused = fusion.fuse(signals["dense"], signals["lexical"], how.method, how.weight, how.rrf_k, how.normalise)
    else:
        fused = dict(signals[mode])
    order = _order(found, signals, fused, request, mode)
    explained = None
    if request.explain:
        explained = {name: fusion.ranks(signals[name]) for name in ("dense", "lexical") if name in signals}
    hits = [_hit(found, signals, fused, key, mode, explained) for key in order]
    label = f"hybrid:{how.method}" if mode == "hybrid" else mode
    return SearchResult(hits=hits, mode=label, total_candidates=len(fused))


def _candidates(
    ctx: ServiceContext,
    collection: Collection,
    request: SearchRequest,
    vector: np.ndarray | None,
    mode: str,
    depth: int,
    allowed: np.ndarray | None,
) -> Candidates:
    """Each signal's top ``depth`` chunks, then both signals' scores for every chunk of the union."""
    query = request.query
    signals: Signals = {}
    lexical_all: LexicalRound | None = None
    if vector is not None:
        index = ctx.vectors.get(collection)
        limit = len(index) if allowed is None else len(allowed)
        ids, scores = index.search(vector[None, :], max(min(depth, limit), 1), allowed_ids=allowed)
        signals["dense"] = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
    if mode != "dense":
        if ctx.lexical is None:  # the dispatcher refuses such modes first; this guards direct callers
            raise InvalidInput(f"mode {mode!r} needs a lexical index, which is not enabled")
        # Only the lexical top ``depth`` and the dense candidates' BM25 scores, not every matching chunk.
        dense_ids = np.fromiter(signals.get("dense", {}), dtype=np.int64)
        lexical_all = ctx.lexical.candidates(collection, query, depth, allowed, dense_ids, vector)
        ids, scores = top_k(lexical_all.ids, lexical_all.scores, depth, allowed)
        signals["lexical"] = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
    union = sorted(set().union(*signals.values()))
    rows = chunk_hits(ctx, union)
    vectors: dict[int, np.ndarray] = {}
    if vector is not None:
        # The index already scored what it found (the exact inner product); a cluster's lexical round scored
        # the lexical-only candidates on the shards; read the vectors of the rest (of all, for diversity).
        found_dense = signals["dense"]
        brought = lexical_all.dense if lexical_all is not None else {}
        known = {i: brought[i] for i in union if i in brought and i not in found_dense}
        wanted = union if request.diversity else [i for i in union if i not in found_dense and i not in known]
        vectors = stored_vectors(ctx, collection, wanted)
        dense = {i: score for i, score in found_dense.items() if i in rows}
        dense.update((i, score) for i, score in known.items() if i in rows)
        dense.update((i, float(v @ vector)) for i, v in vectors.items() if i not in found_dense and i not in known)
        signals["dense"] = dense
    if "lexical" in signals and lexical_all is not None:
        lexical = lookup(lexical_all.ids, lexical_all.scores, union)
        signals["lexical"] = {i: score for i, score in lexical.items() if score > 0}  # no term matched: not found
    return Candidates(signals, rows, vectors)


def _group(found: Candidates, by_document: bool) -> Signals:
    """Scores per signal keyed by chunk id, or by the document's best chunk id when grouping."""
    if not by_document:
        return {name: {c: s for c, s in sig.items() if c in found.rows} for name, sig in found.signals.items()}
    grouped: Signals = {}
    for name, signal in found.signals.items():
        best: dict[int, tuple[float, int]] = {}
        for chunk_id, score in signal.items():
            row = found.rows.get(chunk_id)
            if row is None:  # deleted after the index answered
                continue
            current = best.get(row.document_id)
            if current is None or (score, -chunk_id) > (current[0], -current[1]):
                best[row.document_id] = (score, chunk_id)
        grouped[name] = {doc: score for doc, (score, _) in best.items()}
        grouped[f"{name}_chunk"] = {doc: float(chunk) for doc, (_, chunk) in best.items()}
    return grouped


def _order(
    found: Candidates, signals: Signals, fused: dict[int, float], request: SearchRequest, mode: str
) -> list[int]:
    """The top ``k`` keys by fused score, or picked by MMR when the request asks for diversity."""
    if not request.diversity:
        return sorted(fused, key=lambda key: (-fused[key], key))[: request.k]
    if mode == "lexical" or not found.vectors:
        raise InvalidInput("diversity needs dense vectors: use mode 'dense' or 'hybrid'")
    shortlist = dict(sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: max(request.k * 5, 50)])
    keys = list(shortlist)
    matrix = fusion.cosine_matrix(np.vstack([found.vectors[_chunk_of(signals, key, "dense")] for key in keys]))
    position = {key: n for n, key in enumerate(keys)}
    return fusion.mmr(shortlist, lambda a, b: float(matrix[position[a], position[b]]), request.k, request.diversity)


def _chunk_of(signals: Signals, key: int, prefer: str) -> int:
    """The chunk that represents ``key`` (a chunk id, or a document id when grouped)."""
    for name in (prefer, "dense", "lexical"):
        chunks = signals.get(f"{name}_chunk")
        if chunks is not None and key in chunks:
            return int(chunks[key])
    return key


def _hit(
    found: Candidates,
    signals: Signals,
    fused: dict[int, float],
    key: int,
    mode: str,
    explain: dict[str, dict[int, int]] | None,
) -> Hit:
    row = found.rows[_chunk_of(signals, key, "dense" if mode != "lexical" else "lexical")]
    details: dict[str, Any] | None = None
    if explain is not None:
        details = {"fused": fused[key]} if mode == "hybrid" else {}
        for name, ranked in explain.items():
            if key in ranked:
                details[name] = {"rank": ranked[key], "score": signals[name][key]}
    return Hit.from_row(row, fused[key], mode, details)
