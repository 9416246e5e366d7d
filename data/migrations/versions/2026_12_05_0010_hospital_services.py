"""Per-service status of hospitals with an end time, and its audit trail.

Revision ID: 0010_hospital_services
Revises: 0010_hospital_entrances
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_hospital_services"
down_revision = "0010_hospital_entrances"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospital_services",
        sa.Column("hospital_id", sa.Uuid(), nullable=False),
        sa.Column("capability", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("until", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'limited', 'unavailable')", name="ck_hospital_services_status"
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"],
            name="fk_hospital_services_hospital_id_hospitals", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hospital_id", "capability", name="pk_hospital_services"),
    )
    op.create_index("ix_hospital_services_until", "hospital_services", ["until"])
    op.create_table(
        "hospital_service_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hospital_id", sa.Uuid(), nullable=False),
        sa.Column("capability", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("until", sa.DateTime(timezone=True)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"],
            name="fk_hospital_service_changes_hospital_id_hospitals", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_hospital_service_changes"),
    )
    op.create_index(
        "ix_hospital_service_changes_hospital_at", "hospital_service_changes", ["hospital_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_hospital_service_changes_hospital_at", table_name="hospital_service_changes")
    op.drop_table("hospital_service_changes")
    op.drop_index("ix_hospital_services_until", table_name="hospital_services")
    op.drop_table("hospital_services")
