"""Put back one shared row a test must change through the app (settings-like rows: a region's
diversion policy, its stored demand grid), so the tests after it find what they would alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete


@asynccontextmanager
async def restoring(session_factory: Any, model: Any, key: Any) -> AsyncIterator[None]:
    """Snapshot the row of ``model`` with primary key ``key`` (or its absence); restore on exit."""
    (column,) = model.__table__.primary_key.columns
    async with session_factory() as session:
        row = await session.get(model, key)
        kept = None if row is None else {
            c.key: getattr(row, c.key) for c in model.__table__.columns
        }
    try:
        yield
    finally:
        async with session_factory() as session:
            await session.execute(delete(model).where(column == key))
            if kept is not None:
                session.add(model(**kept))
            await session.commit()
