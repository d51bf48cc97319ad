"""Parsing a JSON object given as text (CLI options, form fields, query strings): one set of messages."""

from __future__ import annotations

import json
from typing import Any

from core.errors import InvalidInput


def parse_json_object(value: str, field: str, error: type[InvalidInput] = InvalidInput) -> dict[str, Any]:
    """The parsed object; invalid JSON or another JSON type raises ``error`` naming ``field``."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise error(f"{field} is not valid JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise error(f"{field} must be a JSON object")
    return parsed
