"""Parsing of JSON objects passed as form fields or query strings (multipart uploads, GET filters)."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput
from core.jsonargs import parse_json_object


def json_object(value: str | None, field: str, error: type[InvalidInput] = InvalidInput) -> dict[str, Any] | None:
    """``None`` for a missing/blank value, the parsed object otherwise; anything else raises ``error`` (422)."""
    if value is None or not value.strip():
        return None
    return parse_json_object(value, field, error)
