"""The app against real PostgreSQL edge cases: durability off, database gone, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest

from console_api.app import create_app
from data.durability import DurabilityOff
from data.settings import DataSettings
from tests.conftest import ADMIN_URL, PASSWORD, REDIS_URL, running

ROOT = Path(__file__).resolve().parents[2]
LIFELINE = str(Path(sys.executable).parent / "lifeline")


def scratch_database(**settings: str) -> tuple[str, str]:
    name = f"lifeline_scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        for key, value in settings.items():
            conn.execute(f'ALTER DATABASE "{name}" SET {key} = {value}')
    return name, f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_refuses_to_start_when_durability_is_off(identity_settings):
    name, url = scratch_database(synchronous_commit="off")
    try:
        app = create_app(
            data_settings=DataSettings(DATABASE_URL=url, REDIS_URL=REDIS_URL),
            identity_settings=identity_settings,
        )
        with pytest.raises(DurabilityOff, match="synchronous_commit=off"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        drop_database(name)


async def test_health_is_503_when_the_database_is_gone(identity_settings):
    from data.migrate import upgrade

    name, url = scratch_database()
    upgrade(url)
    app = create_app(
        data_settings=DataSettings(DATABASE_URL=url, REDIS_URL=REDIS_URL),
        identity_settings=identity_settings,
    )
    async with running(app):  # shutting down without a database is bounded, never a hang
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health")).status_code == 200
            drop_database(name)
            r = await client.get("/health")
            assert r.status_code == 503
            assert r.json()["database"] == "unreachable"


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    return subprocess.run(
        [LIFELINE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


async def test_cli_upgrade_is_idempotent_and_creates_users(database_url, client):
    assert run_cli("db", "upgrade", database_url=database_url).returncode == 0
    email = f"cli-{uuid.uuid4().hex[:6]}@lifeline.test"
    secret = pyotp.random_base32(length=32)
    ok = run_cli(
        "users", "create", "--email", email, "--password", PASSWORD,
        "--role", "emergency_operator", "--totp-secret", secret, database_url=database_url,
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"  # staff need the code
    r = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()},
    )
    assert r.status_code == 200
    again = run_cli(
        "users", "create", "--email", email, "--password", PASSWORD,
        "--role", "emergency_operator", database_url=database_url,
    )
    assert again.returncode == 2 and "exists" in again.stdout
    admin = run_cli(
        "users", "create", "--email", "ha-" + email, "--password", PASSWORD,
        "--role", "hospital_admin", database_url=database_url,
    )
    assert admin.returncode == 2 and "hospital" in admin.stdout
    short = run_cli(
        "users", "create", "--email", "s-" + email, "--password", "short",
        "--role", "patient", database_url=database_url,
    )
    assert short.returncode == 2 and "12" in short.stdout
