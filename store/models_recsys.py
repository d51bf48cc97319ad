"""Tables of the recommendations feature: users, items, interactions, trained model versions.

Items are matched to the collection's documents by ``external_id`` (an item may have no document).
Duplicate ``(user, item)`` interactions are stored once: ``value`` is aggregated by the ingest's rule
(sum by default, or max / last), ``count`` counts the events and ``timestamp`` keeps the latest one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, JsonDict, utcnow


class RecsysUser(Base):
    __tablename__ = "recsys_users"
    __table_args__ = (UniqueConstraint("collection_id", "external_id", name="uq_recsys_users_collection_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))


class RecsysItem(Base):
    __tablename__ = "recsys_items"
    __table_args__ = (UniqueConstraint("collection_id", "external_id", name="uq_recsys_items_collection_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))


class Interaction(Base):
    __tablename__ = "recsys_interactions"
    __table_args__ = (
        UniqueConstraint("user_id", "item_id", name="uq_recsys_interactions_user_item"),
        Index("ix_recsys_interactions_collection", "collection_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("recsys_users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("recsys_items.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    timestamp: Mapped[float | None] = mapped_column(Float, nullable=True)


class ModelVersion(Base):
    """One trained model: its files live in ``index_dir/<collection_id>/recsys/<version>/``."""

    __tablename__ = "recsys_model_versions"
    __table_args__ = (UniqueConstraint("collection_id", "version", name="uq_recsys_model_versions_collection_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ActiveModel(Base):
    """The version a collection serves; swapping it is one UPDATE in one transaction."""

    __tablename__ = "recsys_active_models"

    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("recsys_model_versions.id", ondelete="CASCADE"))
