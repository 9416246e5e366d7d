"""DATABASE_READ_URL: the reads that may be a moment stale go there, everything else does not.

The read URL here names a second, empty database (with ``target_session_attrs=prefer-standby``
as in production, which libpq satisfies with the primary when no standby is up), so where an
answer came from shows in its content. The setting is what this test is about.
"""

from __future__ import annotations

import uuid

import psycopg

from console_api.app import create_app
from data.migrate import upgrade
from data.settings import DataSettings
from messaging.settings import MessagingSettings
from tests.conftest import ADMIN_URL, REDIS_URL, in_process_client, running, sign_in, sos_body


async def test_directory_and_reports_read_the_standby_cases_the_primary(
    database_url, identity_settings
):
    name = f"lifeline_standby_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    read_url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(read_url)
        app = create_app(
            data_settings=DataSettings(
                DATABASE_URL=database_url, REDIS_URL=REDIS_URL,
                DATABASE_READ_URL=read_url + "?target_session_attrs=prefer-standby",
            ),
            identity_settings=identity_settings,
            messaging_settings=MessagingSettings(LIFELINE_SMS_SENDER=False),
        )
        async with running(app), in_process_client(app) as client:
            # The primary holds the demo region's hospitals; the "standby" holds none.
            assert (await client.get("/api/v1/hospitals")).json() == []
            operator = await sign_in(app, client, "emergency_operator")
            sos = await client.post("/api/v1/emergency/cases", json=sos_body(),
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
            assert sos.status_code == 201, sos.text
            case = await client.get(f"/api/v1/emergency/cases/{sos.json()['id']}",
                                    headers=operator.headers)
            assert case.status_code == 200  # case work reads what it just wrote: the primary
            report = await client.get("/api/v1/metrics/response-times", headers=operator.headers)
            assert report.status_code == 200, report.text
        primary = create_app(
            data_settings=DataSettings(DATABASE_URL=database_url, REDIS_URL=REDIS_URL),
            identity_settings=identity_settings,
            messaging_settings=MessagingSettings(LIFELINE_SMS_SENDER=False),
        )
        async with running(primary), in_process_client(primary) as client:
            assert len((await client.get("/api/v1/hospitals")).json()) > 0  # unset: the primary
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
