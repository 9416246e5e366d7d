"""Routing facts on cases: off-network flag; hospital name unique per region for CSV re-imports.

Revision ID: 0003_case_routing
Revises: 0002_road_network
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_case_routing"
down_revision = "0002_road_network"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "emergency_cases",
        sa.Column("off_network", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_emergency_cases_region_status", "emergency_cases", ["region", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_emergency_cases_region_status", table_name="emergency_cases")
    op.drop_column("emergency_cases", "off_network")
