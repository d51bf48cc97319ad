"""Latent compression of a collection's embeddings: linear (PCA) and a small non-linear autoencoder.

Both map unit vectors (n, D) to codes (n, d') and back. The autoencoder (D → h → d' → h → D, GELU,
trained with torch on CPU) is saved as its weight matrices in .npy files and run by numpy at load time,
so nothing is pickled. A document's outlier score is its reconstruction error: the squared distance
between its (unit, mean-of-chunks) vector and the decoded code — documents the collection's dominant
directions do not explain score high.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidInput, ModelNotFitted
from latent.documents import load_documents
from latent.storage import latent_root, read_meta, write_atomically
from store import repositories as repo

if TYPE_CHECKING:
    from services.engine import Engine

METHODS = ("pca", "autoencoder")


@dataclass
class Compressor:
    """``method`` pca: weights = [mean (D,), components (d', D)]; autoencoder: 4 (W, b) layers."""

    method: str
    weights: list[np.ndarray] = field(default_factory=list)

    @property
    def dim(self) -> int:
        return int(self.weights[1].shape[0] if self.method == "pca" else self.weights[2].shape[1])

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float32)
        if self.method == "pca":
            return (x - self.weights[0]) @ self.weights[1].T
        w1, b1, w2, b2 = self.weights[:4]
        return _gelu(x @ w1 + b1) @ w2 + b2

    def decode(self, codes: np.ndarray) -> np.ndarray:
        z = np.asarray(codes, dtype=np.float32)
        if self.method == "pca":
            return z @ self.weights[1] + self.weights[0]
        w3, b3, w4, b4 = self.weights[4:]
        return _gelu(z @ w3 + b3) @ w4 + b4

    def reconstruction_error(self, vectors: np.ndarray) -> np.ndarray:
        """Squared L2 distance (n,) between each vector and its reconstruction."""
        x = np.asarray(vectors, dtype=np.float32)
        return np.sum((x - self.decode(self.encode(x))) ** 2, axis=1)

    def save(self, directory: Path) -> None:
        for i, w in enumerate(self.weights):
            np.save(directory / f"w{i}.npy", w)
        meta = {"method": self.method, "dim": self.dim, "arrays": len(self.weights)}
        (directory / "model.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> Compressor:
        meta = read_meta(directory)
        weights = [np.load(directory / f"w{i}.npy", allow_pickle=False) for i in range(meta["arrays"])]
        return cls(meta["method"], weights)


def _gelu(x: np.ndarray) -> np.ndarray:
    # tanh approximation, matching torch.nn.GELU(approximate="tanh") used in training
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def fit_pca(vectors: np.ndarray, dim: int) -> Compressor:
    x = np.asarray(vectors, dtype=np.float32)
    _check_dim(x, dim)
    mean = x.mean(axis=0)
    _u, _s, vt = np.linalg.svd(x - mean, full_matrices=False)
    return Compressor("pca", [mean.astype(np.float32), vt[:dim].astype(np.float32)])


def fit_autoencoder(
    vectors: np.ndarray, dim: int, hidden: int = 256, epochs: int = 30, seed: int = 0
) -> Compressor:
    """Train D → hidden → dim → hidden → D on CPU with Adam and MSE; deterministic for a seed."""
    import torch
    from torch import nn

    x_np = np.asarray(vectors, dtype=np.float32)
    _check_dim(x_np, dim)
    torch.manual_seed(seed)
    size = x_np.shape[1]
    encoder = nn.Sequential(nn.Linear(size, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
    decoder = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, size))
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimiser = torch.optim.Adam(params, lr=2e-3)
    x = torch.from_numpy(x_np)
    generator = torch.Generator().manual_seed(seed)
    for _epoch in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(256):
            optimiser.zero_grad()
            loss = ((decoder(encoder(x[batch])) - x[batch]) ** 2).sum(dim=1).mean()
            loss.backward()
            optimiser.step()
    layers = [encoder[0], encoder[2], decoder[0], decoder[2]]
    weights: list[np.ndarray] = []
    for layer in layers:
        weights += [layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()]
    return Compressor("autoencoder", weights)


def _check_dim(x: np.ndarray, dim: int) -> None:
    if x.ndim != 2 or len(x) < 2:
        raise InvalidInput("compression needs at least 2 vectors")
    if not 1 <= dim < x.shape[1]:
        raise InvalidInput(f"compressed dimension must be between 1 and {x.shape[1] - 1}, got {dim}")
    if dim > len(x):
        raise InvalidInput(f"compressed dimension {dim} is larger than the number of vectors ({len(x)})")


def fit_compressor(vectors: np.ndarray, method: str, dim: int, seed: int = 0, epochs: int = 30) -> Compressor:
    if method not in METHODS:
        raise InvalidInput(f"unknown compression method {method!r}; choose one of {list(METHODS)}")
    return fit_pca(vectors, dim) if method == "pca" else fit_autoencoder(vectors, dim, epochs=epochs, seed=seed)


def _directory(engine: Engine, collection_id: int) -> Path:
    return latent_root(engine.settings.index_dir(), collection_id) / "compression"


def fit_collection(engine: Engine, name: str, method: str = "pca", dim: int = 32, seed: int = 0) -> dict[str, Any]:
    """Fit a compressor on a collection's document vectors; it then scores outliers."""
    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        docs = load_documents(session, collection)
    model = fit_compressor(docs.vectors, method, dim, seed)
    write_atomically(_directory(engine, collection.id), model.save)
    errors = model.reconstruction_error(docs.vectors)
    return {"method": method, "dim": dim, "documents": len(docs), "mean_error": float(errors.mean())}


def outliers(engine: Engine, name: str, k: int = 10) -> dict[str, Any]:
    """The ``k`` documents with the largest reconstruction error under the fitted compressor."""
    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        directory = _directory(engine, collection.id)
        if not (directory / "model.json").exists():
            raise ModelNotFitted(f"collection {name!r} has no compression model; run `latentspace compress fit`")
        model = Compressor.load(directory)
        docs = load_documents(session, collection)
    if docs.vectors.shape[1] != model.weights[0].shape[0] and model.method == "pca":
        raise ModelNotFitted(f"the compression model of {name!r} does not match its vectors; fit it again")
    scores = model.reconstruction_error(docs.vectors)
    order = np.argsort(-scores, kind="stable")[:k]
    items = [{"id": docs.external_ids[i], "score": round(float(scores[i]), 6),
              "snippet": " ".join(docs.texts[i].split())[:160]} for i in order]
    return {"method": model.method, "dim": model.dim, "total": len(docs), "items": items}
