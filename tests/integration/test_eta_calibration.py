"""The fleet's stored runs and trails feed the ETA calibration (real PostGIS)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
from geoalchemy2.shape import from_shape

from dispatch.eta_calibration import completed_runs, hour_of_week, save_factors
from dispatch.models import EmergencyCase, EmergencyDispatch, Unit, UnitPosition
from facilities import regions
from routing import store as road_store
from routing.calibration import Fix, Run, calibrate
from routing.graph import ROAD_CLASSES
from tests.support.rollback import rolled_back
from tests.unit.test_routing_calibration import simulate_fleet
from tests.unit.test_routing_entrances import campus


def test_stored_runs_are_read_back_and_calibrated(database_url: str, tmp_path: Path) -> None:
    fx = campus()
    name = f"calib{uuid.uuid4().hex[:8]}"
    with rolled_back(database_url) as (_, new_session):  # nothing stays for other tests
        with new_session() as session:
            regions.import_region(
                session, pbf_path=fx.write(tmp_path / "c.osm.pbf"), name=name, cache_dir=tmp_path
            )
            session.commit()
        with new_session() as session:
            graph = road_store.load_region(session, name)
        trunk = ROAD_CLASSES.index("trunk")
        simulated = [  # moved to this year
            Run(tuple(Fix(f.lat, f.lng, f.t + 1.78e9) for f in r.fixes), r.hour_of_week)
            for r in simulate_fleet(graph, {trunk: 1.25}, 8, seed=3)
        ]
        with new_session() as session:
            unit = Unit(
                call_sign=f"CAL-{uuid.uuid4().hex[:6]}",
                unit_type="ALS",
                station=from_shape(shapely.Point(fx.latlng("W")[1], fx.latlng("W")[0]), srid=4326),
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
        with new_session() as session:
            runs = completed_runs(session, region=name)
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
