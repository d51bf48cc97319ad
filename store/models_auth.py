"""API keys: only an argon2 hash of each key is stored, next to a short public prefix used to find it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # public part of the key, for lookup
    secret_hash: Mapped[str] = mapped_column(String(255))  # argon2id hash of the whole key
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated: read, write, admin
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
