"""Care: no double booking (exclusion constraint), appointment clock, waitlist, allergies,
conditions, patient phone and the access log of break-glass and emergency-summary reads.

Revision ID: 0008_care
Revises: 0006_sms
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_care"
down_revision = "0007_security"
branch_labels = None
depends_on = None

#: Statuses that hold a doctor's time; the others free the slot for someone else.
HOLDING = "status IN ('booked', 'confirmed', 'checked_in', 'completed')"

APPOINTMENT_CLOCK = ("confirmed_at", "checked_in_at", "completed_at", "cancelled_at", "no_show_at")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name in APPOINTMENT_CLOCK:
        op.add_column("appointments", sa.Column(name, sa.DateTime(timezone=True)))
    op.add_column("appointments", sa.Column("cancel_reason", sa.Text()))
    op.add_column("appointments", sa.Column("rescheduled_from_id", sa.Uuid()))
    op.add_column("appointments", sa.Column("reminder_sms_id", sa.Uuid()))
    op.create_foreign_key(
        "fk_appointments_rescheduled_from_id_appointments",
        "appointments", "appointments", ["rescheduled_from_id"], ["id"],
    )
    op.create_foreign_key(
        "fk_appointments_reminder_sms_id_sms_messages",
        "appointments", "sms_messages", ["reminder_sms_id"], ["id"], ondelete="SET NULL",
    )
    op.create_check_constraint(
        "ck_appointments_time_order", "appointments", "scheduled_end > scheduled_start"
    )
    # Two live appointments of one doctor never overlap: the database refuses the second.
    op.execute(
        "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_doctor_slot "
        "EXCLUDE USING gist (doctor_id WITH =, "
        "tstzrange(scheduled_start, scheduled_end) WITH &&) "
        f"WHERE ({HOLDING})"
    )
    op.add_column("patients", sa.Column("phone", sa.String(20)))

    op.create_table(
        "patient_allergies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("substance", sa.String(120), nullable=False),
        sa.Column("reaction", sa.Text()),
        sa.Column("severity", sa.String(16)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"],
            name="fk_patient_allergies_patient_id_patients", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patient_allergies"),
    )
    op.create_index("ix_patient_allergies_patient_id", "patient_allergies", ["patient_id"])
    op.create_table(
        "patient_conditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(32)),
        sa.Column("clinical_status", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"],
            name="fk_patient_conditions_patient_id_patients", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patient_conditions"),
    )
    op.create_index("ix_patient_conditions_patient_id", "patient_conditions", ["patient_id"])
    op.create_table(
        "appointment_waitlist",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offered_hospital_id", sa.Uuid()),
        sa.Column("offered_start", sa.DateTime(timezone=True)),
        sa.Column("offered_end", sa.DateTime(timezone=True)),
        sa.Column("offered_at", sa.DateTime(timezone=True)),
        sa.Column("appointment_id", sa.Uuid()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("not_after > not_before", name="ck_appointment_waitlist_window"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"],
            name="fk_appointment_waitlist_patient_id_patients", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"],
            name="fk_appointment_waitlist_doctor_id_doctors", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offered_hospital_id"], ["hospitals.id"],
            name="fk_appointment_waitlist_offered_hospital_id_hospitals",
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"],
            name="fk_appointment_waitlist_appointment_id_appointments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointment_waitlist"),
    )
    op.create_index(
        "ix_appointment_waitlist_doctor_status_created",
        "appointment_waitlist", ["doctor_id", "status", "created_at"],
    )
    op.create_table(
        "care_access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid()),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid()),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("basis", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_care_access_log_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"],
            name="fk_care_access_log_patient_id_patients", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["emergency_cases.id"], name="fk_care_access_log_case_id_emergency_cases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_care_access_log"),
    )
    op.create_index("ix_care_access_log_patient_at", "care_access_log", ["patient_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_care_access_log_patient_at", table_name="care_access_log")
    op.drop_table("care_access_log")
    op.drop_index(
        "ix_appointment_waitlist_doctor_status_created", table_name="appointment_waitlist"
    )
    op.drop_table("appointment_waitlist")
    op.drop_index("ix_patient_conditions_patient_id", table_name="patient_conditions")
    op.drop_table("patient_conditions")
    op.drop_index("ix_patient_allergies_patient_id", table_name="patient_allergies")
    op.drop_table("patient_allergies")
    op.drop_column("patients", "phone")
    op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_doctor_slot")
    op.drop_constraint("ck_appointments_time_order", "appointments", type_="check")
    op.drop_constraint(
        "fk_appointments_reminder_sms_id_sms_messages", "appointments", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_appointments_rescheduled_from_id_appointments", "appointments", type_="foreignkey"
    )
    for name in ("reminder_sms_id", "rescheduled_from_id", "cancel_reason", *APPOINTMENT_CLOCK):
        op.drop_column("appointments", name)
