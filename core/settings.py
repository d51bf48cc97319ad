"""Runtime configuration, read from ``LATENTSPACE_*`` environment variables and a ``.env`` file.

Nothing is read at import time: call :func:`get_settings` (or build :class:`Settings` directly in tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import InvalidSettings

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_IMAGE_MODEL = "clip-ViT-B-32"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LATENTSPACE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Directory for the SQLite file and index files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file latentspace.db inside data_dir."
    )
    default_model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model for new collections: the bundled all-MiniLM-L6-v2, "
        "a sentence-transformers model name, or a local path.",
    )
    embed_batch_size: int | None = Field(
        None, ge=1, le=4096,
        description="Texts per model call; unset: each backend's measured default (torch 64, ONNX 16, images 64).",
    )
    ingest_batch_docs: int = Field(256, ge=1, description="Documents read per pipeline batch.")
    chunk_tokens: int | None = Field(
        None, ge=16, description="Max tokens per chunk; default: the model's max sequence length."
    )
    chunk_overlap: int = Field(32, ge=0)
    index_kind: str | None = Field(
        None, description="Index backend for new collections; default chosen by collection size."
    )
    index_params: dict[str, Any] = Field(default_factory=dict)
    exact_threshold: int = Field(
        20_000, ge=0, description="Below this many vectors the default index is exact search."
    )
    hit_cache_entries: int = Field(
        200_000, ge=0, description="Chunk rows kept in memory for search results (0: always read SQL)."
    )
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_batch_documents: int = Field(1000, ge=1)
    max_k: int = Field(1000, ge=1)
    max_query_chars: int = Field(4096, ge=1)
    default_search_mode: str | None = Field(
        None, pattern="^(dense|lexical|hybrid)$", description="Default: hybrid when a lexical index exists."
    )
    fusion: str = Field("convex", pattern="^(rrf|convex)$", description="How hybrid search fuses the signals.")
    fusion_weight: float = Field(0.5, ge=0.0, le=1.0, description="Convex fusion: the dense share.")
    fusion_normalisation: str = Field(
        "minmax", pattern="^(zscore|minmax)$", description="Convex fusion: how each signal's scores are scaled."
    )
    rrf_k: float = Field(60.0, ge=0.0, description="Reciprocal rank fusion constant.")
    fusion_depth: int = Field(100, ge=1, description="Candidates each signal contributes to hybrid search.")
    allow_anonymous_read: bool = Field(
        False, description="When API keys exist, still let requests without a key read (local use)."
    )
    snapshot_dir: Path | None = Field(None, description="Where snapshots go; default: data_dir/snapshots.")
    log_format: str = Field("json", pattern="^(json|text)$", description="`latentspace serve` log lines.")
    image_model: str = Field(
        DEFAULT_IMAGE_MODEL,
        description="CLIP-family model for new image collections: a sentence-transformers name or a local path.",
    )
    image_max_pixels: int = Field(
        40_000_000, ge=1, description="Images with more pixels are refused (decompression bombs)."
    )
    image_max_bytes: int = Field(
        15 * 1024 * 1024, ge=1024, description="Largest image file accepted by ingest and upload."
    )
    max_upload_files: int = Field(64, ge=1, description="Files per image upload request.")
    thumbnail_size: int = Field(256, ge=16, le=2048, description="Thumbnail bounding box, in pixels.")
    host: str = "127.0.0.1"
    port: int = 8000
    # -- embedding threads and query cache (issue 14) ---------------------------------------------------
    embed_query_threads: int = Field(
        1, ge=1, description="torch threads for queries and small batches (see embed_small_batch)."
    )
    embed_batch_threads: int = Field(
        0, ge=0, description="torch threads for larger batches (ingest); 0: torch's default, every core."
    )
    embed_small_batch: int = Field(8, ge=1, description="Batches of at most this many texts count as small.")
    embedding_backend: str = Field(
        "onnx-int8",
        pattern="^(torch|onnx|onnx-int8)$",
        description=(
            "How new text collections run their model: onnx-int8 (default: fastest, SciFact nDCG within 0.002 of "
            "torch), onnx (fp32, torch's vectors) or torch."
        ),
    )
    query_cache_entries: int = Field(
        1024, ge=0, description="Query texts whose vectors each model keeps (LRU; 0 turns the cache off)."
    )
    # -- write limits (issue 18, class 5) --------------------------------------------------------------
    max_document_chars: int = Field(
        1_000_000,
        ge=1,
        description="Longest document text accepted, in characters: the API answers 413 (nothing written), "
        "the CLI reports the file as failed and goes on. Bounds the work one document does under the write lock.",
    )
    # --- auth and HTTP layer (issue 18: scopes, key checks) ---
    auth: str = Field(
        "auto",
        pattern="^(auto|on|off)$",
        description="API keys: auto = required once any key was ever created (revoked ones count, so "
        "revoking never reopens the API); on = always required; off = never checked (admin included).",
    )
    auth_max_concurrent_verifications: int = Field(
        2, ge=1, le=64, description="Argon2 key verifications run at once; more wait (cached keys never do)."
    )
    auth_max_pending_verifications: int = Field(
        256, ge=1, description="Key verifications queued or running before further ones get 503 + Retry-After."
    )
    # --- filtered search: the in-memory payload index (issue 17, part B) ---
    payload_index: bool = Field(
        True,
        description="Answer metadata filters from an in-memory index per collection (services/sync/payload.py) "
        "instead of SQL over the JSON column; SQL stays the fallback for what it cannot answer.",
    )

    # -- scale-out on Ray (issue 13) ------------------------------------------------------------------
    cluster_follow_interval: float = Field(
        1.0, gt=0, description="Seconds between a shard's reads of the change log (how soon writes are searchable)."
    )
    cluster_shard_timeout: float = Field(
        10.0, gt=0, description="Seconds the ingress waits for a shard before counting it as down (503 / partial)."
    )
    cluster_save_interval: float = Field(
        30.0, ge=0, description="Seconds between a shard's saves of the indexes it changed while following."
    )
    cluster_replica_cpus: float = Field(
        0.5, gt=0, description="Ray CPUs reserved per shard replica (and per embedding actor of --ray ingest)."
    )

    # issue 17 (HTTP path, workers): `latentspace serve` processes; None = one per core this process may use
    workers: int | None = Field(None, ge=1, le=64, description="Worker processes of `latentspace serve`.")

    # issue 13 (sharded search throughput): how many fan-outs of one collection's unfiltered searches the
    # ingress keeps under way at once; concurrent searches queue behind them and share the next one
    cluster_fanout_inflight: int = Field(
        1, ge=1, le=64, description="Concurrent shard fan-outs per collection; more searches ride along in them."
    )

    # issue 17 (memory of serve --workers N): what the parent loads before it forks the workers (docs/SERVING.md)
    prefork_hit_table_mb: int = Field(
        128, ge=0, description="Largest table of hit rows (text, ids, metadata of every chunk) the parent builds "
        "before forking workers, in MB; collections that do not fit are skipped; 0: no table.",
    )
    prefork_lexical: bool = Field(
        False, description="Also load every BM25 index in the parent before forking workers (shared, but it "
        "costs memory even when no lexical or hybrid search comes).",
    )

    # issue 13 (sharded dense search throughput): while searches are concurrent, a fan-out's leader waits up
    # to this many milliseconds for more searches to ride with it (services/cluster/coalesce.py); 0 = off
    cluster_fanout_window_ms: float = Field(
        1.0, ge=0, le=100, description="Milliseconds a shard fan-out waits for concurrent searches to ride along."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'latentspace.db').resolve()}"

    def snapshots_dir(self) -> Path:
        return self.snapshot_dir or self.data_dir / "snapshots"

    def index_dir(self) -> Path:
        return self.data_dir / "indexes"


def get_settings(**overrides: Any) -> Settings:
    """The settings from the environment, ``.env`` and ``overrides``; a value that does not validate raises
    :class:`InvalidSettings` naming the variable, e.g. ``LATENTSPACE_EMBED_BATCH_SIZE=0``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"LATENTSPACE_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSettings(f"invalid setting: {problems}") from None
