"""The hash-chained audit trail: what is written, that it is insert-only, that tampering shows."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from sqlalchemy import select

from identity.models import AuditEntry, Patient
from tests.api.test_service_boundaries import run_cli
from tests.conftest import sos_body

CASES = "/api/v1/emergency/cases"


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def rows_after(app, seq: int, **filters) -> list[AuditEntry]:
    async with app.state.session_factory() as session:
        query = select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)
        for name, value in filters.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(await session.scalars(query))


async def last_seq(app) -> int:
    async with app.state.session_factory() as session:
        return (
            await session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
            or 0
        )


async def test_reads_logins_and_denials_are_audited(app, client, world):
    start = await last_seq(app)
    case_id = world.bound_case["id"]
    assert (
        await client.get(f"{CASES}/{case_id}", headers=world.operator.headers)
    ).status_code == 200
    assert (
        await client.get(f"{CASES}/{case_id}", headers=world.patient.headers)
    ).status_code == 404
    assert (await client.get(CASES, headers=world.patient.headers)).status_code == 403
    await client.post(
        "/api/v1/auth/login", json={"email": "ghost@lifeline.test", "password": "x" * 12}
    )
    rows = await rows_after(app, start)
    read = next(r for r in rows if r.actor_user_id == world.operator.user_id)
    assert read.action == "GET /api/v1/emergency/cases/{case_id}" and read.object_id == case_id
    assert (
        read.outcome == "allowed"
        and read.role == "emergency_operator"
        and read.object_type == "case"
    )
    assert str(read.ip) == "127.0.0.1" and read.at is not None
    denied = [r for r in rows if r.actor_user_id == world.patient.user_id]
    assert {r.outcome for r in denied} == {"denied"} and len(denied) == 2
    login = next(r for r in rows if r.action == "POST /api/v1/auth/login")
    assert login.outcome == "denied" and login.actor == "anonymous"
    assert "ghost" not in str(login.details)  # the account is named by a keyed hash only
    assert len(login.details["account"]) == 64
    for row in rows:
        assert len(row.previous_hash) == 64 and len(row.record_hash) == 64


async def test_the_application_cannot_update_or_delete_audit_rows(app, client, database_url, world):
    await client.get(f"{CASES}/{world.bound_case['id']}", headers=world.operator.headers)
    with psycopg.connect(plain(database_url)) as conn:
        for statement in (
            "UPDATE audit_log SET outcome = 'allowed' WHERE seq = (SELECT max(seq) FROM audit_log)",
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="insert-only"):
                conn.execute(statement)
            conn.rollback()


async def test_tampering_is_found_by_audit_verify(app, client, database_url, world):
    await client.get(f"{CASES}/{world.bound_case['id']}", headers=world.operator.headers)
    ok = await asyncio.to_thread(run_cli, "audit", "verify", database_url=database_url)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    target = (await rows_after(app, 0))[-1]
    with psycopg.connect(plain(database_url), autocommit=True) as conn:
        # Only a superuser who first disables the guard can do this, and it still shows.
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete")
        try:
            conn.execute(
                "UPDATE audit_log SET outcome = 'allowed', purpose = 'cover-up' WHERE seq = %s",
                (target.seq,),
            )
            bad = await asyncio.to_thread(run_cli, "audit", "verify", database_url=database_url)
        finally:
            conn.execute(
                "UPDATE audit_log SET outcome = %s, purpose = %s WHERE seq = %s",
                (target.outcome, target.purpose, target.seq),
            )
            conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete")
    assert bad.returncode == 1
    assert f"seq {target.seq}" in bad.stdout.replace("\n", " "), bad.stdout


async def test_patient_audit_for_super_admin_only_and_itself_audited(app, client, world):
    async with app.state.session_factory() as session:
        patient = Patient(user_id=world.patient.user_id, full_name="Aino Audit")
        session.add(patient)
        await session.commit()
    own = await client.post(
        CASES, json=sos_body(patient_id=str(patient.id)), headers=world.patient.headers
    )
    assert own.status_code == 201, own.text
    await client.get(f"{CASES}/{own.json()['id']}", headers=world.operator.headers)
    url = f"/api/v1/audit?patient_id={patient.id}"
    for who in (world.operator, world.doctor, world.admin_h1, world.patient):
        assert (await client.get(url, headers=who.headers)).status_code == 403
    first = await client.get(url, headers=world.super_admin.headers)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    actions = [r["action"] for r in first.json()]
    assert "GET /api/v1/emergency/cases/{case_id}" in actions
    second = (await client.get(url, headers=world.super_admin.headers)).json()
    assert second[0]["action"] == "GET /api/v1/audit" and second[0]["outcome"] == "allowed"
    assert second[0]["actor"] == f"user:{world.super_admin.user_id}"


async def test_break_glass_is_allowed_flagged_and_a_priority_alert(app, client, world, caplog):
    url = f"{CASES}/{world.bound_case['id']}"  # bound to h1; the doctor works at h2
    assert (await client.get(url, headers=world.doctor.headers)).status_code == 404
    short = {**world.doctor.headers, "X-Break-Glass-Reason": "because"}
    assert (await client.get(url, headers=short)).status_code == 404  # a reason, not a word
    start = await last_seq(app)
    reason = "unconscious patient arriving, need history"
    headers = {**world.doctor.headers, "X-Break-Glass-Reason": reason}
    with caplog.at_level("WARNING", logger="lifeline.audit"):
        r = await client.get(url, headers=headers)
    assert r.status_code == 200
    row = (await rows_after(app, start, actor_user_id=world.doctor.user_id))[0]
    assert row.priority is True and row.purpose == f"break-glass: {reason}"
    assert row.details["grant"] == "break_glass"
    assert any("break-glass" in m for m in caplog.messages)
    alerts = (await client.get(url, headers=world.operator.headers)).json()["alerts"]
    assert any(a["kind"] == "break_glass" and a["level"] == "red" for a in alerts)
    # A patient cannot break glass.
    other = {**world.other_patient.headers, "X-Break-Glass-Reason": reason}
    assert (await client.get(url, headers=other)).status_code == 404


async def test_concurrent_appends_keep_one_chain(app, client, database_url, world):
    url = f"{CASES}/{world.bound_case['id']}"
    await asyncio.gather(*(client.get(url, headers=world.operator.headers) for _ in range(20)))
    ok = await asyncio.to_thread(run_cli, "audit", "verify", database_url=database_url)
    assert ok.returncode == 0, ok.stdout


async def test_concurrent_requests_share_chained_batches(app):
    """A burst of audited calls is chained in batches: every row present, the chain intact."""
    from identity.audit import AuditEvent, walk

    start = await last_seq(app)
    writer = app.state.audit_writer
    marker = uuid.uuid4().hex
    events = [
        AuditEvent(actor="test", action=f"burst {marker} {i}", outcome="allowed")
        for i in range(60)
    ]
    await asyncio.gather(*(writer.write(e) for e in events))
    rows = await rows_after(app, start)
    assert sorted(r.action for r in rows if marker in r.action) == sorted(e.action for e in events)
    async with app.state.session_factory() as session:
        everything = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert walk(everything).ok
