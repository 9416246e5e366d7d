"""What the per-request revocation check costs: the same requests with it and without it.

Every request with a bearer token asks Redis whether the token was revoked (one ``MGET`` of the
user's and the session's keys, :mod:`identity.revocation`). This runs the app in this process
(lifespan included) against a throwaway database on the local PostgreSQL and the local Redis,
signs an operator in, and calls ``GET /api/v1/users/me`` in alternating rounds with the check
on and, as the baseline in the same process, replaced by a no-op. CPU is this process's own
(``time.process_time``: the app, the client and the Redis client, not Redis itself); wall time
includes the Redis round trip. Also the check alone, called directly.

    .venv/bin/python -m bench.revocation_cost --requests 300 --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import httpx
import psycopg
import pyotp

ADMIN_URL = os.environ.get("LIFELINE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-revocation-Password-1"


async def _no_check(*_: Any, **__: Any) -> bool:
    return False


async def _round(
    http: httpx.AsyncClient, headers: dict[str, str], count: int
) -> tuple[float, float]:
    """(CPU ms, wall ms) per request over ``count`` requests."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        r = await http.get("/api/v1/users/me", headers=headers)
        assert r.status_code == 200, r.text
    return ((time.process_time() - cpu) / count * 1000,
            (time.perf_counter() - wall) / count * 1000)


async def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from console_api import access
    from console_api.app import create_app
    from data.settings import DataSettings
    from identity import revocation
    from identity import service as identity_service
    from identity.tokens import verify_access_token

    app = create_app(data_settings=DataSettings(DATABASE_URL=url))
    secret = pyotp.random_base32(length=32)
    email = f"bench-{uuid.uuid4().hex[:8]}@lifeline.test"
    real_check = revocation.is_revoked
    results: dict[str, list[tuple[float, float]]] = {"with check": [], "baseline": []}
    async with app.router.lifespan_context(app):
        async with app.state.session_factory() as session:
            await identity_service.create_user(
                db_session=session, email=email, password=PASSWORD,
                roles=["emergency_operator"], totp_secret=secret,
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post("/api/v1/auth/login", json={
                "email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()})
            login.raise_for_status()
            token = login.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            await _round(http, headers, args.warmup)
            for _ in range(args.rounds):
                for name, check in (("with check", real_check), ("baseline", _no_check)):
                    access.revocation.is_revoked = check  # type: ignore[assignment]
                    results[name].append(await _round(http, headers, args.requests))
            access.revocation.is_revoked = real_check  # type: ignore[assignment]
            claims = verify_access_token(token, settings=app.state.identity_settings)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                await real_check(app.state.redis, claims)
            alone = ((time.process_time() - cpu) / args.requests * 1000,
                     (time.perf_counter() - wall) / args.requests * 1000)
    figures = {
        name: {"cpu_ms": statistics.median(r[0] for r in rows),
               "wall_ms": statistics.median(r[1] for r in rows)}
        for name, rows in results.items()
    }
    figures["check alone"] = {"cpu_ms": alone[0], "wall_ms": alone[1]}
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of each")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    # One caller makes every request here.
    os.environ["LIFELINE_IDENTITY_API_PER_MINUTE"] = "100000000"
    os.environ.setdefault("LIFELINE_SMS_SENDER", "false")
    name = f"lifeline_bench_revocation_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")
    try:
        from data.migrate import upgrade

        upgrade(url)
        figures = asyncio.run(measure(args, url))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = figures["baseline"]
    print(f"GET /api/v1/users/me, {args.rounds} x {args.requests} requests each, medians of rounds")
    print(f"{'':24s} {'CPU ms':>8s} {'wall ms':>8s} {'x baseline (CPU)':>17s}")
    for label, row in figures.items():
        print(f"{label:24s} {row['cpu_ms']:8.3f} {row['wall_ms']:8.3f} "
              f"{row['cpu_ms'] / base['cpu_ms']:17.3f}")
    extra = figures["with check"]
    print(f"revocation check per request: +{(extra['cpu_ms'] - base['cpu_ms']) * 1000:.0f} us CPU, "
          f"+{(extra['wall_ms'] - base['wall_ms']) * 1000:.0f} us wall "
          f"(alone: {figures['check alone']['cpu_ms'] * 1000:.0f} us CPU, "
          f"{figures['check alone']['wall_ms'] * 1000:.0f} us wall)")
    return figures


if __name__ == "__main__":
    main()
