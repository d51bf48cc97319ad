"""Fixtures for the index test suite."""

from __future__ import annotations

import pytest

from index.registry import INDEX_KINDS


@pytest.fixture(params=sorted(INDEX_KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param
