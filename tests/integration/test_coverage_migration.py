"""0010_coverage applies, matches the ORM models and rolls back cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from data.base import Base
from data.migrate import downgrade, upgrade
from data.models import import_all_models
from tests.integration.test_care_migration import scratch_url  # noqa: F401 - the scratch database

TABLES = {"coverage_posts", "coverage_demand", "coverage_moves"}


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and table.name in TABLES


def test_upgrade_matches_models_and_downgrade_removes_it(scratch_url):  # noqa: F811
    import_all_models()
    upgrade(scratch_url, "0010_coverage")
    engine = sa.create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            assert compare_metadata(context, Base.metadata) == []
            assert set(sa.inspect(conn).get_table_names()) >= TABLES
        downgrade(scratch_url, "0009_pages")
        with engine.connect() as conn:
            assert not TABLES & set(sa.inspect(conn).get_table_names())
        upgrade(scratch_url, "0010_coverage")
    finally:
        engine.dispose()
