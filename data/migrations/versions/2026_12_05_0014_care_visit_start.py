"""Care (issue 25): a started visit (``in_progress``, ``started_at``) that still holds the slot;
no two overlapping weekly schedule lines of one doctor (exclusion constraint, so two adds at
the same instant cannot both win); hospitals keep OSM ``name:<lang>`` for the maps.

Revision ID: 0014_care_visit_start
Revises: 0013_street_local_names
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014_care_visit_start"
down_revision = "0013_street_local_names"
branch_labels = None
depends_on = None

OLD_HOLDING = "status IN ('booked', 'confirmed', 'checked_in', 'completed')"
HOLDING = "status IN ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed')"

OVERLAPS = """
SELECT a.id, b.id FROM doctor_schedules a JOIN doctor_schedules b
  ON a.doctor_id = b.doctor_id AND a.weekday = b.weekday AND a.id < b.id
 AND a.start_time < b.end_time AND b.start_time < a.end_time
"""


def _slot_constraint(holding: str) -> None:
    op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_doctor_slot")
    op.execute(
        "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_doctor_slot "
        "EXCLUDE USING gist (doctor_id WITH =, "
        "tstzrange(scheduled_start, scheduled_end) WITH &&) "
        f"WHERE ({holding})"
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.add_column("appointments", sa.Column("started_at", sa.DateTime(timezone=True)))
    _slot_constraint(HOLDING)

    clashes = op.get_bind().execute(sa.text(OVERLAPS)).all()
    if clashes:
        pairs = ", ".join(f"{a} & {b}" for a, b in clashes[:10])
        raise RuntimeError(
            f"{len(clashes)} pairs of overlapping doctor_schedules lines ({pairs}): delete one "
            "of each pair (DELETE .../doctors/{d}/schedules/{s}) and upgrade again"
        )
    # PostgreSQL has no range type over time of day: one made for this constraint.
    op.execute("CREATE TYPE timerange AS RANGE (subtype = time)")
    op.execute(
        "ALTER TABLE doctor_schedules ADD CONSTRAINT ex_doctor_schedules_no_overlap "
        "EXCLUDE USING gist (doctor_id WITH =, weekday WITH =, "
        "timerange(start_time, end_time) WITH &&)"
    )
    op.add_column("hospitals", sa.Column("local_names", JSONB()))


def downgrade() -> None:
    op.drop_column("hospitals", "local_names")
    op.execute("ALTER TABLE doctor_schedules DROP CONSTRAINT ex_doctor_schedules_no_overlap")
    op.execute("DROP TYPE timerange")
    # A started visit goes back to checked in: the older schema has no in_progress.
    op.execute("UPDATE appointments SET status = 'checked_in' WHERE status = 'in_progress'")
    _slot_constraint(OLD_HOLDING)
    op.drop_column("appointments", "started_at")
