"""Tables for scale-out (issue 13): the change log shards follow, and each collection's shard count.

``change_log`` gets one row per committed write of a collection (chunks added, chunks removed, or the
collection reset: dropped, or replaced by a snapshot restore), appended in the *same* transaction as the
write (store/changelog.py). ``seq`` is monotonic in commit order: appending takes a transaction-scoped
lock on PostgreSQL, so a follower reading ``seq > last`` never skips a row committed later with a smaller
seq. There is no foreign key to ``collections``: a reset entry outlives the collection it drops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, JsonDict, utcnow

# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class ChangeLogEntry(Base):
    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_collection_seq", "collection_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(8))  # "write" (added/removed chunk ids) or "reset"
    added: Mapped[list[Any]] = mapped_column(JsonDict, default=list)
    removed: Mapped[list[Any]] = mapped_column(JsonDict, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShardLayout(Base):
    """How many shards a collection is split over; fixed once recorded (a chunk's shard depends on it)."""

    __tablename__ = "shard_layouts"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    shards: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
