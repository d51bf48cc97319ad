"""api keys: tables for issue 6 (API keys).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by issue 6 (API keys)


def downgrade() -> None:
    pass
