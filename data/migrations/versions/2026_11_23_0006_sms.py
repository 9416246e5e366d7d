"""SMS message outbox (outbound crew links, inbound crew replies).

Revision ID: 0006_sms
Revises: 0005_units
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sms"
down_revision = "0005_units"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("case_id", sa.Uuid()),
        sa.Column("unit_id", sa.Uuid()),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("from_number", sa.String(20)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_sid", sa.String(64)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["emergency_cases.id"], name="fk_sms_messages_case_id_emergency_cases"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_sms_messages_unit_id_units"),
        sa.PrimaryKeyConstraint("id", name="pk_sms_messages"),
        sa.UniqueConstraint("provider_sid", name="uq_sms_messages_provider_sid"),
    )
    op.create_index("ix_sms_messages_case_created", "sms_messages", ["case_id", "created_at"])
    op.create_index(
        "ix_sms_messages_due",
        "sms_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_sms_messages_due", table_name="sms_messages")
    op.drop_index("ix_sms_messages_case_created", table_name="sms_messages")
    op.drop_table("sms_messages")
