"""CLIP-family embedders: one vector space for texts (text tower) and pictures (image tower).

Any sentence-transformers model whose first module accepts the ``image`` modality qualifies (the
``clip-ViT-*`` models, or a CLIP saved locally). :class:`ClipEmbedder` keeps the text ``Embedder``
protocol — so a text query on an image collection goes through the text tower unchanged — and adds
:meth:`ClipEmbedder.embed_images`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from core.errors import InvalidInput, ModelUnavailable
from ingest.embedder_base import Embedder, SentenceTransformerEmbedder

if TYPE_CHECKING:
    from PIL import Image

IMAGE_MODEL_SETTING = "LATENTSPACE_IMAGE_MODEL"


class ModelSource(Protocol):
    """What :func:`load_image_embedder` needs of ingest/embedders.py's EmbedderCache (which imports this module)."""

    def get(self, name: str, backend: str = "torch") -> Embedder: ...


class ImageTower(Protocol):
    """Another runtime for the image tower (ingest/onnx_image.py's OnnxImageTower)."""

    def embed(self, images: list[Image.Image], dim: int) -> np.ndarray: ...


@runtime_checkable
class ImageEmbedder(Embedder, Protocol):
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """RGB PIL images → float32 (len(images), dim), L2-normalised, same space as the texts."""
        ...


class ClipEmbedder:
    """Wraps a loaded sentence-transformers CLIP; texts and images share the model and its lock. With an
    ``image_tower`` (the ``onnx`` backend), images are embedded by it and texts still by torch: a text query
    is a few tokens, the image tower is where the time goes."""

    def __init__(self, text: SentenceTransformerEmbedder, image_tower: ImageTower | None = None) -> None:
        self._text = text
        self._image_tower = image_tower
        self.name = text.name
        self.dim = text.dim
        self.version = text.version
        self.max_tokens = text.max_tokens

    @property
    def tokenizer(self) -> Any:
        return self._text.tokenizer

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._text.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._text.embed_query(text)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._image_tower is not None:
            return self._image_tower.embed(images, self.dim)
        with self._text.encode_lock:
            vectors = self._text.model.encode(
                images,
                batch_size=self._text.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def encodes_images(embedder: SentenceTransformerEmbedder) -> bool:
    supports = getattr(embedder.model, "supports", None)
    return callable(supports) and bool(supports("image"))


def with_image_tower(embedder: SentenceTransformerEmbedder, image_tower: ImageTower | None = None) -> Embedder:
    """A ClipEmbedder when the loaded model also encodes images; the text embedder unchanged otherwise."""
    return ClipEmbedder(embedder, image_tower) if encodes_images(embedder) else embedder


def load_image_embedder(cache: ModelSource, name: str, backend: str = "torch") -> ImageEmbedder:
    """The CLIP-family model ``name`` run by ``backend``, from ``cache``, with errors that say how to provide one."""
    try:
        embedder = cache.get(name, backend)
    except ModelUnavailable as exc:
        raise ModelUnavailable(
            f"image model {name!r} could not be loaded: {exc.message.split('. ')[0]}. Models are never "
            f'downloaded here: set {IMAGE_MODEL_SETTING} (or pass --model / "model") to a local directory '
            "holding a sentence-transformers CLIP model, e.g. one saved elsewhere with "
            "SentenceTransformer('clip-ViT-B-32').save('/models/clip-ViT-B-32')."
        ) from exc
    return require_image_tower(embedder)


def require_image_tower(embedder: Embedder) -> ImageEmbedder:
    if not isinstance(embedder, ImageEmbedder):
        raise InvalidInput(
            f"model {embedder.name!r} cannot embed images; image search needs a CLIP-family model "
            f"(set {IMAGE_MODEL_SETTING} to one)"
        )
    return embedder
