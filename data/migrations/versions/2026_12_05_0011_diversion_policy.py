"""A clinical diversion policy per region.

Revision ID: 0011_diversion_policy
Revises: 0010_hospital_services
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_diversion_policy"
down_revision = "0010_hospital_services"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_diversion_policies",
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("critical_override_s", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "critical_override_s >= 0 AND critical_override_s <= 7200",
            name="ck_region_diversion_policies_range",
        ),
        sa.ForeignKeyConstraint(
            ["region"], ["regions.name"],
            name="fk_region_diversion_policies_region_regions", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region", name="pk_region_diversion_policies"),
    )


def downgrade() -> None:
    op.drop_table("region_diversion_policies")
