"""Idempotency keys and the audit chain on a real PostgreSQL, kept fast enough for `make mutate`.

Each module gets a scratch database holding only the two tables (no migrations, no region), so
these tests run in about a second and belong to the fast set that mutation testing reruns.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from data.errors import InvalidInput
from data.idempotency import (
    KEY_RETENTION,
    IdempotencyKey,
    IdempotencyRecord,
    bind,
    claim,
    request_fingerprint,
)
from data.key_purge import purge_once
from identity import audit
from identity.audit import GENESIS, AuditEvent, AuditWriter, append_many
from identity.models import AuditEntry
from tests.conftest import ADMIN_URL


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    """A database of our own with just the idempotency and audit tables."""
    name = f"lifeline_core_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    engine = create_engine(url)
    IdempotencyRecord.metadata.create_all(
        engine, tables=[IdempotencyRecord.__table__, AuditEntry.__table__]
    )
    engine.dispose()
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(scratch_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(scratch_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


# --- idempotency keys (README: scoped to the caller, 24 hours, same key + other body is 422) --


def test_keys_are_kept_24_hours():
    assert timedelta(hours=24) == KEY_RETENTION


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "new\nline"])
def test_a_key_must_be_1_to_255_printable_characters(key):
    with pytest.raises(InvalidInput) as refused:
        IdempotencyKey("scope", key)
    assert refused.value.field == "Idempotency-Key"
    assert refused.value.detail == "Idempotency-Key must be 1 to 255 printable characters"


def test_the_longest_key_is_accepted():
    assert IdempotencyKey("scope", "k" * 255).key == "k" * 255


def test_the_fingerprint_is_sha256_of_the_canonical_json():
    body = {"b": [1, 2], "a": "é", "at": datetime(2026, 1, 1, tzinfo=UTC), "id": uuid.UUID(int=5)}
    canonical = (
        '{"a":"\\u00e9","at":"2026-01-01 00:00:00+00:00","b":[1,2],'
        '"id":"00000000-0000-0000-0000-000000000005"}'
    )
    assert request_fingerprint(body) == hashlib.sha256(canonical.encode()).hexdigest()
    assert request_fingerprint(dict(reversed(body.items()))) == request_fingerprint(body)


async def test_first_claim_owns_the_key_and_a_retry_gets_what_it_made(sessions):
    key = IdempotencyKey("phone:+358401234567", uuid.uuid4().hex)
    made = uuid.uuid4()
    async with sessions() as session:
        assert await claim(session, key=key, request_hash="h1", resource_type="case") is None
        await bind(session, key=key, resource_id=made)
        await session.commit()
    async with sessions() as session:
        again = await claim(session, key=key, request_hash="h1", resource_type="case")
        assert again is not None and again.resource_id == made
        assert again.expires_at - again.created_at == KEY_RETENTION


async def test_an_id_given_at_claim_is_stored(sessions):
    key = IdempotencyKey("user:1", uuid.uuid4().hex)
    made = uuid.uuid4()
    async with sessions() as session:
        assert await claim(session, key=key, request_hash="h", resource_type="case",
                           resource_id=made) is None
        await session.commit()
    async with sessions() as session:
        assert (await claim(session, key=key, request_hash="h",
                            resource_type="case")).resource_id == made


@pytest.mark.parametrize(("request_hash", "resource_type"), [("other", "case"), ("h", "unit")])
async def test_the_same_key_for_another_request_is_refused(sessions, request_hash, resource_type):
    key = IdempotencyKey("user:2", uuid.uuid4().hex)
    async with sessions() as session:
        await claim(session, key=key, request_hash="h", resource_type="case")
        await session.commit()
    async with sessions() as session:
        with pytest.raises(InvalidInput) as refused:
            await claim(session, key=key, request_hash=request_hash, resource_type=resource_type)
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.field == "Idempotency-Key"
    assert refused.value.detail == (
        "this Idempotency-Key was already used with a different request body"
    )


async def test_keys_are_scoped_to_their_caller(sessions):
    shared = uuid.uuid4().hex
    made = {"user:a": uuid.uuid4(), "user:b": uuid.uuid4()}
    async with sessions() as session:
        for scope in made:
            assert await claim(session, key=IdempotencyKey(scope, shared), request_hash=scope,
                               resource_type="case") is None
        await bind(session, key=IdempotencyKey("user:b", shared), resource_id=made["user:b"])
        await session.commit()
    async with sessions() as session:
        a = await claim(session, key=IdempotencyKey("user:a", shared), request_hash="user:a",
                        resource_type="case")
        b = await claim(session, key=IdempotencyKey("user:b", shared), request_hash="user:b",
                        resource_type="case")
    assert (a.scope, a.resource_id) == ("user:a", None)  # binding b did not touch a
    assert (b.scope, b.resource_id) == ("user:b", made["user:b"])


async def test_binding_one_key_leaves_the_callers_other_keys_alone(sessions):
    scope, first, second = "user:c", uuid.uuid4().hex, uuid.uuid4().hex
    made = uuid.uuid4()
    async with sessions() as session:
        for key in (first, second):
            await claim(session, key=IdempotencyKey(scope, key), request_hash="h",
                        resource_type="case")
        await bind(session, key=IdempotencyKey(scope, first), resource_id=made)
        await session.commit()
    async with sessions() as session:
        assert (await session.get(IdempotencyRecord, (scope, first))).resource_id == made
        assert (await session.get(IdempotencyRecord, (scope, second))).resource_id is None


async def expire(sessions, key: IdempotencyKey, by: timedelta) -> None:
    async with sessions() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.scope == key.scope, IdempotencyRecord.key == key.key)
            .values(expires_at=datetime.now(UTC) - by)
        )
        await session.commit()


async def test_an_expired_key_is_taken_over_as_new(sessions):
    key = IdempotencyKey("user:3", uuid.uuid4().hex)
    async with sessions() as session:
        await claim(session, key=key, request_hash="old", resource_type="case",
                    resource_id=uuid.uuid4())
        await session.commit()
    await expire(sessions, key, timedelta(seconds=1))
    async with sessions() as session:
        assert await claim(session, key=key, request_hash="new", resource_type="unit") is None
        await session.commit()
    async with sessions() as session:
        row = await session.get(IdempotencyRecord, (key.scope, key.key))
    assert (row.request_hash, row.resource_type, row.resource_id) == ("new", "unit", None)
    assert row.expires_at > datetime.now(UTC) + KEY_RETENTION - timedelta(minutes=1)


async def test_purge_drops_only_expired_keys(sessions, scratch_url):
    live, dead = IdempotencyKey("user:4", uuid.uuid4().hex), IdempotencyKey("user:4", "dead")
    libpq = scratch_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
        await purge_once(conn)
        async with sessions() as session:
            for key in (live, dead):
                await claim(session, key=key, request_hash="h", resource_type="case")
            await session.commit()
        await expire(sessions, dead, timedelta(seconds=1))
        assert await purge_once(conn) == 1
        assert await purge_once(conn) == 0
    async with sessions() as session:
        kept = set(await session.scalars(select(IdempotencyRecord.key)))
    assert live.key in kept and dead.key not in kept


async def test_simultaneous_claims_make_exactly_one_owner(sessions):
    key = IdempotencyKey("user:5", uuid.uuid4().hex)

    async def attempt() -> bool:
        async with sessions() as session:
            owner = await claim(session, key=key, request_hash="h", resource_type="case") is None
            await session.commit()
            return owner

    assert sorted(await asyncio.gather(attempt(), attempt(), attempt())) == [False, False, True]


# --- the audit chain: appended under a lock, walked by verify -----------------------------------


def event(n: int, **kw) -> AuditEvent:
    fields = {"actor": f"user:{n}", "action": "case.read", "outcome": "allowed"}
    return AuditEvent(**{**fields, **kw})


async def chain_rows(sessions) -> list:
    async with sessions() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def verify(url: str) -> audit.Verdict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return audit.verify(conn, batch=2)  # a small batch: the walk streams across pages
    finally:
        engine.dispose()


async def test_appended_rows_form_one_chain_from_genesis(sessions, scratch_url):
    async with sessions() as session:
        await session.execute(text("TRUNCATE audit_log"))
        await session.commit()
        assert await audit.count(db_session=session) == 0
    patient = uuid.uuid4()
    async with sessions() as session:
        first = await append_many(db_session=session, events=[event(1, patient_id=patient),
                                                              event(2)])
    async with sessions() as session:
        second = await append_many(
            db_session=session,
            events=[event(3, patient_id=patient, ip="10.1.2.3", priority=True,
                          details={"k": "v"}, purpose="break-glass reason")],
        )
    rows = await chain_rows(sessions)
    assert [r.seq for r in rows] == first + second and first == sorted(first)
    assert rows[0].previous_hash == GENESIS
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.previous_hash == before.record_hash
    for row in rows:
        assert audit.chain_hash(row.previous_hash, row, row.at) == row.record_hash
    assert rows[-1].details == {"k": "v"} and rows[-1].priority and str(rows[-1].ip) == "10.1.2.3"
    assert verify(scratch_url) == audit.Verdict(3, None, None)
    async with sessions() as session:
        assert await audit.count(db_session=session) == 3
        newest = await audit.for_patient(db_session=session, patient_id=patient, limit=5,
                                         before_seq=None)
        assert [r.seq for r in newest] == second + first[:1]  # newest first, only theirs
        one = await audit.for_patient(db_session=session, patient_id=patient, limit=1,
                                      before_seq=None)
        assert [r.seq for r in one] == second
        older = await audit.for_patient(db_session=session, patient_id=patient, limit=5,
                                        before_seq=second[0])
        assert [r.seq for r in older] == first[:1]


async def test_verify_names_a_tampered_row_beyond_the_first_page(sessions, scratch_url):
    async with sessions() as session:
        await append_many(db_session=session, events=[event(n) for n in range(5)])
    rows = await chain_rows(sessions)
    target = rows[-2]
    async with sessions() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == target.seq).values(actor="user:intruder")
        )
        await session.commit()
    verdict = verify(scratch_url)
    assert verdict.first_bad_seq == target.seq
    assert verdict.rows == len(rows) - 1
    assert verdict.problem == "content does not match record_hash"
    async with sessions() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.seq == target.seq).values(actor=target.actor)
        )
        await session.commit()
    assert verify(scratch_url).ok


async def test_the_writer_batches_concurrent_requests_into_one_chain(sessions, scratch_url):
    writer = AuditWriter(sessions, max_batch=3)
    before = len(await chain_rows(sessions))
    await asyncio.gather(*(writer.write(event(n, action="writer.test")) for n in range(7)))
    rows = await chain_rows(sessions)
    written = [r for r in rows if r.action == "writer.test"]
    assert len(rows) - before == 7 and len(written) == 7
    assert sorted(r.actor for r in written) == sorted(f"user:{n}" for n in range(7))
    assert verify(scratch_url).ok
    await writer.close()
    assert writer._task is not None and writer._task.done()
    # A closed writer starts again on the next write.
    await writer.write(event(99, action="writer.test"))
    assert len(await chain_rows(sessions)) == before + 8
    await writer.close()


async def test_a_row_the_database_refuses_fails_its_request_not_the_writer(sessions):
    writer = AuditWriter(sessions)
    with pytest.raises(Exception) as failed:
        await writer.write(event(1, outcome="x" * 100))  # longer than the column
    assert "value too long" in str(failed.value)
    await writer.write(event(2, action="after.failure"))
    assert any(r.action == "after.failure" for r in await chain_rows(sessions))
    await writer.close()


async def test_closing_an_idle_writer_is_a_no_op(sessions):
    await AuditWriter(sessions).close()


async def test_the_writer_task_is_named_for_the_hang_report(sessions):
    writer = AuditWriter(sessions)
    await writer.write(event(1, action="named.task"))
    assert writer._task.get_name() == "audit-writer"
    await writer.close()


async def test_close_gives_up_on_a_stuck_queue_after_its_timeout(sessions, scratch_url):
    """Shutdown must not hang behind a chain lock held elsewhere (rows wait, unwritten)."""
    with psycopg.connect(scratch_url.replace("+psycopg", ""), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (audit.CHAIN_LOCK,))
        writer = AuditWriter(sessions)
        stuck = asyncio.ensure_future(writer.write(event(1, action="stuck")))
        await asyncio.sleep(0)  # let the writer take the event and wait on the lock
        loop = asyncio.get_running_loop()
        started = loop.time()
        await writer.close(timeout_s=0.3)
        assert loop.time() - started < 60  # bounded (cancelling the waiting query may take a while)
        assert writer._task.done()
        holder.execute("SELECT pg_advisory_unlock(%s)", (audit.CHAIN_LOCK,))
    stuck.cancel()
