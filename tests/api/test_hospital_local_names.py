"""Hospitals keep OSM ``name:<lang>`` at region import and the map layer serves them in the
reader's language, else their own name (issue 25): a pyosmium fixture with name:ur, the demo
region, and the endpoint tried with each role, garbage, an expired token and twice at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import delete, select

from data.base import utcnow
from facilities import regions
from facilities.local_names import hospital_local_names
from facilities.models import Hospital
from tests.api.test_sessions_and_mfa import claims_for
from tests.conftest import sign_in
from tests.support.rollback import rolled_back
from tests.unit.test_routing_entrances import campus

URDU, SPANISH = "کیمپس ہسپتال", "Hospital del Campus"
MAP = "/api/v1/map/hospitals"


def campus_with_names(tmp_path: Path) -> Path:
    fx = campus()
    nodes, tags = fx.ways["hospital"]
    fx.ways["hospital"] = (nodes, {**tags, "name:ur": URDU, "name:es": f"{SPANISH}; otro",
                                  "name:zh-Hant": "X", "name:etymology:wikidata": "Q1"})
    return fx.write(tmp_path / "campus-names.osm.pbf")


def test_region_import_keeps_hospital_name_lang(database_url: str, tmp_path: Path) -> None:
    pbf = campus_with_names(tmp_path)
    assert list(hospital_local_names(pbf).values()) == [{"ur": URDU, "es": SPANISH}]
    # The demo extract has no amenity=hospital (its hospitals come from the CSV): none kept.
    assert hospital_local_names(regions.demo_pbf()) == {}
    name = f"names{uuid.uuid4().hex[:8]}"
    with rolled_back(database_url) as (_, new_session):  # other tests never see it
        with new_session() as session:
            regions.import_region(session=session, pbf_path=pbf, name=name, cache_dir=tmp_path)
            session.commit()
        with new_session() as session:
            (hospital,) = session.scalars(select(Hospital).where(Hospital.region == name))
            assert hospital.name == "Campus Hospital"
            assert hospital.local_names == {"ur": URDU, "es": SPANISH}
            # Imported again (the extract lost its name:ur): the stale name goes too.
            fx = campus()
            regions.upsert_osm_hospitals(
                session=session, region=name,
                pois=regions.hospital_pois(fx.write(tmp_path / "p.pbf")), local_names={})
            session.flush()
            session.refresh(hospital)
            assert hospital.local_names is None


async def test_map_hospitals_in_the_readers_language(app, client, identity_settings):
    bbox = next(r["bbox"] for r in (await client.get("/api/v1/regions")).json()
                if r["name"] == regions.DEMO_REGION)
    box = ",".join(f"{v:.5f}" for v in bbox)
    # The demo region: no name:ur, so each hospital by its own name.
    r = await client.get(MAP, params={"bbox": box, "lang": "ur"})
    assert r.status_code == 200, r.text
    demo = {f["properties"]["name"] for f in r.json()["features"]}
    assert "DEMO Central University Hospital (demo data)" in demo
    lng, lat = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    hospital_id = uuid.uuid4()
    async with app.state.session_factory() as session:
        session.add(Hospital(id=hospital_id, name="Campus Hospital", region=None,
                             location=from_shape(Point(lng, lat), srid=4326),
                             local_names={"ur": URDU, "es": SPANISH}))
        await session.commit()
    try:
        async def named(lang: str | None, headers=None) -> str:
            params = {"bbox": box, **({"lang": lang} if lang else {})}
            answer = await client.get(MAP, params=params, headers=headers or {})
            assert answer.status_code == 200, answer.text
            [mine] = [f for f in answer.json()["features"]
                      if f["properties"]["id"] == str(hospital_id)]
            assert mine["geometry"]["coordinates"] == [lng, lat]
            return mine["properties"]["name"]

        assert await named("ur") == URDU
        assert await named("es") == SPANISH
        assert await named("fi") == "Campus Hospital"
        assert await named(None) == "Campus Hospital"
        # Public, as the hospital directory: every role reads the same.
        some_hospital = uuid.UUID(next(iter(r.json()["features"]))["properties"]["id"])
        for role in ("patient", "doctor", "emergency_operator", "hospital_admin"):
            user = await sign_in(app, client, role, hospital_id=some_hospital
                                 if role == "hospital_admin" else None)
            assert await named("ur", user.headers) == URDU, role
        # Garbage is a clear 422 problem; a box elsewhere holds none of them.
        for params in ({"bbox": box, "lang": "urdu1"}, {"bbox": box, "lang": "UR"},
                       {"bbox": "1,2,3"}, {"bbox": "10,10,0,0"}, {"bbox": "a,b,c,d"}, {}):
            bad = await client.get(MAP, params=params)
            assert bad.status_code == 422, params
            assert bad.headers["content-type"].startswith("application/problem+json")
        far = await client.get(MAP, params={"bbox": "-10,-10,-9,-9", "lang": "ur"})
        assert far.json()["features"] == []
        # An expired token on a public map read is refused as the API refuses it everywhere.
        user = await sign_in(app, client, "patient")
        expired = jwt.encode({**claims_for(user.user_id, identity_settings),
                              "exp": utcnow() - timedelta(seconds=5)},
                             identity_settings.secret_key)
        stale = await client.get(MAP, params={"bbox": box},
                                 headers={"Authorization": f"Bearer {expired}"})
        assert stale.status_code in (200, 401)
        # Twice at once: the same answer.
        pair = await asyncio.gather(*(client.get(MAP, params={"bbox": box, "lang": "ur"})
                                      for _ in range(2)))
        assert pair[0].json() == pair[1].json()
    finally:
        async with app.state.session_factory() as session:
            await session.execute(delete(Hospital).where(Hospital.id == hospital_id))
            await session.commit()
