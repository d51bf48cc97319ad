"""Tables for hidden-structure views (issue 7): fitted topic models, document topics, 2-D map points.

A fitted model's numbers (LDA components, vocabulary, centroids, PCA axes, map coordinates) live as JSON +
.npy files in the collection's index directory; these tables hold what SQL must see: which model is active,
each topic's label terms and size, and each document's topics and map position (so that ``{"topic": 3}``
filters and map pages are plain queries).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, JsonDict, utcnow


class TopicModel(Base):
    """One fitted topic model of a collection; the newest fit is the active one."""

    __tablename__ = "topic_models"
    __table_args__ = (Index("ix_topic_models_collection_active", "collection_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))  # lda | cluster
    params: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Topic(Base):
    """A topic of a fitted model; ``topic_id`` -1 is the cluster method's outlier bucket."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("model_id", "topic_id", name="uq_topics_model_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("topic_models.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(Integer)
    terms: Mapped[list[Any]] = mapped_column(JsonDict, default=list)  # [[term, weight], ...]
    size: Mapped[int] = mapped_column(Integer, default=0)
    representatives: Mapped[list[Any]] = mapped_column(JsonDict, default=list)  # document external ids


class DocumentTopic(Base):
    """A document's topics with weights; rank 0 is the topic the document is assigned to."""

    __tablename__ = "document_topics"
    __table_args__ = (
        Index("ix_document_topics_model_topic", "model_id", "topic_id", "rank"),
        Index("ix_document_topics_document_id", "document_id"),
    )

    model_id: Mapped[int] = mapped_column(ForeignKey("topic_models.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)


class MapModel(Base):
    """One fitted 2-D projection of a collection; the newest fit is the active one."""

    __tablename__ = "map_models"
    __table_args__ = (Index("ix_map_models_collection_active", "collection_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))  # pca | umap
    params: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MapPoint(Base):
    __tablename__ = "map_points"
    __table_args__ = (Index("ix_map_points_document_id", "document_id"),)

    map_id: Mapped[int] = mapped_column(ForeignKey("map_models.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
