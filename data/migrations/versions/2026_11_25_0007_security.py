"""Security: MFA, lockout, data keys, hash-chained insert-only audit log, sealed fields, abuse flag.

Revision ID: 0007_security
Revises: 0006_sms
Create Date: 2026-11-25
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
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


# What this migration needs of identity.vault and identity.sealing, frozen as they were on
# 2026-11-25: a migration keeps doing what it did when written, whatever the live code becomes
# (and data/ imports nothing above it). Same KEK settings, blob format and AAD strings.
_DEV_KEYRING = "dev:" + base64.b64encode(hashlib.sha256(b"lifeline-dev-kek").digest()).decode()
_MAGIC = b"LF1"
_NONCE_BYTES = 12


class _KekSettings(BaseSettings):
    """``LIFELINE_IDENTITY_KEK`` or ``_KEK_FILE`` (formerly ``LIFELINE_KEK``), as the vault reads.

    The environment's names are the deployment's, not this migration's: they follow the renames.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: str = Field(default="development", validation_alias="LIFELINE_ENV")
    kek: str | None = Field(
        default=None, validation_alias=AliasChoices("LIFELINE_IDENTITY_KEK", "LIFELINE_KEK")
    )
    kek_file: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIFELINE_IDENTITY_KEK_FILE", "LIFELINE_KEK_FILE"),
    )


def _keyring() -> tuple[dict[str, bytes], str]:
    """(KEK by id, the active id): newest first, each ``id:base64`` of 32 bytes."""
    settings = _KekSettings()
    if settings.kek_file:
        text = Path(settings.kek_file).read_text().strip()
    elif settings.kek:
        text = settings.kek
    elif settings.env == "production":
        raise RuntimeError("set LIFELINE_IDENTITY_KEK or LIFELINE_IDENTITY_KEK_FILE in production")
    else:
        text = _DEV_KEYRING
    if settings.env == "production" and _DEV_KEYRING.split(":", 1)[1] in text:
        raise RuntimeError("the published development KEK may not be used in production")
    keys: dict[str, bytes] = {}
    for entry in filter(None, (e.strip() for e in text.replace("\n", ",").split(","))):
        kid, _, b64 = entry.partition(":")
        key = base64.b64decode(b64)
        if not kid or len(kid) > 32 or len(key) != 32:
            raise RuntimeError("each KEK entry is id:base64 of 32 bytes")
        keys[kid] = key
    if not keys:
        raise RuntimeError("the KEK keyring is empty")
    return keys, next(iter(keys))


def _unwrap(keys: dict[str, bytes], row: Any) -> bytes:
    """The data key of a ``data_keys`` row (its AAD binds it to its subject)."""
    if row.kek_id not in keys:
        raise RuntimeError(f"KEK {row.kek_id!r} is not in the keyring")
    aad = f"data-key:{row.subject}".encode()
    wrapped = bytes(row.wrapped_key)
    return AESGCM(keys[row.kek_id]).decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], aad)


def _data_key_for(conn: Any, keys: dict[str, bytes], active: str, subject: str) -> Any:
    """(key id, data key) of ``subject``, created and wrapped under the active KEK if missing."""
    query = sa.text("SELECT id, subject, kek_id, wrapped_key FROM data_keys WHERE subject = :s")
    row = conn.execute(query, {"s": subject}).first()
    if row is None:
        nonce = os.urandom(_NONCE_BYTES)
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = nonce + AESGCM(keys[active]).encrypt(
            nonce, data_key, f"data-key:{subject}".encode()
        )
        conn.execute(
            sa.text(
                "INSERT INTO data_keys (id, subject, kek_id, wrapped_key, created_at) "
                "VALUES (:i, :s, :k, :w, :t) ON CONFLICT (subject) DO NOTHING"
            ),
            {"i": uuid.uuid4(), "s": subject, "k": active, "w": wrapped,
             "t": datetime.now(UTC)},
        )
        row = conn.execute(query, {"s": subject}).one()
    return row.id.bytes, _unwrap(keys, row)


def _reseal(upgrade: bool) -> None:
    """Move legacy plaintext case notes into ciphertext (and back on downgrade)."""
    keys, active = _keyring()
    conn = op.get_bind()
    if upgrade:
        rows = conn.execute(
            sa.text("SELECT id, patient_id, notes FROM emergency_cases WHERE notes IS NOT NULL")
        ).all()
        for row in rows:
            subject = f"patient:{row.patient_id}" if row.patient_id else f"case:{row.id}"
            key_id, data_key = _data_key_for(conn, keys, active, subject)
            aad = f"emergency_cases.notes_sealed:{row.id}".encode()
            nonce = os.urandom(_NONCE_BYTES)
            blob = _MAGIC + key_id + nonce + AESGCM(data_key).encrypt(
                nonce, row.notes.encode(), aad
            )
            conn.execute(
                sa.text("UPDATE emergency_cases SET notes_sealed = :b WHERE id = :i"),
                {"b": blob, "i": row.id},
            )
    else:
        rows = conn.execute(
            sa.text("SELECT id, notes_sealed FROM emergency_cases WHERE notes_sealed IS NOT NULL")
        ).all()
        by_id = sa.text("SELECT id, subject, kek_id, wrapped_key FROM data_keys WHERE id = :i")
        for row in rows:
            blob = bytes(row.notes_sealed)
            if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 16 + _NONCE_BYTES + 16:
                raise RuntimeError("not a sealed value")
            start = len(_MAGIC) + 16
            key = conn.execute(by_id, {"i": uuid.UUID(bytes=blob[len(_MAGIC) : start])}).first()
            if key is None:
                raise RuntimeError("the data key of this value was deleted (crypto-shredded)")
            aad = f"emergency_cases.notes_sealed:{row.id}".encode()
            nonce, body = blob[start : start + _NONCE_BYTES], blob[start + _NONCE_BYTES :]
            conn.execute(
                sa.text("UPDATE emergency_cases SET notes = :n WHERE id = :i"),
                {"n": AESGCM(_unwrap(keys, key)).decrypt(nonce, body, aad).decode(), "i": row.id},
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
