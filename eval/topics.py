"""Topic quality: NPMI coherence (gensim's CoherenceModel, ``c_npmi``) and topic diversity.

Coherence is computed over the collection's own documents tokenised exactly as the models saw them;
diversity is the share of unique words among all topics' top-``n`` words (1.0 = no word repeats).
The runner fits each method in memory on the stored documents, so it changes nothing in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.documents import DocumentMatrix
from latent.topics.terms import tokenize
from services.context import ServiceContext
from services.documents_matrix import load_documents
from services.topics import TopicParams, fit_documents


@dataclass
class TopicQuality:
    method: str
    topics: int
    npmi: float
    diversity: float
    outliers: int
    top_terms: list[list[str]]


def topic_diversity(topics: list[list[str]], top_n: int = 10) -> float:
    words = [w for topic in topics for w in topic[:top_n]]
    return len(set(words)) / len(words) if words else 0.0


def npmi_coherence(topics: list[list[str]], texts: list[list[str]], top_n: int = 10) -> float:
    """Mean NPMI over topics (gensim ``c_npmi``, sliding window 10), topics' words limited to the corpus."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(texts)
    kept = [[w for w in topic[:top_n] if w in dictionary.token2id] for topic in topics]
    kept = [topic for topic in kept if len(topic) >= 2]
    if not kept:
        return 0.0
    model = CoherenceModel(topics=kept, texts=texts, dictionary=dictionary, coherence="c_npmi", processes=1)
    return float(np.nanmean(model.get_coherence_per_topic()))


def topic_words(fitted, n: int = 10) -> list[list[str]]:  # noqa: ANN001
    terms = fitted.topic_terms(n) if fitted.method == "lda" else fitted.terms
    return [[t for t, _w in topic[:n]] for topic in terms]


def evaluate_documents(docs: DocumentMatrix, params: TopicParams) -> TopicQuality:
    fitted, labels, _ids, _weights = fit_documents(docs, params)
    words = topic_words(fitted)
    texts = [tokenize(t) for t in docs.texts]
    return TopicQuality(
        method=params.method if params.method == "lda" else f"cluster/{params.algorithm}",
        topics=fitted.n_topics,
        npmi=npmi_coherence(words, texts),
        diversity=topic_diversity(words),
        outliers=int(np.sum(labels == -1)),
        top_terms=[w[:5] for w in words],
    )


def evaluate_collection(ctx: ServiceContext, name: str, params: list[TopicParams]) -> list[TopicQuality]:
    """Quality of each ``params`` fitted in memory on the documents of ``name`` (nothing is stored)."""
    collection = ctx.collection(name)
    with ctx.sessions() as session:
        docs = load_documents(session, collection)
    return [evaluate_documents(docs, p) for p in params]
