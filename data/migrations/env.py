"""Alembic environment: runs migrations with the sync psycopg engine."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from data.base import Base
from data.db import sync_url
from data.models import import_all_models
from data.settings import DataSettings

import_all_models()
target_metadata = Base.metadata

SPATIAL_SYSTEM_TABLES = {"spatial_ref_sys", "topology", "layer"}


def include_object(obj, name, type_, reflected, compare_to):
    """PostGIS's own tables are not ours to manage."""
    return not (type_ == "table" and name in SPATIAL_SYSTEM_TABLES)


def run_migrations_online() -> None:
    """Migrate the database named by the config's URL (or DATABASE_URL)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(sync_url(url or DataSettings().database_url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
