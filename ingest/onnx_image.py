"""A CLIP image tower run by ONNX Runtime: what the ``onnx`` backend of an image collection uses.

Pixels are made by the model's own processor (sentence-transformers' ``preprocess``, exactly what a torch
encode feeds the model); the tower (exported once by ingest/onnx_export.py, variant ``image-fp32``) gives the
projected embedding, L2-normalised here as torch's encode does, so the vectors equal torch's within 1e-5
(tests/images/test_onnx_images.py). Sessions follow the thread policy: one image (a query) on
``small_threads``, batches on ``batch_threads``; none spins. Only fp32 is offered: int8 CLIP's quality could not
be checked here, where no real CLIP weights exist.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.embedder_base import ThreadPolicy
from ingest.onnx_export import ensure_export, ort_session

if TYPE_CHECKING:
    from PIL import Image


class OnnxImageTower:
    def __init__(
        self,
        model: Any,  # noqa: ANN401  (the loaded SentenceTransformer CLIP: its processor makes the pixels)
        model_path: str,
        export_root: Path,
        fingerprint: str,
        batch_size: int = 64,
        threads: ThreadPolicy | None = None,
    ) -> None:
        self._model = model
        self._file = ensure_export(model_path, export_root, fingerprint, "image-fp32")
        self._batch_size = batch_size
        self._threads = threads or ThreadPolicy()
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _session(self, threads: int) -> Any:  # noqa: ANN401
        with self._lock:
            if threads not in self._sessions:
                self._sessions[threads] = ort_session(self._file, threads)
            return self._sessions[threads]

    def embed(self, images: list[Image.Image], dim: int) -> np.ndarray:
        """RGB images -> float32 (len(images), dim), L2-normalised."""
        vectors = np.empty((len(images), dim), dtype=np.float32)
        session = self._session(self._threads.threads_for(len(images)))
        for start in range(0, len(images), self._batch_size):
            batch = images[start : start + self._batch_size]
            pixels = self._model.preprocess(batch)["pixel_values"]
            out = session.run(None, {"pixel_values": np.asarray(pixels, dtype=np.float32)})[0]
            vectors[start : start + len(batch)] = out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return vectors
