"""0008_care and 0014 apply, match the ORM models, hold the overlap constraints and roll back."""

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
               "appointment_waitlist", "care_access_log", "doctor_schedules"}
NEW_TABLES = CARE_TABLES - {"appointments", "patients", "doctor_schedules"}


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
    upgrade(scratch_url, "head")
    engine = sa.create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            assert compare_metadata(context, Base.metadata) == []
            constraints = set(conn.scalars(sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'appointments'::regclass")))
            assert "ex_appointments_doctor_slot" in constraints
        downgrade(scratch_url, "0008_care")
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


def _constraint(conn, table: str, name: str) -> str | None:
    return conn.scalar(sa.text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND conname = :n"), {"t": table, "n": name})


def test_0014_started_visits_and_schedule_overlaps_up_and_down(scratch_url):
    upgrade(scratch_url, "head")
    engine = sa.create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            assert "in_progress" in _constraint(conn, "appointments", "ex_appointments_doctor_slot")
            lines = _constraint(conn, "doctor_schedules", "ex_doctor_schedules_no_overlap")
            assert "timerange(start_time, end_time) WITH &&" in lines
            assert "local_names" in {c["name"] for c in sa.inspect(conn).get_columns("hospitals")}
        downgrade(scratch_url, "0013_street_local_names")
        with engine.connect() as conn:
            assert "in_progress" not in _constraint(
                conn, "appointments", "ex_appointments_doctor_slot")
            assert _constraint(conn, "doctor_schedules", "ex_doctor_schedules_no_overlap") is None
            assert conn.scalar(sa.text("SELECT to_regtype('timerange')")) is None
            inspector = sa.inspect(conn)
            assert "started_at" not in {c["name"] for c in inspector.get_columns("appointments")}
            assert "local_names" not in {c["name"] for c in inspector.get_columns("hospitals")}
        upgrade(scratch_url, "head")
    finally:
        engine.dispose()


def test_0014_refuses_to_upgrade_over_overlapping_schedule_lines(scratch_url):
    """Lines that raced in before the constraint are named, not silently dropped."""
    upgrade(scratch_url, "0013_street_local_names")
    engine = sa.create_engine(scratch_url)
    doctor, hospital = uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO hospitals (id, name, location, is_emergency_enabled, capabilities, "
                "ed_status, created_at) VALUES (:id, 'H', ST_SetSRID(ST_MakePoint(0, 0), 4326), "
                "true, '{}', 'open', now())"), {"id": hospital})
            conn.execute(sa.text(
                "INSERT INTO doctors (id, full_name, license_no, specialty, languages, "
                "is_verified) VALUES (:id, 'D', :lic, 'GP', '{}', true)"),
                {"id": doctor, "lic": uuid.uuid4().hex})
            for line, start in ((first, "09:00"), (second, "10:00")):
                conn.execute(sa.text(
                    "INSERT INTO doctor_schedules (id, doctor_id, hospital_id, weekday, "
                    "start_time, end_time, slot_minutes) VALUES (:id, :d, :h, 1, :s, '11:00', 15)"),
                    {"id": line, "d": doctor, "h": hospital, "s": start})
        with pytest.raises(RuntimeError) as refused:
            upgrade(scratch_url, "head")
        assert "1 pairs of overlapping doctor_schedules lines" in str(refused.value)
        assert str(first) in str(refused.value) or str(second) in str(refused.value)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM doctor_schedules WHERE id = :id"), {"id": second})
        upgrade(scratch_url, "head")
    finally:
        engine.dispose()
