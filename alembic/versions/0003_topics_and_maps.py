"""topics and maps: tables for issue 7 (topic models, document topics, map points).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _model_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("params", _json(), nullable=False),
        *([sa.Column("stats", _json(), nullable=False)] if name == "topic_models" else []),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f(f"fk_{name}_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_collection_active", name, ["collection_id", "active"])


def _document_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["document_id"], ["documents.id"], name=op.f(f"fk_{table}_document_id_documents"), ondelete="CASCADE"
    )


def upgrade() -> None:
    _model_table("topic_models")
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("terms", _json(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("representatives", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["topic_models.id"], name=op.f("fk_topics_model_id_topic_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("model_id", "topic_id", name="uq_topics_model_topic"),
    )
    op.create_table(
        "document_topics",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["topic_models.id"],
            name=op.f("fk_document_topics_model_id_topic_models"),
            ondelete="CASCADE",
        ),
        _document_fk("document_topics"),
        sa.PrimaryKeyConstraint("model_id", "document_id", "rank", name=op.f("pk_document_topics")),
    )
    op.create_index("ix_document_topics_model_topic", "document_topics", ["model_id", "topic_id", "rank"])
    op.create_index("ix_document_topics_document_id", "document_topics", ["document_id"])
    _model_table("map_models")
    op.create_table(
        "map_points",
        sa.Column("map_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["map_id"], ["map_models.id"], name=op.f("fk_map_points_map_id_map_models"), ondelete="CASCADE"
        ),
        _document_fk("map_points"),
        sa.PrimaryKeyConstraint("map_id", "document_id", name=op.f("pk_map_points")),
    )
    op.create_index("ix_map_points_document_id", "map_points", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_map_points_document_id", table_name="map_points")
    op.drop_table("map_points")
    op.drop_index("ix_map_models_collection_active", table_name="map_models")
    op.drop_table("map_models")
    op.drop_index("ix_document_topics_document_id", table_name="document_topics")
    op.drop_index("ix_document_topics_model_topic", table_name="document_topics")
    op.drop_table("document_topics")
    op.drop_table("topics")
    op.drop_index("ix_topic_models_collection_active", table_name="topic_models")
    op.drop_table("topic_models")
