"""What recommendation requests ask and answers hold (light: no model code, for the API and CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Query:
    k: int = 10
    exclude_seen: bool = True
    filter: dict[str, Any] | None = None
    explain: bool = False


@dataclass
class Recommendations:
    items: list[dict[str, Any]]
    source: str  # "model" | "fold_in" | "popularity" | "latent" | "content"
    version: str
    ignored_items: list[str] = field(default_factory=list)
