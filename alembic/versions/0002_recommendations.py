"""recommendations: tables for issue 4 (users, items, interactions, model versions).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by issue 4 (users, items, interactions, model versions)


def downgrade() -> None:
    pass
