"""Authority that ends: sessions remember their second factor, doctors accept affiliations, and
the server connects as a least-privilege role.

The role ``lifeline_app`` (LIFELINE_APP_DB_USER) is cluster-wide and may already exist (another
database of the same cluster); it gets a password only when LIFELINE_APP_DB_PASSWORD is set.
It owns nothing, so it cannot ALTER a table or disable a trigger; on ``audit_log`` it may only
INSERT and SELECT. Tables created by later migrations (run by the same owner) are granted to it
by default privileges.

Revision ID: 0010_authority
Revises: 0010_unverified_caller
Create Date: 2026-12-05
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

revision = "0010_authority"
down_revision = "0010_unverified_caller"
branch_labels = None
depends_on = None


def _role() -> str:
    role = os.environ.get("LIFELINE_APP_DB_USER", "lifeline_app")
    if not role.replace("_", "").isalnum():
        raise ValueError("LIFELINE_APP_DB_USER must be a plain identifier")
    return role


def _named(statement: str) -> str:
    """``statement`` with ``{role}`` replaced by the checked role name (an identifier cannot be a
    bind parameter)."""
    return statement.replace("{role}", _role())


def _sql(statement: str) -> None:
    op.execute(_named(statement))


def upgrade() -> None:
    op.add_column(
        "refresh_tokens",
        sa.Column("mfa", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "doctor_hospital_affiliations", sa.Column("accepted_at", sa.DateTime(), nullable=True)
    )
    # Two migrations running at once (parallel test runs) may both try to create the role.
    _sql("""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$""")
    password = os.environ.get("LIFELINE_APP_DB_PASSWORD")
    if password:
        bind = op.get_bind()
        quoted = bind.execute(sa.text("SELECT quote_literal(:p)"), {"p": password}).scalar()
        op.execute(_named("ALTER ROLE {role} PASSWORD ") + quoted)
    _sql("""
DO $$ BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO {role}', current_database());
END $$""")
    _sql("GRANT USAGE ON SCHEMA public TO {role}")
    _sql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    _sql("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}")
    _sql("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    _sql(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
    )
    _sql(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}"
    )


def downgrade() -> None:
    _sql(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {role}"
    )
    _sql(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {role}"
    )
    _sql("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    _sql("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
    _sql("REVOKE USAGE ON SCHEMA public FROM {role}")
    _sql("""
DO $$ BEGIN
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM {role}', current_database());
END $$""")
    # The role itself stays: other databases of the cluster may still use it.
    op.drop_column("doctor_hospital_affiliations", "accepted_at")
    op.drop_column("refresh_tokens", "mfa")
