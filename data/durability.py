"""Refuse to run on a PostgreSQL that could lose acknowledged cases on a crash."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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


async def ensure_durable(engine: AsyncEngine) -> None:
    """Raise :class:`DurabilityOff` unless fsync, synchronous_commit and full_page_writes are on."""
    problems = await durability_problems(engine)
    if problems:
        raise DurabilityOff(
            "refusing to start: PostgreSQL durability is off (" + ", ".join(problems) + "); "
            "an acknowledged SOS could be lost on a crash"
        )
