"""LIFELINE_DISPATCH_REGIONS: a worker loads (and keeps in step) only the regions it serves."""

from __future__ import annotations

from sqlalchemy import create_engine

from data.settings import get_data_settings
from dispatch.destinations import Destinations
from dispatch.settings import DispatchSettings, get_dispatch_settings
from facilities.regions import DEMO_REGION


def test_regions_setting_is_a_set_or_none(monkeypatch):
    monkeypatch.setenv("LIFELINE_DISPATCH_REGIONS", f" {DEMO_REGION} , islamabad,")
    assert DispatchSettings().served_regions == frozenset({DEMO_REGION, "islamabad"})
    monkeypatch.setenv("LIFELINE_DISPATCH_REGIONS", "")
    assert DispatchSettings().served_regions is None


def test_a_worker_loads_only_its_regions(database_url):
    engine = create_engine(database_url)
    edge = {"settings": get_dispatch_settings(), "data_dir": get_data_settings().data_dir}
    try:
        everything = Destinations.load(engine, **edge)
        assert DEMO_REGION in everything.regions
        elsewhere = Destinations.load(engine, only=frozenset({"some-other-province"}), **edge)
        assert elsewhere.regions == {}
        elsewhere.sync(engine)  # keeping in step must not pull in regions it does not serve
        assert elsewhere.regions == {}
        mine = Destinations.load(engine, only=frozenset({DEMO_REGION}), **edge)
        assert set(mine.regions) == {DEMO_REGION}
    finally:
        engine.dispose()
