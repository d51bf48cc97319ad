"""The types every search path shares: the request, a hit, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store import repositories as repo


@dataclass
class SearchRequest:
    query: str | None = None
    vector: list[float] | None = None
    k: int = 10
    filter: dict[str, Any] | None = None
    group_by_document: bool = True
    mode: str | None = None  # dense | lexical | hybrid; default hybrid when a lexical index exists
    fusion: str | None = None  # rrf | convex; default from settings
    weight: float | None = None  # convex: the dense share in [0, 1]
    normalisation: str | None = None  # convex: zscore | minmax; default from settings
    rrf_k: float | None = None
    explain: bool = False
    diversity: float = 0.0  # MMR trade-off in [0, 1]; 0 keeps the relevance ranking
    allow_partial: bool = False  # cluster mode (issue 13): answer from the shards that answered


@dataclass
class Hit:
    id: str  # the document's external id
    score: float  # dense: cosine similarity; lexical: BM25; hybrid: the fused score
    text: str  # the best-matching chunk
    chunk: int
    char_start: int
    char_end: int
    source_uri: str | None
    metadata: dict[str, Any]
    mode: str = "dense"
    explain: dict[str, Any] | None = None  # per-signal rank and score, when asked

    @classmethod
    def from_row(cls, row: repo.ChunkHit, score: float, mode: str = "dense", explain: dict | None = None) -> Hit:
        """A hit from a hydrated chunk row (services/search/common.py chunk_hits)."""
        return cls(
            id=row.external_id,
            score=score,
            text=row.text,
            chunk=row.ordinal,
            char_start=row.char_start,
            char_end=row.char_end,
            source_uri=row.source_uri,
            metadata=row.metadata,
            mode=mode,
            explain=explain,
        )


@dataclass
class SearchResult:
    hits: list[Hit] = field(default_factory=list)
    mode: str = "dense"
    total_candidates: int | None = None
    # cluster mode (issue 13): {"index_seq", "shards": {"answered", "total"}, "partial"}; None otherwise
    cluster: dict[str, Any] | None = None
