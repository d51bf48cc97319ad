"""LDA topics over document texts (scikit-learn's online variational Bayes).

Saved as JSON (vocabulary, priors, parameters) + ``components.npy`` (topics × vocabulary pseudo-counts).
Loading rebuilds a LatentDirichletAllocation from those arrays, so new documents get their topic
mixture by the fitted model's own E-step (``transform``), without refitting and without pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import psi
from sklearn.decomposition import LatentDirichletAllocation

from core.errors import InvalidInput
from latent.saved import load_array, load_meta, save_model
from latent.topics.terms import corpus_max_df, corpus_min_df, make_vectorizer, top_terms


@dataclass
class LdaTopics:
    vocabulary: list[str]
    components: np.ndarray  # float64 (topics, vocabulary)
    doc_topic_prior: float
    topic_word_prior: float
    seed: int

    method = "lda"

    @property
    def n_topics(self) -> int:
        return int(self.components.shape[0])

    def _model(self) -> LatentDirichletAllocation:
        model = LatentDirichletAllocation(
            n_components=self.n_topics,
            doc_topic_prior=self.doc_topic_prior,
            topic_word_prior=self.topic_word_prior,
            random_state=self.seed,
        )
        model.components_ = self.components
        # E[log beta] under the fitted variational posterior, exactly as scikit-learn keeps it.
        expectation = psi(self.components) - psi(self.components.sum(axis=1))[:, None]
        model.exp_dirichlet_component_ = np.exp(expectation)
        model.doc_topic_prior_ = self.doc_topic_prior
        model.topic_word_prior_ = self.topic_word_prior
        model.n_features_in_ = len(self.vocabulary)
        model.n_batch_iter_ = 1
        model.n_iter_ = 1
        return model

    def transform(self, texts: list[str]) -> np.ndarray:
        """Topic mixtures (n, topics) float64, rows summing to 1; an empty text gets the uniform mixture."""
        if not texts:
            return np.zeros((0, self.n_topics))
        counts = make_vectorizer(vocabulary=self.vocabulary).transform(texts)
        return self._model().transform(counts)

    def topic_terms(self, n: int = 10) -> list[list[list]]:
        weights = self.components / self.components.sum(axis=1, keepdims=True)
        return [top_terms(row, self.vocabulary, n) for row in weights]

    def save(self, directory: Path) -> None:
        """Replace ``directory`` with this model, crash-safely (latent/saved.py)."""
        meta = {
            "method": self.method,
            "vocabulary": self.vocabulary,
            "doc_topic_prior": self.doc_topic_prior,
            "topic_word_prior": self.topic_word_prior,
            "seed": self.seed,
        }
        save_model(directory, "topics", meta, {"components": self.components})

    @classmethod
    def load(cls, directory: Path, meta: dict | None = None) -> LdaTopics:
        meta = meta if meta is not None else load_meta(directory, "topics")
        components = load_array(directory, "components")
        return cls(meta["vocabulary"], components, meta["doc_topic_prior"], meta["topic_word_prior"], meta["seed"])


def fit_lda(
    texts: list[str], n_topics: int, seed: int = 0, max_iter: int = 20, restarts: int = 3
) -> tuple[LdaTopics, np.ndarray]:
    """Fit LDA on ``texts``; returns the model and the documents' topic mixtures (n, topics).

    Variational LDA finds a local optimum that depends on its random start, so it is fitted
    ``restarts`` times (seeds seed, seed+1, ...) and the fit with the highest evidence bound is kept.
    """
    if n_topics < 2:
        raise InvalidInput("LDA needs at least 2 topics")
    if len(texts) < n_topics:
        raise InvalidInput(f"LDA with {n_topics} topics needs at least {n_topics} documents, got {len(texts)}")
    vectorizer = make_vectorizer(min_df=corpus_min_df(len(texts)), max_df=corpus_max_df(len(texts)))
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError as exc:  # empty vocabulary: nothing but stop words / numbers
        raise InvalidInput(f"no usable words for LDA: {exc}") from None
    prior = 1.0 / n_topics
    fits = [
        LatentDirichletAllocation(
            n_components=n_topics,
            doc_topic_prior=prior,
            topic_word_prior=prior,
            learning_method="batch",
            max_iter=max_iter,
            random_state=seed + i,
        ).fit(counts)
        for i in range(max(1, restarts))
    ]
    lda = max(fits, key=lambda m: m.score(counts))
    vocabulary = vectorizer.get_feature_names_out().tolist()
    return LdaTopics(vocabulary, lda.components_, prior, prior, seed), lda.transform(counts)
