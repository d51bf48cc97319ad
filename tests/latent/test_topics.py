"""Topic models recover planted structure, keep a small outlier bucket, and assign new documents."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidFilter, InvalidInput, ModelNotFitted
from ingest.readers import SourceDocument
from latent.saved import load_meta
from latent.topics.cluster import fit_clusters
from latent.topics.lda import LdaTopics, fit_lda
from latent.topics.terms import class_tfidf
from services.documents_matrix import load_documents
from services.search.types import SearchRequest
from services.topics import TopicParams
from store import repositories as repo
from tests.latent.conftest import purity
from tests.latent.planted import VOCABULARIES, planted_corpus


def _labels(engine) -> dict[str, int]:  # noqa: ANN001
    labels = {}
    for topic in engine.topics.list("planted")["topics"]:
        page = engine.topics.documents("planted", topic["id"], 0, 1000)
        labels.update({item["id"]: topic["id"] for item in page["items"]})
    return labels


def test_cluster_topics_recover_planted_topics_and_outliers(planted) -> None:  # noqa: ANN001
    engine, docs, _ = planted
    summary = engine.topics.fit("planted", TopicParams("cluster", n_topics=3, outlier_fraction=0.05))
    labels = _labels(engine)
    assert purity(labels, docs) >= 0.9
    assert labels["odd-0"] == -1 and labels["odd-1"] == -1  # the random documents land in the bucket
    outliers = summary["stats"]["outliers"]
    assert 2 <= outliers <= 0.1 * len(docs)  # the bucket stays small and is reported
    topics = engine.topics.list("planted")["topics"]
    for topic in (t for t in topics if t["id"] >= 0):
        words = [t["term"] for t in topic["terms"][:5]]
        vocab = next(v for v in VOCABULARIES.values() if words[0] in v)
        assert set(words) <= set(vocab)  # labels come from one planted vocabulary
        assert topic["representatives"] and topic["size"] > 0


def test_lda_recovers_planted_topics(planted) -> None:  # noqa: ANN001
    engine, docs, _ = planted
    engine.topics.fit("planted", TopicParams("lda", n_topics=3))
    assert purity(_labels(engine), docs) >= 0.9


def test_lda_saved_state_reproduces_transform(tmp_path) -> None:  # noqa: ANN001
    docs, _ = planted_corpus(per_topic=10, outliers=0)
    texts = [t for _, t, _ in docs]
    model, mixtures = fit_lda(texts, 3)
    model.save(tmp_path)
    loaded = LdaTopics.load(tmp_path, load_meta(tmp_path, "topics"))
    assert np.allclose(loaded.transform(texts), mixtures, atol=1e-6)
    assert np.allclose(loaded.transform(texts).sum(axis=1), 1.0)


def test_hdbscan_clusters_and_outlier_bucket() -> None:
    docs, vectors = planted_corpus(per_topic=20, outliers=3)
    matrix = np.vstack([vectors[d] for d, _, _ in docs])
    model, labels, _ids, weights = fit_clusters(matrix, [t for _, t, _ in docs], algorithm="hdbscan",
                                                min_cluster_size=5)
    assert model.n_topics == 3
    assert set(labels[-3:]) == {-1} and np.sum(labels == -1) <= 6
    assert np.allclose(weights.sum(axis=1) <= 1.0 + 1e-6, True)


def test_class_tfidf_prefers_distinctive_terms() -> None:
    counts = np.array([[10, 5, 0], [10, 0, 5]])  # term 0 is everywhere; 1 and 2 are class-specific
    weights = class_tfidf(counts)
    assert weights[0, 1] > weights[0, 0] and weights[1, 2] > weights[1, 0]


def test_new_documents_get_topics_without_refit(planted) -> None:  # noqa: ANN001
    engine, _docs, vectors = planted
    model_id = engine.topics.fit("planted", TopicParams("cluster", n_topics=3))["model_id"]
    kitchen = np.mean([v for d, v in vectors.items() if d.startswith("kitchen")], axis=0)
    text = "butter flour oven dough pastry bake sugar yeast"
    engine.ingest("planted", [SourceDocument("late-kitchen", text, None, {})],
                  vectors={"late-kitchen": kitchen / np.linalg.norm(kitchen)})
    labels = _labels(engine)
    assert engine.topics.list("planted")["model"]["model_id"] == model_id
    assert labels["late-kitchen"] == labels["kitchen-0"]
    hits = engine.search("planted", SearchRequest(vector=kitchen.tolist(), k=50,
                                                   filter={"topic": labels["kitchen-0"]})).hits
    assert "late-kitchen" in {h.id for h in hits}
    assert {h.metadata.get("truth") for h in hits} <= {"kitchen", None}
    engine.delete_document("planted", "late-kitchen")
    assert "late-kitchen" not in _labels(engine)


def test_topic_filter_validation(planted) -> None:  # noqa: ANN001
    engine, _docs, vectors = planted
    for bad in ({"$in": []}, {"$bogus": 1}, [1, 2]):  # non-integer values fall back to the metadata field
        with pytest.raises(InvalidFilter):
            engine.search("planted", SearchRequest(vector=vectors["space-0"].tolist(), k=3, filter={"topic": bad}))


def test_bad_parameters_and_unfitted_collections(planted) -> None:  # noqa: ANN001
    engine, _docs, _ = planted
    with pytest.raises(InvalidInput):
        engine.topics.fit("planted", TopicParams("nmf"))
    with pytest.raises(InvalidInput):
        engine.topics.fit("planted", TopicParams("cluster", n_topics=1000))
    engine.create_collection("empty-topics", exist_ok=True)
    with pytest.raises(ModelNotFitted):
        engine.topics.list("empty-topics")
    with pytest.raises(InvalidInput):
        engine.topics.fit("empty-topics", TopicParams("lda", n_topics=3))


def test_document_vectors_are_renormalised_chunk_means(planted) -> None:  # noqa: ANN001
    engine, _docs, vectors = planted
    with engine.sessions() as session:
        docs = load_documents(session, repo.get_collection(session, "planted"))
    row = docs.external_ids.index("space-3")
    assert np.allclose(docs.vectors[row], vectors["space-3"], atol=1e-6)
    assert np.allclose(np.linalg.norm(docs.vectors, axis=1), 1.0, atol=1e-5)
