"""recommendations: tables for issue 4 (users, items, interactions, model versions).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _collection_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["collection_id"], ["collections.id"], name=op.f(f"fk_{table}_collection_id_collections"), ondelete="CASCADE"
    )


def _entity_table(table: str) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=512), nullable=False),
        _collection_fk(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("collection_id", "external_id", name=f"uq_{table}_collection_external"),
    )


def upgrade() -> None:
    _entity_table("recsys_users")
    _entity_table("recsys_items")
    op.create_table(
        "recsys_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=True),
        _collection_fk("recsys_interactions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["recsys_users.id"],
            name=op.f("fk_recsys_interactions_user_id_recsys_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["recsys_items.id"],
            name=op.f("fk_recsys_interactions_item_id_recsys_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recsys_interactions")),
        sa.UniqueConstraint("user_id", "item_id", name="uq_recsys_interactions_user_item"),
    )
    op.create_index("ix_recsys_interactions_collection", "recsys_interactions", ["collection_id"])
    op.create_table(
        "recsys_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _collection_fk("recsys_model_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recsys_model_versions")),
        sa.UniqueConstraint("collection_id", "version", name="uq_recsys_model_versions_collection_version"),
    )
    op.create_table(
        "recsys_active_models",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        _collection_fk("recsys_active_models"),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["recsys_model_versions.id"],
            name=op.f("fk_recsys_active_models_model_version_id_recsys_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_recsys_active_models")),
    )


def downgrade() -> None:
    op.drop_table("recsys_active_models")
    op.drop_table("recsys_model_versions")
    op.drop_index("ix_recsys_interactions_collection", table_name="recsys_interactions")
    op.drop_table("recsys_interactions")
    op.drop_table("recsys_items")
    op.drop_table("recsys_users")
