"""Security: MFA, lockout, data keys, hash-chained insert-only audit log, sealed fields, abuse flag.

Revision ID: 0007_security
Revises: 0006_sms
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_security"
down_revision = "0006_sms"
branch_labels = None
depends_on = None

INSERT_ONLY = """
CREATE FUNCTION audit_log_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is insert-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_insert_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_insert_only();
"""


def _reseal(upgrade: bool) -> None:
    """Move legacy plaintext case notes into ciphertext (and back on downgrade)."""
    from identity import sealing, vault

    conn = op.get_bind()
    if upgrade:
        rows = conn.execute(
            sa.text("SELECT id, patient_id, notes FROM emergency_cases WHERE notes IS NOT NULL")
        ).all()
        for row in rows:
            subject = f"patient:{row.patient_id}" if row.patient_id else f"case:{row.id}"
            key_id, data_key = sealing.data_key_for(conn, subject)
            aad = f"emergency_cases.notes_sealed:{row.id}".encode()
            blob = vault.seal(row.notes, data_key=data_key, key_id=key_id, aad=aad)
            conn.execute(
                sa.text("UPDATE emergency_cases SET notes_sealed = :b WHERE id = :i"),
                {"b": blob, "i": row.id},
            )
    else:
        rows = conn.execute(
            sa.text("SELECT id, notes_sealed FROM emergency_cases WHERE notes_sealed IS NOT NULL")
        ).all()
        for row in rows:
            blob = bytes(row.notes_sealed)
            data_key = sealing.data_key_by_id(conn, vault.key_id_of(blob))
            aad = f"emergency_cases.notes_sealed:{row.id}".encode()
            conn.execute(
                sa.text("UPDATE emergency_cases SET notes = :n WHERE id = :i"),
                {"n": vault.open_sealed(blob, data_key=data_key, aad=aad), "i": row.id},
            )


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.add_column("users", sa.Column("totp_secret_sealed", sa.LargeBinary()))
    op.add_column("users", sa.Column("totp_enabled_at", tz))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger()))
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("locked_until", tz))
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", tz),
    )
    op.create_index("ix_mfa_recovery_codes_user_id", "mfa_recovery_codes", ["user_id"])
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, unique=True),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("rotated_at", tz),
    )
    op.create_index("ix_data_keys_kek_id", "data_keys", ["kek_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("actor_user_id", sa.Uuid()),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("role", sa.String(64)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32)),
        sa.Column("object_id", sa.String(64)),
        sa.Column("patient_id", sa.Uuid()),
        sa.Column("purpose", sa.Text()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("ip", postgresql.INET()),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_patient_id", "audit_log", ["patient_id"])
    op.execute(INSERT_ONLY)
    op.add_column("emergency_cases", sa.Column("notes_sealed", sa.LargeBinary()))
    op.add_column(
        "emergency_cases",
        sa.Column("suspected_abuse", sa.Boolean(), nullable=False, server_default="false"),
    )
    _reseal(upgrade=True)
    op.drop_column("emergency_cases", "notes")
    op.add_column("patients", sa.Column("national_id_hmac", sa.String(64)))
    op.create_index("ix_patients_national_id_hmac", "patients", ["national_id_hmac"])
    op.add_column("medical_records", sa.Column("notes_sealed", sa.LargeBinary()))


def downgrade() -> None:
    op.drop_column("medical_records", "notes_sealed")
    op.drop_index("ix_patients_national_id_hmac", table_name="patients")
    op.drop_column("patients", "national_id_hmac")
    op.add_column("emergency_cases", sa.Column("notes", sa.Text()))
    _reseal(upgrade=False)
    op.drop_column("emergency_cases", "suspected_abuse")
    op.drop_column("emergency_cases", "notes_sealed")
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION audit_log_insert_only()")
    op.drop_table("data_keys")
    op.drop_table("mfa_recovery_codes")
    for column in ("locked_until", "failed_logins", "totp_last_step", "totp_enabled_at",
                   "totp_secret_sealed"):
        op.drop_column("users", column)
