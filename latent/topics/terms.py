"""Shared text analysis for topic models: one tokenisation (so LDA, c-TF-IDF and coherence agree)."""

from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z\-]+[a-zA-Z]\b"  # words of 3+ letters; no numbers
_TOKEN = re.compile(TOKEN_PATTERN)


def make_vectorizer(
    vocabulary: list[str] | None = None, min_df: int | float = 2, max_df: float = 0.5
) -> CountVectorizer:
    """Lower-cased word counts without English stop words; a fixed ``vocabulary`` reproduces a fit."""
    if vocabulary is not None:
        return CountVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", vocabulary=vocabulary)
    return CountVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", min_df=min_df, max_df=max_df)


def corpus_min_df(n_documents: int) -> int:
    """Ignore words seen in a single document once the corpus is large enough for that to be noise."""
    return 2 if n_documents >= 20 else 1


def corpus_max_df(n_documents: int) -> float:
    # Tiny corpora (tests, demos) keep every word: each planted topic may cover most of them.
    return 0.5 if n_documents >= 200 else 1.0


def tokenize(text: str) -> list[str]:
    """The vectoriser's tokens, for coherence scoring over the same words the models saw."""
    return [t for t in (m.lower() for m in _TOKEN.findall(text)) if t not in ENGLISH_STOP_WORDS]


def top_terms(weights: np.ndarray, vocabulary: list[str], n: int) -> list[list]:
    """The ``n`` highest-weighted terms of one weight row as [[term, weight], ...]."""
    order = np.argsort(-weights, kind="stable")[:n]
    return [[vocabulary[i], round(float(weights[i]), 6)] for i in order if weights[i] > 0]


def class_tfidf(counts: np.ndarray) -> np.ndarray:
    """Class-based TF-IDF (as in BERTopic): ``counts`` (classes, vocab) → weights (classes, vocab).

    tf is a term's frequency within its class, normalised by the class length; idf is
    log(1 + A / f_t) with A the average number of words per class and f_t the term's total frequency,
    so terms frequent in one class but rare overall get the highest weight.
    """
    counts = np.asarray(counts, dtype=np.float64)
    class_len = counts.sum(axis=1, keepdims=True)
    tf = counts / np.where(class_len > 0, class_len, 1.0)
    term_freq = counts.sum(axis=0)
    avg_words = class_len.mean() if len(class_len) else 0.0
    idf = np.log1p(avg_words / np.where(term_freq > 0, term_freq, np.inf))
    return tf * idf
