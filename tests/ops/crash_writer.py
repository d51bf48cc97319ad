"""Bodies of the kill -9 tests' writer processes: ingest small batches of seeded vectors until killed;
save fitted latent models (maps) over each other until killed.

The writer runs in a process forked from a multiprocessing forkserver that has imported this module
once, so each trial costs a fork rather than a Python start. The test is about storage/index
consistency, so every vector is precomputed and the writer loads only the real MiniLM tokenizer
(for chunking), not the model.
"""

from __future__ import annotations

import itertools
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from core.settings import Settings
from ingest.embedders import resolve_model_path
from ingest.readers import SourceDocument
from latent.maps import FittedMap
from services.engine import Engine
from tests.ops.conftest import DIM, unit_vectors

MODEL = "all-MiniLM-L6-v2"
DOCS = 5000
BATCH = 7  # documents per ingest call (one commit + one index save)


class FastTokenizer:
    """The subset of a transformers fast tokenizer that ingest/chunking.py calls, over ``tokenizers``."""

    is_fast = True

    def __init__(self, path: Path) -> None:
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.post_processor.num_special_tokens_to_add(pair)

    def __call__(self, texts: list[str], add_special_tokens: bool = True, **_options: Any) -> dict[str, list]:
        encoded = self._tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encoded], "offset_mapping": [e.offsets for e in encoded]}


class TokenizerOnlyEmbedder:
    """MiniLM's name, dimension and tokenizer; embedding is refused (every vector is given)."""

    name, dim, version, max_tokens = MODEL, DIM, "tokenizer-only", 256

    def __init__(self) -> None:
        self.tokenizer = FastTokenizer(Path(resolve_model_path(MODEL)) / "tokenizer.json")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:  # the pipeline calls it even when every chunk came with a vector
            return np.zeros((0, self.dim), dtype=np.float32)
        raise RuntimeError(f"the crash writer embeds nothing; {len(texts)} texts came without a vector")

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class TokenizerOnlyEmbedders:
    """Stands in for ``EmbedderCache`` in the writer process."""

    def __init__(self) -> None:
        self._embedder = TokenizerOnlyEmbedder()

    def get(self, name: str, backend: str = "torch") -> TokenizerOnlyEmbedder:
        if name != MODEL:
            raise ValueError(f"the crash writer only has {MODEL}, not {name!r}")
        return self._embedder


def ingest_until_killed(data_dir: str, start: int, progress: Connection) -> None:
    """Send the first document number of every committed batch to ``progress``, forever (until killed).

    An error is sent as its traceback (a string), so the test can show why the writer stopped.
    """
    try:
        engine = Engine(Settings(data_dir=Path(data_dir), _env_file=None), embedders=TokenizerOnlyEmbedders())
        engine.create_collection("crash", exist_ok=True)
        vectors = unit_vectors(DOCS, seed=1)
        for first in range(start, DOCS, BATCH):
            ids = range(first, min(first + BATCH, DOCS))
            docs = [SourceDocument(f"d{i}", f"document number {i}", None, {"i": i}) for i in ids]
            engine.ingest("crash", docs, vectors={f"d{i}": vectors[i] for i in ids})
            progress.send(first)
    except Exception:
        progress.send(traceback.format_exc())
        raise


MAP_POINTS = 20_000  # ~30 MB of arrays per save, so a kill often lands mid-write


def latent_maps() -> list[FittedMap]:
    """Two different maps (k-NN maps keep their fitted vectors: large files), the same in every process."""
    maps = []
    for seed in (1, 2):
        basis = unit_vectors(MAP_POINTS, seed=seed)
        anchors = np.random.default_rng(seed).normal(size=(MAP_POINTS, 2)).astype(np.float32)
        maps.append(FittedMap("umap", np.zeros(0, np.float32), basis, anchors))
    return maps


def save_maps_until_killed(directory: str, progress: Connection) -> None:
    """Save the two maps of :func:`latent_maps` to ``directory`` in turn; send the number of each finished save."""
    try:
        maps = latent_maps()
        for number in itertools.count():
            maps[number % 2].save(Path(directory))
            progress.send(number)
    except Exception:
        progress.send(traceback.format_exc())
        raise
