"""An SOS sent with a bad or expired bearer token is accepted as anonymous and flagged.

Revision ID: 0010_unverified_caller
Revises: 0009_pages
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_unverified_caller"
down_revision = "0009_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "emergency_cases",
        sa.Column("unverified_caller", sa.Boolean(), nullable=False, server_default="false"),
    )


def downgrade() -> None:
    op.drop_column("emergency_cases", "unverified_caller")
