"""Parsing of JSON objects passed as form fields or query strings (multipart uploads, GET filters)."""

from __future__ import annotations

import json
from typing import Any

from core.errors import InvalidInput


def json_object(value: str | None, field: str, error: type[InvalidInput] = InvalidInput) -> dict[str, Any] | None:
    """``None`` for a missing/blank value, the parsed object otherwise; anything else raises ``error`` (422)."""
    if value is None or not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise error(f"{field} is not valid JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise error(f"{field} must be a JSON object")
    return parsed
