"""Embedding-cluster topics: cluster document vectors, label each cluster by class-based TF-IDF.

k-means (default, deterministic with a seed) or HDBSCAN. Documents far from their cluster's centroid
go to the outlier bucket (topic -1): with k-means, those whose cosine similarity to their centroid is
below the ``outlier_fraction`` quantile of the whole collection; with HDBSCAN, its noise points and
each cluster's members below that cluster's ``outlier_fraction`` similarity quantile.
Saved as ``centroids.npy`` + ``thresholds.npy`` + JSON; new
documents go to the nearest centroid, or to the outlier bucket when below that centroid's threshold
(for HDBSCAN this nearest-centroid rule approximates the density model, which has no transform).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans

from core.errors import InvalidInput
from latent.documents import normalise_rows
from latent.saved import load_array, load_meta, save_model
from latent.topics.terms import class_tfidf, corpus_min_df, make_vectorizer, top_terms

OUTLIER = -1
ALGORITHMS = ("kmeans", "hdbscan")


@dataclass
class ClusterTopics:
    centroids: np.ndarray  # float32 (topics, dim), unit length
    thresholds: np.ndarray  # float32 (topics,): least cosine similarity to count as a member
    terms: list[list[list]]  # per topic [[term, weight], ...] from c-TF-IDF
    algorithm: str
    seed: int

    method = "cluster"

    @property
    def n_topics(self) -> int:
        return int(self.centroids.shape[0])

    def assign(self, vectors: np.ndarray, top: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels (n,) with -1 for outliers, topic ids (n, top), weights (n, top)) for unit vectors."""
        sims = np.asarray(vectors, dtype=np.float32) @ self.centroids.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :top]
        best = order[:, 0]
        labels = np.where(sims[np.arange(len(sims)), best] >= self.thresholds[best], best, OUTLIER)
        # Weights: a softmax over similarities (temperature 0.05 ≈ cosine gaps of a few hundredths matter).
        scaled = np.exp((sims - sims.max(axis=1, keepdims=True)) / 0.05)
        probs = scaled / scaled.sum(axis=1, keepdims=True)
        return labels, order, np.take_along_axis(probs, order, axis=1)

    def save(self, directory: Path) -> None:
        """Replace ``directory`` with this model, crash-safely (latent/saved.py)."""
        meta = {"method": self.method, "terms": self.terms, "algorithm": self.algorithm, "seed": self.seed}
        save_model(directory, "topics", meta, {"centroids": self.centroids, "thresholds": self.thresholds})

    @classmethod
    def load(cls, directory: Path, meta: dict | None = None) -> ClusterTopics:
        meta = meta if meta is not None else load_meta(directory, "topics")
        centroids, thresholds = load_array(directory, "centroids"), load_array(directory, "thresholds")
        return cls(centroids, thresholds, meta["terms"], meta["algorithm"], meta["seed"])


def _cluster(vectors: np.ndarray, n_topics: int, algorithm: str, min_cluster_size: int, seed: int) -> np.ndarray:
    if algorithm == "kmeans":
        return KMeans(n_clusters=n_topics, n_init=4, random_state=seed).fit_predict(vectors)
    labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(vectors)
    if labels.max() < 0:
        raise InvalidInput("HDBSCAN found no clusters; lower --min-cluster-size or use k-means")
    return labels


def _thresholds(sims: np.ndarray, labels: np.ndarray, algorithm: str, outlier_fraction: float) -> np.ndarray:
    n_topics = sims.shape[1]
    members = sims[np.arange(len(labels)), np.maximum(labels, 0)]
    if algorithm == "kmeans":
        cut = float(np.quantile(members, outlier_fraction)) if outlier_fraction > 0 else -1.0
        return np.full(n_topics, cut, dtype=np.float32)
    # HDBSCAN: its noise, plus each cluster's loosest members (high-dimensional density clustering
    # attaches far points to clusters): the radius is the cluster's ``outlier_fraction`` quantile.
    cuts = [np.quantile(members[labels == t], outlier_fraction) for t in range(n_topics)]
    return np.array(cuts, dtype=np.float32)


def fit_clusters(
    vectors: np.ndarray,
    texts: list[str],
    n_topics: int = 10,
    algorithm: str = "kmeans",
    outlier_fraction: float = 0.05,
    min_cluster_size: int = 10,
    seed: int = 0,
) -> tuple[ClusterTopics, np.ndarray, np.ndarray, np.ndarray]:
    """Fit cluster topics; returns the model and the documents' (labels, topic ids, weights)."""
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"unknown clustering {algorithm!r}; choose one of {list(ALGORITHMS)}")
    if not 0 <= outlier_fraction < 0.5:
        raise InvalidInput("outlier fraction must be in [0, 0.5)")
    if algorithm == "kmeans" and not 2 <= n_topics <= len(vectors):
        raise InvalidInput(f"k-means needs 2 ≤ topics ≤ documents ({len(vectors)}), got {n_topics}")
    vectors = normalise_rows(np.asarray(vectors, dtype=np.float32))
    raw = _cluster(vectors, n_topics, algorithm, min_cluster_size, seed)
    k = int(raw.max()) + 1
    centroids = normalise_rows(np.vstack([vectors[raw == t].mean(axis=0) for t in range(k)]))
    sims = vectors @ centroids.T
    model = ClusterTopics(centroids, _thresholds(sims, raw, algorithm, outlier_fraction), [], algorithm, seed)
    labels, ids, weights = model.assign(vectors)
    model.terms = cluster_terms(texts, labels, k)
    return model, labels, ids, weights


def cluster_terms(texts: list[str], labels: np.ndarray, n_topics: int, n_terms: int = 10) -> list[list[list]]:
    """Each cluster's most distinctive terms by c-TF-IDF over its members' concatenated texts."""
    vectorizer = make_vectorizer(min_df=corpus_min_df(len(texts)), max_df=1.0)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no usable words at all: clusters stay unlabelled
        return [[] for _ in range(n_topics)]
    per_class = np.zeros((n_topics, counts.shape[1]))
    for topic in range(n_topics):
        rows = np.flatnonzero(labels == topic)
        if len(rows):
            per_class[topic] = np.asarray(counts[rows].sum(axis=0)).ravel()
    vocabulary = vectorizer.get_feature_names_out().tolist()
    return [top_terms(row, vocabulary, n_terms) for row in class_tfidf(per_class)]
