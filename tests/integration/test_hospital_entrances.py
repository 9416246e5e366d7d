"""Hospital entrances survive the region import and the facilities CSV, and steer the ETAs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from data.settings import get_data_settings
from dispatch.destinations import Destinations
from dispatch.settings import get_dispatch_settings
from facilities import regions
from facilities.importer import FacilitiesImportError
from facilities.models import Hospital
from tests.support.osm_fixtures import position
from tests.support.rollback import rolled_back
from tests.unit.test_routing_entrances import campus


def test_import_stores_campus_access_and_csv_entrances(database_url: str, tmp_path: Path) -> None:
    fx = campus()
    pbf = fx.write(tmp_path / "campus.osm.pbf")
    name = f"campus{uuid.uuid4().hex[:8]}"
    clinic, clinic_door = position(-400, 300), position(-420, 400)
    csv = tmp_path / "facilities.csv"
    csv.write_text(
        "osm_id,name,lat,lng,capabilities,beds,ed_status,entrance_lat,entrance_lng\n"
        f",Ring Clinic,{clinic[0]},{clinic[1]},general_ed,3,open,"
        f"{clinic_door[0]},{clinic_door[1]}\n"
    )
    with rolled_back(database_url) as (connection, new_session):  # other tests never see it
        with new_session() as session:
            regions.import_region(
                session=session, pbf_path=pbf, name=name, cache_dir=tmp_path, facilities_csv=csv
            )
            session.commit()
        with new_session() as session:
            rows = {
                h.name: h for h in session.scalars(select(Hospital).where(Hospital.region == name))
            }
            osm = rows["Campus Hospital"]
            assert osm.access_kind == "campus_road" and osm.access_snap_m == 0.0
            door = to_shape(osm.entrance)
            assert (door.y, door.x) == pytest.approx(fx.latlng("DROP"))
            csv_row = rows["Ring Clinic"]
            assert csv_row.access_kind == "csv_entrance"
            assert (to_shape(csv_row.entrance).y, to_shape(csv_row.entrance).x) == pytest.approx(
                clinic_door
            )
            ids = {h.name: h.id for h in rows.values()}
        network = Destinations.load(
            connection, settings=get_dispatch_settings(), data_dir=get_data_settings().data_dir,
            only=frozenset({name}),
        ).regions[name]
        keys = list(network.engine.hospital_keys)
        snaps = network.engine.hospital_snaps
        assert snaps[keys.index(ids["Campus Hospital"])].distance_m < 1  # on the campus road
        assert snaps[keys.index(ids["Ring Clinic"])].distance_m < 1  # the door is on the ring
        _, eta = network.engine.eta_to_hospitals(*fx.latlng("H0"))
        assert eta[keys.index(ids["Campus Hospital"])] > 60  # around the block, not 0 s


def test_csv_entrance_needs_both_coordinates(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "half.csv"
    csv.write_text(
        "osm_id,name,lat,lng,capabilities,beds,ed_status,entrance_lat,entrance_lng\n"
        ",Half Door,60.17,24.94,general_ed,1,open,60.17,\n"
        ",Far Door,60.17,24.94,general_ed,1,open,10.0,10.0\n"
    )
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            area = regions.region_area(session=session, name=regions.DEMO_REGION)
            with pytest.raises(FacilitiesImportError) as failure:
                regions.import_facilities_csv(
                    session=session, region=regions.DEMO_REGION, csv_path=csv, area=area
                )
            session.rollback()
        problems = failure.value.problems
        assert any("line 2" in p and "go together" in p for p in problems)
        assert any("line 3" in p and "entrance 10.0,10.0 lies outside" in p for p in problems)
    finally:
        engine.dispose()
