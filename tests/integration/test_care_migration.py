"""0008_care applies, matches the ORM models, holds the overlap constraint and rolls back."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from data.base import Base
from data.migrate import downgrade, upgrade
from data.models import import_all_models
from tests.conftest import ADMIN_URL

CARE_TABLES = {"appointments", "patients", "patient_allergies", "patient_conditions",
               "appointment_waitlist", "care_access_log"}
NEW_TABLES = CARE_TABLES - {"appointments", "patients"}


@pytest.fixture
def scratch_url():
    name = f"lifeline_care_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and table.name in CARE_TABLES


def test_upgrade_matches_models_and_downgrade_removes_it(scratch_url):
    import_all_models()
    upgrade(scratch_url, "0008_care")
    engine = sa.create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            assert compare_metadata(context, Base.metadata) == []
            constraints = set(conn.scalars(sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'appointments'::regclass")))
            assert "ex_appointments_doctor_slot" in constraints
        downgrade(scratch_url, "-1")  # just 0008_care, wherever the chain puts it
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not set(inspector.get_table_names()) & NEW_TABLES
            columns = {c["name"] for c in inspector.get_columns("appointments")}
            assert "checked_in_at" not in columns and "reminder_sms_id" not in columns
            assert "phone" not in {c["name"] for c in inspector.get_columns("patients")}
        upgrade(scratch_url, "0008_care")
    finally:
        engine.dispose()
