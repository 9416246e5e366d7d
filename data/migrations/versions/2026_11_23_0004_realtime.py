"""Real-time relay: per-channel sequence numbers on the outbox and a NOTIFY on insert.

Revision ID: 0004_realtime
Revises: 0003_case_routing
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_realtime"
down_revision = "0003_case_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("seq", sa.BigInteger(), nullable=True))
    # Resume reads `WHERE channel = ? AND seq > ? ORDER BY seq`; uniqueness also stops two
    # relays that briefly both believe they hold the lock from handing out the same seq.
    op.create_index("uq_outbox_channel_seq", "outbox", ["channel", "seq"], unique=True)
    op.create_index(
        "ix_outbox_unsequenced", "outbox", ["id"], postgresql_where=sa.text("seq IS NULL")
    )
    op.execute(
        """
        CREATE FUNCTION lifeline_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('lifeline_outbox', '');
            RETURN NULL;
        END;
        $$
        """
    )
    # Statement-level: one wake-up per INSERT statement; NOTIFY is delivered at commit.
    op.execute(
        """
        CREATE TRIGGER trg_outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION lifeline_outbox_notify()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS lifeline_outbox_notify()")
    op.drop_index("ix_outbox_unsequenced", table_name="outbox")
    op.drop_index("uq_outbox_channel_seq", table_name="outbox")
    op.drop_column("outbox", "seq")
