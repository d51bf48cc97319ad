"""Collections without a model: every document brings its own vector (embedded elsewhere: OpenAI, Cohere, ...).

Such a collection stores :data:`NO_MODEL` as its model name and the caller's ``dimension``. The services
treat it through :class:`ProvidedVectors`, an :class:`~ingest.embedder_base.Embedder` that embeds nothing:
asking it to embed a text (a document without a vector, a text query in dense or hybrid mode) is a clear
422 naming what to do instead. BM25 still indexes the documents' texts, so a lexical text search works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InvalidInput

NO_MODEL = ""  # the stored model name of a bring-your-own-vector collection (no model can be called "")
MAX_DIMENSION = 65_536  # the largest vector length a collection may declare (as snapshots accept)


def check_dimension(dimension: Any) -> int:
    """``dimension`` as a vector length in 1..MAX_DIMENSION, else InvalidInput."""
    if type(dimension) is not int or not 0 < dimension <= MAX_DIMENSION:
        raise InvalidInput(f"dimension must be a whole number between 1 and {MAX_DIMENSION}, not {dimension!r}")
    return dimension


class ProvidedVectors:
    """The stand-in model of a collection without one: it knows the dimension and embeds nothing."""

    version = ""
    max_tokens = 0

    def __init__(self, collection: str, dim: int) -> None:
        self.collection = collection
        self.name = NO_MODEL
        self.dim = dim

    @property
    def tokenizer(self) -> Any:  # noqa: ANN401  (no model, no tokenizer: documents arrive with their vector)
        return None

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if texts:
            raise InvalidInput(
                f"collection {self.collection!r} has no model: every document needs its 'vector' "
                f"({self.dim} numbers)"
            )
        return np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        raise InvalidInput(
            f"collection {self.collection!r} has no model, so a text query cannot be embedded: search it by "
            f"'vector' ({self.dim} numbers), or by text with mode 'lexical' (BM25)"
        )
