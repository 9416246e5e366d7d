"""Scratch databases: each test run (or test) gets a database of its own, dropped afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

#: The maintenance database tests create and drop their own databases through.
ADMIN_URL = os.environ.get("LIFELINE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database(prefix: str, *, migrate: bool = True, demo_region: bool = False
                     ) -> Iterator[str]:
    """A brand-new database (SQLAlchemy URL), optionally migrated to head and holding the
    Helsinki demo region; dropped on exit, even with sessions still open."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    try:
        if migrate:
            from data.migrate import upgrade

            upgrade(url)
        if demo_region:
            import_demo_region(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def import_demo_region(url: str) -> None:
    """The Helsinki demo region with its demo facilities, as ``make run`` imports it."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from data.models import import_all_models
    from facilities import regions

    import_all_models()
    engine = create_engine(url)
    with Session(engine) as session:
        regions.import_region(
            session=session,
            pbf_path=regions.demo_pbf(),
            name=regions.DEMO_REGION,
            cache_dir=tempfile.mkdtemp(prefix="lifeline-regions-"),
            facilities_csv=regions.DEMO_FACILITIES,
        )
        session.commit()
    engine.dispose()
