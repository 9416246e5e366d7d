"""Migrations 0010-0012 apply, match the ORM models, and roll back one by one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from data.base import Base
from data.migrate import downgrade, upgrade
from data.models import import_all_models
from tests.support.scratch import scratch_database

NEW_TABLES = {"hospital_services", "hospital_service_changes", "region_diversion_policies"}
CHECKED = NEW_TABLES | {"emergency_dispatches"}


@pytest.fixture
def scratch_url():
    with scratch_database("lifeline_mig", migrate=False) as url:
        yield url


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is not None and table.name in CHECKED


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def _dispatch_columns(engine) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns("emergency_dispatches")}


def test_upgrade_matches_models_and_each_step_rolls_back(scratch_url):
    import_all_models()
    upgrade(scratch_url, "0012_multi_unit_dispatch")
    engine = sa.create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            assert compare_metadata(context, Base.metadata) == []
        downgrade(scratch_url, "0011_diversion_policy")
        assert {"position", "plan_slot"}.isdisjoint(_dispatch_columns(engine))
        assert "region_diversion_policies" in _tables(engine)
        downgrade(scratch_url, "0010_hospital_services")
        assert "region_diversion_policies" not in _tables(engine)
        downgrade(scratch_url, "0009_pages")
        assert not _tables(engine) & NEW_TABLES
        upgrade(scratch_url, "0012_multi_unit_dispatch")
        assert _tables(engine) >= NEW_TABLES
    finally:
        engine.dispose()
