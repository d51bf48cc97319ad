"""Request and response bodies of the HTTP API (OpenAPI examples included)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# NaN and Infinity are not JSON (Python's parser accepts them anyway): refused with a 422 that says "finite".
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "papers"}]})

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    model: str | None = Field(
        None,
        max_length=512,
        description="sentence-transformers name or local path; omitted: the default model; null: no model "
        "(every document brings its own 'vector' of 'dimension' values)",
    )
    dimension: int | None = Field(
        None, ge=1, le=65_536, description="vector length: required with model null, else checked against the model"
    )
    index_kind: str | None = Field(
        None, description="exact | faiss_hnsw | faiss_ivf | hnswlib; default by size"
    )
    index_params: dict[str, Any] | None = None
    modality: str = Field(
        "text", pattern="^(text|image|multimodal)$", description="image/multimodal use a CLIP-family model"
    )
    chunking: Literal["split", "truncate"] = Field(
        "split",
        description="split: token-aware overlapping chunks, every token embedded; truncate: one chunk per "
        "document whose vector covers the model's first max_seq_length tokens (faster on long texts)",
    )
    backend: Literal["torch", "onnx", "onnx-int8"] | None = Field(
        None,
        description="How the model runs: torch, onnx (fp32, the same vectors as torch) or onnx-int8 "
        "(quantized); default LATENTSPACE_EMBEDDING_BACKEND. Fixed when the collection is created.",
    )


class CollectionOut(BaseModel):
    name: str
    modality: str
    model: str | None  # null: a bring-your-own-vector collection
    dimension: int
    model_version: str
    index_kind: str
    index_params: dict[str, Any]
    documents: int
    chunks: int
    indexed_vectors: int
    created_at: str
    options: dict[str, Any] = {}


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=512)
    text: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[FiniteFloat] | None = Field(None, description="precomputed vector; skips embedding")


class DocumentBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "documents": [
                        {
                            "id": "doc-1",
                            "text": "Vaccines train the immune system.",
                            "metadata": {"year": 2021, "lang": "en"},
                        }
                    ]
                }
            ]
        },
    )

    documents: list[DocumentIn] = Field(min_length=1)


class IngestOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    failed: int
    pruned: int
    chunks_embedded: int
    errors: list[str]


class DocumentOut(BaseModel):
    id: str
    source_uri: str | None
    content_hash: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    chunks: int
    text: str | None = None


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int
    offset: int
    limit: int


class SearchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "how do vaccines work", "k": 5, "filter": {"year": {"$gte": 2000}}},
                {"vector": [0.1, 0.2, 0.3], "k": 3},
            ]
        },
    )

    query: str | None = Field(None, description="text to search by meaning")
    vector: list[FiniteFloat] | None = Field(None, description="a raw query vector of the collection's dimension")
    k: int = Field(10, ge=1)
    filter: dict[str, Any] | None = Field(
        None, description='metadata filter: {"f": v}, {"f": {"$in": [..]}}, {"f": {"$gte": 1, "$lt": 5}}'
    )
    group_by_document: bool = True
    mode: Literal["dense", "lexical", "hybrid"] | None = Field(
        None, description="default: hybrid for text queries when the collection has a lexical index"
    )
    fusion: Literal["rrf", "convex"] | None = Field(None, description="hybrid fusion; default from settings")
    weight: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False, description="convex fusion: the dense share, in [0, 1]"
    )
    normalisation: Literal["zscore", "minmax"] | None = Field(None, description="convex fusion score scaling")
    rrf_k: float | None = Field(None, ge=0.0, allow_inf_nan=False, description="reciprocal rank fusion constant")
    explain: bool = Field(False, description="return each hit's per-signal ranks and scores")
    diversity: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False, description="MMR diversification; 0 = off")
    allow_partial: bool = Field(
        False, description="cluster mode: when a shard is down, answer from the others (partial: true) instead of 503"
    )


class HitOut(BaseModel):
    id: str
    score: float
    text: str
    chunk: int
    char_start: int
    char_end: int
    source_uri: str | None
    metadata: dict[str, Any]
    mode: str
    explain: dict[str, Any] | None = None


# What api/routers/search.py renders of each hit, without a response model: exactly HitOut's fields, in
# order (tests/api/test_search_render.py checks that a rendered body validates as SearchOut).
HIT_FIELDS: tuple[str, ...] = tuple(HitOut.model_fields)


class ShardsOut(BaseModel):
    answered: int
    total: int


class SearchOut(BaseModel):
    hits: list[HitOut]
    mode: str
    took_ms: float
    # cluster mode only (issue 13; left out of single-process answers)
    index_seq: int | None = Field(None, description="cluster: the change-log seq every answering shard had reached")
    shards: ShardsOut | None = None
    partial: bool | None = Field(None, description="cluster: true when some shard did not answer")
