"""Ambulance fleet: units, GPS trail, unit events, case alerts; dispatch crew clock.

Revision ID: 0005_units
Revises: 0004_realtime
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0005_units"
down_revision = "0004_realtime"
branch_labels = None
depends_on = None

DISPATCH_TIMES = (
    "en_route_at",
    "on_scene_at",
    "transporting_at",
    "at_hospital_at",
    "handover_at",
    "acknowledged_at",
    "completed_at",
)


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_sign", sa.String(32), nullable=False),
        sa.Column("type", sa.String(3), nullable=False),
        sa.Column("station", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("crew_phones", postgresql.ARRAY(sa.String(20)), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_case_id", sa.Uuid(), nullable=True),
        sa.Column("last_position", Geometry("POINT", srid=4326, spatial_index=False)),
        sa.Column("last_position_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("type IN ('ALS', 'BLS')", name="ck_units_type"),
        sa.ForeignKeyConstraint(
            ["current_case_id"], ["emergency_cases.id"],
            name="fk_units_current_case_id_emergency_cases",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("call_sign", name="uq_units_call_sign"),
    )
    op.create_index("ix_units_status", "units", ["status"])
    op.create_table(
        "unit_positions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("position", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("heading", sa.Float()),
        sa.Column("speed", sa.Float()),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_unit_positions_unit_id_units", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unit_positions"),
    )
    op.create_index("ix_unit_positions_unit_recorded", "unit_positions", ["unit_id", "recorded_at"])
    op.create_table(
        "unit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid()),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_unit_events_unit_id_units", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["emergency_cases.id"], name="fk_unit_events_case_id_emergency_cases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unit_events"),
    )
    op.create_index("ix_unit_events_unit_id", "unit_events", ["unit_id"])
    op.create_index("ix_unit_events_case_at", "unit_events", ["case_id", "at"])
    op.create_table(
        "case_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["case_id"], ["emergency_cases.id"],
            name="fk_case_alerts_case_id_emergency_cases", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_alerts"),
    )
    op.create_index("ix_case_alerts_case_kind", "case_alerts", ["case_id", "kind"], unique=True)

    op.add_column("emergency_dispatches", sa.Column("reply_code", sa.String(8)))
    op.add_column("emergency_dispatches", sa.Column("recommendation", postgresql.JSONB()))
    for column in DISPATCH_TIMES:
        if column != "completed_at":
            op.add_column("emergency_dispatches", sa.Column(column, sa.DateTime(timezone=True)))
    op.add_column("emergency_dispatches", sa.Column("acknowledged_by", sa.Uuid()))
    op.create_foreign_key(
        "fk_emergency_dispatches_acknowledged_by_users",
        "emergency_dispatches", "users", ["acknowledged_by"], ["id"],
    )
    op.create_foreign_key(
        "fk_emergency_dispatches_unit_id_units",
        "emergency_dispatches", "units", ["unit_id"], ["id"],
    )
    op.create_index(
        "uq_emergency_dispatches_active_unit",
        "emergency_dispatches",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("completed_at IS NULL AND unit_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_emergency_dispatches_active_unit", table_name="emergency_dispatches")
    op.drop_constraint(
        "fk_emergency_dispatches_unit_id_units", "emergency_dispatches", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_emergency_dispatches_acknowledged_by_users", "emergency_dispatches", type_="foreignkey"
    )
    op.drop_column("emergency_dispatches", "acknowledged_by")
    for column in DISPATCH_TIMES:
        if column != "completed_at":
            op.drop_column("emergency_dispatches", column)
    op.drop_column("emergency_dispatches", "recommendation")
    op.drop_column("emergency_dispatches", "reply_code")
    op.drop_index("ix_case_alerts_case_kind", table_name="case_alerts")
    op.drop_table("case_alerts")
    op.drop_index("ix_unit_events_case_at", table_name="unit_events")
    op.drop_index("ix_unit_events_unit_id", table_name="unit_events")
    op.drop_table("unit_events")
    op.drop_index("ix_unit_positions_unit_recorded", table_name="unit_positions")
    op.drop_table("unit_positions")
    op.drop_index("ix_units_status", table_name="units")
    op.drop_table("units")
