"""topics and maps: tables for issue 7 (topic models, document topics, map points).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by issue 7 (topic models, document topics, map points)


def downgrade() -> None:
    pass
