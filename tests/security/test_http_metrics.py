"""Issue 18, class 8: /metrics must not grow with made-up HTTP methods (any token is a valid method)."""

from __future__ import annotations

from tests.ops.conftest import *  # noqa: F403 (the client fixtures)


def test_made_up_methods_share_one_label(client) -> None:  # noqa: ANN001
    client.get("/metrics")
    for i in range(200):
        client.request(f"MADEUP{i}", "/v1/collections")
        client.request(f"X{i}", "/nowhere")
    page = client.get("/metrics").text
    assert "MADEUP" not in page and 'method="X1' not in page
    assert 'method="other"' in page
    methods = {line.split('method="')[1].split('"')[0] for line in page.splitlines() if 'method="' in line}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "other"}


def test_metrics_size_is_bounded(client) -> None:  # noqa: ANN001
    for i in range(50):
        client.request(f"M{i}", "/v1/collections")
    client.get("/metrics")  # the scrape's own series appears from the next scrape on
    size_after_50 = len(client.get("/metrics").text)
    for i in range(50, 500):
        client.request(f"M{i}", "/v1/collections")
    # the same series, only counts change: a few bytes more at most (digits), not 450 new series
    assert len(client.get("/metrics").text) < size_after_50 + 1000
