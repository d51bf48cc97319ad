"""The latent endpoints through the ASGI app: topics, topic pages, map, outliers, topic filter, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from services.topics import TopicParams


@pytest.fixture(scope="module")
def client(planted):  # noqa: ANN001, ANN201
    engine, _docs, _ = planted
    with TestClient(create_app(engine.settings, engine=engine)) as test_client:
        yield test_client


def test_unfitted_collection_answers_409_and_unknown_404(client, planted) -> None:  # noqa: ANN001
    planted[0].create_collection("bare", exist_ok=True)
    for path in ("/v1/collections/bare/topics", "/v1/collections/bare/map", "/v1/collections/bare/outliers"):
        response = client.get(path)
        assert response.status_code == 409 and response.json()["error"]["code"] == "model_not_fitted"
    missing = client.get("/v1/collections/nope/topics")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "collection_not_found"


def test_topics_pages_and_filter(client, planted) -> None:  # noqa: ANN001
    engine, docs, vectors = planted
    engine.topics.fit("planted", TopicParams("cluster", n_topics=3))
    body = client.get("/v1/collections/planted/topics").json()
    assert body["model"]["method"] == "cluster" and sum(t["size"] for t in body["topics"]) == len(docs)
    topic = next(t for t in body["topics"] if "space-0" in t["representatives"] or t["id"] >= 0)
    first = client.get(f"/v1/collections/planted/topics/{topic['id']}", params={"limit": 5}).json()
    second = client.get(f"/v1/collections/planted/topics/{topic['id']}", params={"offset": 5, "limit": 5}).json()
    assert first["total"] == topic["size"] and len(first["items"]) == 5
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    assert client.get("/v1/collections/planted/topics/99").json()["error"]["code"] == "topic_not_found"
    assert client.get("/v1/collections/planted/topics/0", params={"limit": 0}).status_code == 422
    member = first["items"][0]["id"]
    search = client.post("/v1/collections/planted/search",
                         json={"vector": vectors[member].tolist(), "k": 100, "filter": {"topic": topic["id"]}})
    assert search.status_code == 200
    assert {h["id"] for h in search.json()["hits"]} <= {i["id"] for i in client.get(
        f"/v1/collections/planted/topics/{topic['id']}", params={"limit": 1000}).json()["items"]}
    bad = client.post("/v1/collections/planted/search", json={"query": "x", "k": 3, "filter": {"topic": {"$in": []}}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_filter"


def test_map_and_outliers(client, planted) -> None:  # noqa: ANN001
    engine, docs, _ = planted
    engine.topics.fit("planted", TopicParams("cluster", n_topics=3))
    engine.maps.fit("planted", "pca")
    body = client.get("/v1/collections/planted/map", params={"sample": 7}).json()
    assert body["total"] == len(docs) and len(body["points"]) == 7
    point = body["points"][0]
    assert set(point) == {"id", "x", "y", "topic", "label"} and point["label"] and point["topic"] is not None
    assert client.get("/v1/collections/planted/map", params={"sample": 0}).status_code == 422
    engine.compression.fit("planted", "pca", dim=2)
    outliers = client.get("/v1/collections/planted/outliers", params={"k": 2}).json()
    assert [i["id"] for i in outliers["items"]] and {i["id"] for i in outliers["items"]} == {"odd-0", "odd-1"}


def test_web_page_is_served(client) -> None:  # noqa: ANN001
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="map"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/scatter.js").status_code == 200
