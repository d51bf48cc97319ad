"""A generated corpus with planted structure: three topics with disjoint vocabularies and vectors."""

from __future__ import annotations

import numpy as np

VOCABULARIES = {
    "space": "planet orbit telescope galaxy comet nebula asteroid rocket astronaut lunar solar stellar".split(),
    "kitchen": "flour butter oven dough pastry recipe bake sugar yeast knead saucepan whisk".split(),
    "market": "stock bond dividend investor portfolio equity broker hedge inflation yield interest trader".split(),
}
TOPICS = list(VOCABULARIES)
DIM = 384


def planted_corpus(per_topic: int = 20, outliers: int = 2, seed: int = 0):  # noqa: ANN201
    """Documents [(id, text, topic name)], vectors {id: unit vector}: topic centres + small noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(TOPICS), DIM))
    docs, vectors = [], {}
    for t, name in enumerate(TOPICS):
        for i in range(per_topic):
            words = rng.choice(VOCABULARIES[name], size=30)
            doc_id = f"{name}-{i}"
            docs.append((doc_id, " ".join(words), name))
            vectors[doc_id] = _unit(centres[t] + 0.35 * rng.normal(size=DIM))
    for i in range(outliers):
        doc_id = f"odd-{i}"
        mixed = rng.choice(sum(VOCABULARIES.values(), []), size=30)
        docs.append((doc_id, " ".join(mixed), "odd"))
        vectors[doc_id] = _unit(rng.normal(size=DIM))
    return docs, vectors


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def ingest_planted(engine, name: str = "planted", **kwargs) -> tuple[list, dict]:  # noqa: ANN001
    from ingest.readers import SourceDocument

    docs, vectors = planted_corpus(**kwargs)
    engine.create_collection(name, exist_ok=True)
    sources = [SourceDocument(d, text, None, {"truth": topic}) for d, text, topic in docs]
    report = engine.ingest(name, sources, vectors=vectors)
    assert report.failed == 0, report.errors
    return docs, vectors
