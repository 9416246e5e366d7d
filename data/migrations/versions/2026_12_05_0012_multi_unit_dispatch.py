"""Several units per case: each dispatch row's place in the response plan.

Revision ID: 0012_multi_unit_dispatch
Revises: 0011_diversion_policy
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_multi_unit_dispatch"
down_revision = "0011_diversion_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "emergency_dispatches",
        sa.Column("position", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.add_column("emergency_dispatches", sa.Column("plan_slot", sa.String(8)))


def downgrade() -> None:
    op.drop_column("emergency_dispatches", "plan_slot")
    op.drop_column("emergency_dispatches", "position")
