"""The fleet's stored runs and trails feed the ETA calibration (real PostGIS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from dispatch.eta_calibration import completed_runs, hour_of_week, save_factors
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit, UnitPosition
from facilities import regions
from routing import store as road_store
from routing.calibration import Fix, Run, calibrate
from routing.graph import ROAD_CLASSES
from routing.speed_factors import edge_times, factors_path, load_factors
from tests.support.osm_fixtures import OsmFixture
from tests.unit.test_routing_calibration import simulate_fleet
from tests.unit.test_routing_entrances import campus

LIFELINE = str(Path(sys.executable).with_name("lifeline"))


def store_runs(engine: Engine, name: str, simulated: list[Run]) -> None:
    """Cases of the region with a unit's dispatch, en route and on scene, and its GPS trail."""
    with Session(engine) as session:
        unit = Unit(
            call_sign=f"CAL-{uuid.uuid4().hex[:6]}",
            unit_type="ALS",
            station=from_shape(
                shapely.Point(simulated[0].fixes[0].lng, simulated[0].fixes[0].lat), srid=4326
            ),
            # Its runs are history: out of service, it is never recommended to other tests' cases
            # (the CLI test reads these rows from another process, so they cannot be rolled back).
            status="out_of_service",
        )
        session.add(unit)
        session.flush()
        for run in simulated:
            first = run.fixes[0]
            case = EmergencyCase(
                symptom_category="other",
                location=from_shape(shapely.Point(run.fixes[-1].lng, run.fixes[-1].lat), 4326),
                reporter_phone="+358401234567",
                region=name,
                status="closed",
            )
            session.add(case)
            session.flush()
            session.add(
                EmergencyDispatch(
                    case_id=case.id,
                    unit_id=unit.id,
                    en_route_at=datetime.fromtimestamp(first.t, UTC),
                    on_scene_at=datetime.fromtimestamp(run.fixes[-1].t, UTC),
                    status="completed",
                    completed_at=datetime.fromtimestamp(run.fixes[-1].t, UTC),
                )
            )
            for fix in run.fixes:
                session.add(
                    UnitPosition(
                        unit_id=unit.id,
                        position=from_shape(shapely.Point(fix.lng, fix.lat), srid=4326),
                        recorded_at=datetime.fromtimestamp(fix.t, UTC),
                    )
                )
        session.commit()


def test_stored_runs_are_read_back_and_calibrated(database_url: str, tmp_path: Path) -> None:
    fx = campus()
    name = f"calib{uuid.uuid4().hex[:8]}"
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            regions.import_region(
                session=session, pbf_path=fx.write(tmp_path / "c.osm.pbf"), name=name,
                cache_dir=tmp_path
            )
            session.commit()
        with Session(engine) as session:
            graph = road_store.load_region(session, name)
        trunk = ROAD_CLASSES.index("trunk")
        simulated = [  # moved to this year
            Run(tuple(Fix(f.lat, f.lng, f.t + 1.78e9) for f in r.fixes), r.hour_of_week)
            for r in simulate_fleet(graph, {trunk: 1.25}, 8, seed=3)
        ]
        store_runs(engine, name, simulated)
        with Session(engine) as session:
            runs = completed_runs(session=session, region=name)
        assert len(runs) == len(simulated)
        by_start = {round(r.fixes[0].t, 3): r for r in runs}  # stored to the microsecond
        for run in simulated:
            back = by_start[round(run.fixes[0].t, 3)]
            assert len(back.fixes) == len(run.fixes)
            assert back.hour_of_week == hour_of_week(datetime.fromtimestamp(run.fixes[0].t, UTC))
            assert np.allclose([f.lat for f in back.fixes], [f.lat for f in run.fixes])
        # The fit itself is checked on a denser simulated fleet (tests/unit); here the runs
        # read back from the database go through it and out to the factors file.
        result = calibrate(graph, runs)
        assert result.runs_fitted + result.runs_held_back + result.unmatched >= len(runs)
        written = json.loads(save_factors(result, tmp_path / f"{name}.json").read_text())
        assert set(written) >= {"error_before_s", "error_after_s", "factors"}
        assert all(len(v) == 168 for v in written["factors"].values())
    finally:
        engine.dispose()


def town() -> OsmFixture:
    """A 10 x 10 grid of streets 100 m apart, its middle row and column a trunk road.

    The map matcher's candidates are junctions within 80 m of a fix, so the region needs
    junctions that close together (the campus fixture's 600 m roads leave fixes unmatched).
    """
    fx = OsmFixture()
    for i in range(10):
        for j in range(10):
            fx.node(f"n{i}{j}", i * 100, j * 100)
    for k in range(10):
        kind = {"highway": "trunk" if k == 5 else "residential"}
        fx.way(f"row{k}", [f"n{i}{k}" for i in range(10)], kind)
        fx.way(f"col{k}", [f"n{k}{j}" for j in range(10)], kind)
    return fx


def lifeline(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it (DATABASE_URL as `make run` exports it; var/ in cwd)."""
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [LIFELINE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip


def test_cli_calibrates_and_the_region_engine_drives_the_learnt_speeds(
    database_url: str, tmp_path: Path
) -> None:
    """`lifeline eta calibrate --region`: trunk roads driven 40 % above the model's speed are
    learnt, written beside the region's cache, and applied when the region's engine loads;
    a fleet at the model's speeds teaches nothing and nothing is written."""
    from data.settings import get_data_settings
    from dispatch.destinations import Destinations
    from dispatch.settings import get_dispatch_settings

    engine = create_engine(database_url)
    try:
        fast, idle = f"calib{uuid.uuid4().hex[:8]}", f"calib{uuid.uuid4().hex[:8]}"
        for name in (fast, idle):
            fx = town()
            with Session(engine) as session:
                regions.import_region(
                    session=session,
                    pbf_path=fx.write(tmp_path / f"{name}.osm.pbf"),
                    name=name,
                    cache_dir=tmp_path,
                )
                session.commit()
            with Session(engine) as session:
                graph = road_store.load_region(session, name)
            # reloaded with its road classes (from the cache the import writes)
            assert np.count_nonzero(graph.edge_class == ROAD_CLASSES.index("trunk")) == 36
            truth = {ROAD_CLASSES.index("trunk"): 1.4} if name == fast else {}
            simulated = [
                Run(tuple(Fix(f.lat, f.lng, f.t + 1.78e9) for f in r.fixes), r.hour_of_week)
                for r in simulate_fleet(graph, truth, 30, seed=5)
            ]
            store_runs(engine, name, simulated)
        learnt = lifeline(database_url, tmp_path, "eta", "calibrate", "--region", fast)
        assert learnt.returncode == 0, learnt.stderr
        assert "applied: written to" in learnt.stdout, learnt.stdout
        path = factors_path(tmp_path / "var", fast)
        factors = load_factors(path)
        assert factors is not None
        trunk = ROAD_CLASSES.index("trunk")
        assert 1.03 < factors[trunk].mean() < 1.4  # a little trunk driving: shrunk towards 1.0
        taught_nothing = lifeline(database_url, tmp_path, "eta", "calibrate", "--region", idle)
        assert taught_nothing.returncode == 0, taught_nothing.stderr
        assert "not applied" in taught_nothing.stdout
        assert not factors_path(tmp_path / "var", idle).exists()
        # The service's region engine reads the file from its data directory.
        monkey = pytest.MonkeyPatch()
        monkey.chdir(tmp_path)  # data_dir "var", as for `make run` in a checkout
        try:
            destinations = Destinations(
                settings=get_dispatch_settings(), data_dir=get_data_settings().data_dir
            )
            destinations.load_region(engine, fast, workers=1)
            destinations.load_region(engine, idle, workers=1)
        finally:
            monkey.undo()
        served = destinations.regions[fast].engine
        model = served.graph
        on_trunk = model.edge_class == trunk
        learnt_times = served.current_weights.edge_time
        assert np.all(learnt_times[on_trunk] < model.edge_travel_time_s[on_trunk] / 1.03)
        # this hour's factor of each edge's class (the engine re-weighs as the hour turns)
        assert np.allclose(learnt_times, edge_times(model, factors, datetime.now(UTC)))
        idle_engine = destinations.regions[idle].engine
        assert np.array_equal(
            idle_engine.current_weights.edge_time, idle_engine.graph.edge_travel_time_s
        )
    finally:
        engine.dispose()
