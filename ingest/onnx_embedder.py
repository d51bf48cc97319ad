"""Embedding with ONNX Runtime: the ``onnx`` (fp32) and ``onnx-int8`` backends of a collection.

The transformer runs in ONNX Runtime (exported once by ingest/onnx_export.py); mean pooling over the
attention mask and L2 normalisation follow the model's own sentence-transformers config, so fp32 vectors
equal torch's (within 1e-5, tests/ingest/test_onnx_backend.py). Two sessions keep the thread policy of
ingest/embedder_base.py: queries and small batches on ``small_threads`` threads, larger batches on
``batch_threads``; neither spins while waiting for work.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelUnavailable
from ingest.embedder_base import (
    QueryCache,
    ThreadPolicy,
    model_fingerprint,
    resolve_model_path,
    token_length_order,
)
from ingest.onnx_export import INPUTS, ensure_export, ort_session

BACKEND_VARIANTS = {"onnx": "fp32", "onnx-int8": "int8"}


def pooling_config(model_path: Path) -> tuple[int, bool]:
    """(dimension, normalise) of a mean-pooling sentence-transformers model; ModelUnavailable otherwise."""
    try:
        modules = json.loads((model_path / "modules.json").read_text())
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((model_path / pooling_dir / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError) as exc:
        raise ModelUnavailable(f"the ONNX backends need a local sentence-transformers model, not {model_path}") from exc
    modes = {key for key, on in pooling.items() if key.startswith("pooling_mode") and on}
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if modes != {"pooling_mode_mean_tokens"} or set(kinds) - {"Transformer", "Pooling", "Normalize"}:
        raise ModelUnavailable(f"the ONNX backends support mean-pooling models only; {model_path} has {kinds}")
    return int(pooling["word_embedding_dimension"]), "Normalize" in kinds


class OnnxEmbedder:
    def __init__(
        self,
        name: str,
        backend: str,
        export_root: Path,
        batch_size: int = 64,
        threads: ThreadPolicy | None = None,
        query_cache: int = 1024,
    ) -> None:
        from transformers import AutoTokenizer

        path = Path(resolve_model_path(name))
        self.name, self.backend, self.batch_size = name, backend, batch_size
        self.dim, self._normalise = pooling_config(path)
        config = json.loads((path / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config.get("max_seq_length", 512))
        self.version = model_fingerprint(str(path))
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        self._file = ensure_export(str(path), export_root, self.version, BACKEND_VARIANTS[backend])
        self._threads = threads or ThreadPolicy()
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.queries = QueryCache(query_cache)

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def _session(self, threads: int) -> Any:
        if threads not in self._sessions:
            self._sessions[threads] = ort_session(self._file, threads)
        return self._sessions[threads]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:  # a truncating fast tokenizer changes its own state: one caller at a time
            session = self._session(self._threads.threads_for(len(texts)))
            order = token_length_order(self._tokenizer, texts, self.max_tokens)
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors[batch] = self._run(session, [texts[i] for i in batch])
        return vectors

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:  # noqa: ANN401
        limit = self.max_tokens
        encoded = self._tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="np")
        feed = {
            name: np.asarray(encoded[name] if name in encoded else np.zeros_like(encoded["input_ids"]), dtype=np.int64)
            for name in INPUTS
        }
        hidden = session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self._normalise:
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.queries.get(text, lambda: self.embed_documents([text])[0])
