"""tests.support.rollback: what a test commits inside it is gone for every other test."""

from __future__ import annotations

import uuid

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from dispatch.models import Unit
from tests.support.rollback import rolled_back


def test_a_commit_inside_is_seen_inside_and_gone_after(database_url: str) -> None:
    call_sign = f"RB-{uuid.uuid4().hex[:8]}"
    with rolled_back(database_url) as (_, new_session):
        with new_session() as session:
            session.add(Unit(call_sign=call_sign, unit_type="ALS",
                             station=from_shape(shapely.Point(24.94, 60.17), srid=4326)))
            session.commit()  # as the code under test does: only a SAVEPOINT is released
        with new_session() as session:
            assert session.scalar(select(Unit.id).where(Unit.call_sign == call_sign))
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(Unit.id).where(Unit.call_sign == call_sign)) is None
    finally:
        engine.dispose()
