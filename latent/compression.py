"""Latent compression of a collection's embeddings: linear (PCA) and a small non-linear autoencoder.

Both map unit vectors (n, D) to codes (n, d') and back. The autoencoder (D → h → d' → h → D, GELU,
trained with torch on CPU) is saved as its weight matrices in .npy files and run by numpy at load time,
so nothing is pickled. A document's outlier score is its reconstruction error: the squared distance
between its (unit, mean-of-chunks) vector and the decoded code — documents the collection's dominant
directions do not explain score high.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InvalidInput
from latent.saved import load_array, load_meta, save_model

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
        """Replace ``directory`` with this compressor, crash-safely (latent/saved.py)."""
        meta = {"method": self.method, "dim": self.dim, "arrays": len(self.weights)}
        save_model(directory, "compressor", meta, {f"w{i}": w for i, w in enumerate(self.weights)})

    @classmethod
    def load(cls, directory: Path) -> Compressor:
        """A compressor saved by :meth:`save`; IndexCorrupt when it is missing or damaged."""
        meta = load_meta(directory, "compressor")
        return cls(meta["method"], [load_array(directory, f"w{i}") for i in range(meta["arrays"])])


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
