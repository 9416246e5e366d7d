"""Location reports from the SOS app while a case is open (confirmed by the operator).

Revision ID: 0009_pages
Revises: 0006_sms
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0009_pages"
down_revision = "0008_care"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_location_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "location", Geometry("POINT", srid=4326, spatial_index=False), nullable=False
        ),
        sa.Column("accuracy_m", sa.Double()),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["case_id"], ["emergency_cases.id"],
            name="fk_case_location_reports_case_id_emergency_cases", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_location_reports"),
    )
    op.create_index(
        "ix_case_location_reports_case_id", "case_location_reports", ["case_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_case_location_reports_case_id", table_name="case_location_reports")
    op.drop_table("case_location_reports")
