"""Refuse to run on a PostgreSQL that could lose acknowledged cases on a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("lifeline.durability")
T = TypeVar("T")

#: Settings that must be on for a committed case to survive a power cut.
REQUIRED_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": {"on", "remote_write", "remote_apply"},
    "full_page_writes": "on",
}


class DurabilityOff(RuntimeError):
    """PostgreSQL is configured so that acknowledged commits may be lost."""


async def durability_problems(engine: AsyncEngine) -> list[str]:
    """Names of the durability settings that are off (empty when all is well)."""
    problems = []
    async with engine.connect() as connection:
        for name, wanted in REQUIRED_SETTINGS.items():
            value = (await connection.execute(text(f"SHOW {name}"))).scalar_one()
            allowed = wanted if isinstance(wanted, set) else {wanted}
            if value not in allowed:
                problems.append(f"{name}={value}")
    return problems


async def ensure_durable(engine: AsyncEngine, *, wait_s: float = 0.0) -> None:
    """Raise :class:`DurabilityOff` unless fsync, synchronous_commit and full_page_writes are on.

    With ``wait_s``, an unreachable database is retried that long first: a worker restarted
    during a PostgreSQL outage waits for it instead of failing (which stops all of uvicorn).
    """
    problems = await retry_unreachable(
        lambda: durability_problems(engine), wait_s=wait_s, what="database"
    )
    if problems:
        raise DurabilityOff(
            "refusing to start: PostgreSQL durability is off (" + ", ".join(problems) + "); "
            "an acknowledged SOS could be lost on a crash"
        )


async def retry_unreachable(
    call: Callable[[], Awaitable[T]], *, wait_s: float, what: str
) -> T:
    """``await call()``, again while the database is unreachable, for up to ``wait_s`` seconds.

    Start-up must survive a PostgreSQL outage or a cut connection: a worker that fails to
    start makes uvicorn stop every worker.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.1
    while True:
        try:
            return await call()
        except (OperationalError, InterfaceError):
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s unreachable at start-up; retrying in %.1f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class OverPrivileged(RuntimeError):
    """The server connects as a role that could rewrite the audit trail or disable triggers."""


async def privilege_problems(engine: AsyncEngine) -> list[str]:
    """What the server's role may do that it must not (empty when it is least-privileged)."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT r.rolsuper, r.rolbypassrls, "
                    "pg_has_role(current_user, (SELECT relowner FROM pg_class "
                    "  WHERE oid = 'audit_log'::regclass), 'USAGE'), "
                    "has_table_privilege('audit_log', 'UPDATE'), "
                    "has_table_privilege('audit_log', 'DELETE'), "
                    "has_table_privilege('audit_log', 'TRUNCATE') "
                    "FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
    names = ("superuser", "bypassrls", "owns audit_log (can disable its triggers)",
             "UPDATE on audit_log", "DELETE on audit_log", "TRUNCATE on audit_log")
    return [name for name, held in zip(names, row, strict=True) if held]


async def ensure_least_privilege(engine: AsyncEngine, *, production: bool) -> None:
    """Production refuses an over-privileged role; development says so loudly and goes on."""
    problems = await privilege_problems(engine)
    if not problems:
        return
    message = (
        "the server's database role may " + ", ".join(problems) + ": connect as the role the "
        "migrations create (LIFELINE_APP_DB_USER, default lifeline_app)"
    )
    if production:
        raise OverPrivileged("refusing to start: " + message)
    log.warning(message)
