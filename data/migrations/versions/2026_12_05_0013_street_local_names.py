"""Streets' ``name:<lang>`` names, so the maps label them in the reader's language (issue 25).

Revision ID: 0013_street_local_names
Revises: 0010_coverage
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013_street_local_names"
down_revision = "0010_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("geocode_entries", sa.Column("local_names", JSONB()))


def downgrade() -> None:
    op.drop_column("geocode_entries", "local_names")
