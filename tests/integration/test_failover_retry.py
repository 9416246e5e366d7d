"""SOS intake retried once when its database connection dies, against the real PostgreSQL.

The primary failing over looks to the app like its connection being cut; the server's own
``pg_terminate_backend`` does exactly that, at the moment the test chooses.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from data.db import async_session_factory, make_async_engine
from data.failover import lost_connection, retry_once_on_failover
from data.idempotency import IdempotencyKey
from data.settings import DataSettings
from dispatch import service as case_service
from dispatch.models import EmergencyCase
from dispatch.schemas import SosRequest
from dispatch.settings import get_dispatch_settings
from tests.conftest import ADMIN_URL, random_phone


@pytest.fixture
async def sessions(database_url):
    engine = make_async_engine(DataSettings(DATABASE_URL=database_url))
    yield async_session_factory(engine)
    await engine.dispose()


def cut(pid: int) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


async def backend_pid(session) -> int:
    return (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def stored(sessions, phone: str) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(EmergencyCase)
            .where(EmergencyCase.reporter_phone == phone)
        )


def sos(phone: str) -> SosRequest:
    return SosRequest(lat=60.1699, lng=24.9384, symptom_category="chest_pain",
                      reporter_phone=phone)


async def test_a_commit_whose_answer_was_lost_is_answered_as_a_replay(sessions):
    phone = random_phone()
    key = IdempotencyKey(scope=f"phone:{phone}", key=str(uuid.uuid4()))
    calls = []

    async def raise_on(session):
        calls.append(session)
        raised = await case_service.raise_case(
            db_session=session, request=sos(phone),
            actor=case_service.Actor(None, f"reporter:{phone}"), idempotency_key=key,
            settings=get_dispatch_settings(),
        )
        if len(calls) == 1:  # committed, then the server went away before we heard back
            cut(await backend_pid(session))
            await session.execute(text("SELECT 1"))
        return raised

    async with sessions() as session:
        raised = await retry_once_on_failover(session, sessions, raise_on)
    assert len(calls) == 2 and calls[0] is not calls[1]
    assert raised.replayed is True
    assert await stored(sessions, phone) == 1


async def test_a_connection_cut_before_the_work_is_retried_on_a_new_one(sessions):
    phone = random_phone()
    key = IdempotencyKey(scope=f"phone:{phone}", key=str(uuid.uuid4()))
    async with sessions() as session:
        pid = await backend_pid(session)
    cut(pid)  # the pooled connection is dead; the pool hands it out again without a ping

    calls = []

    async def raise_on(session):
        calls.append(session)
        return await case_service.raise_case(
            db_session=session, request=sos(phone),
            actor=case_service.Actor(None, f"reporter:{phone}"), idempotency_key=key,
            settings=get_dispatch_settings(),
        )

    async with sessions() as session:
        raised = await retry_once_on_failover(session, sessions, raise_on)
    assert len(calls) == 2
    assert raised.replayed is False
    assert await stored(sessions, phone) == 1


async def test_a_wrong_statement_is_not_retried(sessions):
    calls = []

    async def broken(session):
        calls.append(session)
        await session.execute(text("SELECT no_such_column FROM emergency_cases"))

    async with sessions() as session:
        with pytest.raises(ProgrammingError):
            await retry_once_on_failover(session, sessions, broken)
    assert len(calls) == 1


async def test_a_write_refused_as_read_only_drops_the_connection_like_a_failover(sessions):
    # What a demoted primary answers to the writes of connections made before the switchover.
    async with sessions() as session:
        await session.execute(text("SET TRANSACTION READ ONLY"))
        with pytest.raises(DBAPIError) as caught:
            await session.execute(text("CREATE TABLE never_created (a int)"))
    assert isinstance(caught.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    assert caught.value.connection_invalidated
    assert lost_connection(caught.value)
