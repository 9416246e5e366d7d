"""The geocoder on a real city extract: Islamabad–Rawalpindi 2020 (../shared/data/osm).

Latin and Urdu script, typos, case, house number first or last, intersections, POIs and
reverse geocoding. The project never requires the shared file: without it these tests say why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geocoding import search
from geocoding.index import index_region
from geocoding.reverse import reverse
from tests.support.maplabels import street_labels

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PBF = SHARED / "data" / "osm" / "islamabad-2020.osm.pbf"
REGION = "islamabad-geocoder-test"
CENTRE = (33.7077, 73.0498)  # Blue Area, Islamabad


@pytest.fixture(scope="module")
def islamabad(database_url: str) -> Iterator[str]:
    """The geocoder index of the extract, in this run's database, removed afterwards."""
    if not PBF.exists():
        # CI has ../shared beside the checkout: there a missing extract is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(f"{PBF} is absent in CI: ../shared/data/osm must be beside the checkout")
        pytest.skip(f"{PBF} is absent: the real-city geocoder tests need the shared OSM extract "
                    "(get it with the shared data; the Helsinki tests cover the same behaviour)")
    engine = create_engine(database_url)
    with Session(engine) as session:
        summary = index_region(session, region=REGION, pbf_path=PBF)
        session.commit()
    assert summary.counts["street"] > 3000 and summary.counts["address"] > 400
    yield REGION
    with Session(engine) as session:
        session.execute(text("DELETE FROM geocode_entries WHERE region = :r"), {"r": REGION})
        session.execute(text("DELETE FROM geocode_regions WHERE region = :r"), {"r": REGION})
        session.commit()
    engine.dispose()


async def top(app, query: str, region: str) -> search.Hit:
    async with app.state.session_factory() as session:
        hits = await search.search(session, query=query, region=region, near=CENTRE, limit=5)
    assert hits, f"nothing found for {query!r}"
    return hits[0]


@pytest.mark.parametrize(("query", "label", "kind"), [
    ("Aabpara Market", "Aabpara Market", "poi"),
    ("aabpara market", "Aabpara Market", "poi"),              # case
    ("Abpara Market", "Aabpara Market", "poi"),               # one typo
    ("Rawal Hospital", "Rawal Hospital", "poi"),
    ("Constitution Avenue", "Constitution Avenue", "street"),
    ("Constitusion Avenue", "Constitution Avenue", "street"),  # one typo
    ("Constitution Avenue & Khayaban-e-Iqbal", "Constitution Avenue & Khayaban-e-Iqbal",
     "intersection"),
    ("Khayaban-e-Iqbal & Constitution Avenue", "Constitution Avenue & Khayaban-e-Iqbal",
     "intersection"),
    ("28 Hill Road", "28 Hill Road", "address"),              # house number first
    ("Hill Road 28", "28 Hill Road", "address"),              # house number last
    ("G-6", "جی - 6", "place"),                               # name:en of an Urdu-named sector
    ("جی - 6", "جی - 6", "place"),                            # Urdu script
    ("اسلام آباد ریلوے اسٹیشن", "Islamabad Railway Station", "poi"),  # name:ur
])
async def test_found(app, islamabad: str, query: str, label: str, kind: str):
    hit = await top(app, query, islamabad)
    assert (hit.label, hit.kind) == (label, kind)


async def test_nothing_matches(app, islamabad: str):
    async with app.state.session_factory() as session:
        assert await search.search(session, query="qxzjvw", region=islamabad) == []


async def test_reverse_on_a_street_reads_as_that_street(app, islamabad: str):
    """The middle of the longest way of some long, named roads reads as that road."""
    async with app.state.session_factory() as session:
        rows = (await session.execute(text("""
            SELECT DISTINCT ON (label) label, ST_Y(p) AS lat, ST_X(p) AS lng FROM (
                SELECT e.label, ST_LineInterpolatePoint(d.geom, 0.5) AS p,
                       ST_Length(CAST(d.geom AS geography)) AS m
                FROM geocode_entries e, ST_Dump(e.lines) AS d
                WHERE e.region = :r AND e.kind = 'street'
                  AND e.label IN ('Constitution Avenue', 'Jinnah Avenue', 'Margalla Road',
                                  'Kashmir Highway', 'Srinagar Highway', '7th Avenue')
            ) s WHERE m > 200 ORDER BY label, m DESC
        """), {"r": islamabad})).all()
        assert len(rows) >= 3, rows
        for row in rows:
            place = await reverse(session, lat=row.lat, lng=row.lng)
            assert place is not None and place.on_street == row.label, (row, place)


async def test_map_street_labels_in_urdu_where_osm_has_name_ur(app, client, islamabad: str):
    """lang=ur labels a street with its name:ur, without lang with its name (issue 25)."""
    async with app.state.session_factory() as session:
        lng, lat = (await session.execute(text(
            "SELECT ST_X(point), ST_Y(point) FROM geocode_entries WHERE region = :r"
            " AND kind = 'street' AND label = 'Kallar Syedan Road'"
            " AND local_names ->> 'ur' IS NOT NULL LIMIT 1"
        ), {"r": islamabad})).one()
    bbox = f"{lng - 0.004},{lat - 0.004},{lng + 0.004},{lat + 0.004}"

    urdu = await street_labels(client, bbox, lang="ur")
    assert "کلر سیداں روڈ" in urdu and "Kallar Syedan Road" not in urdu
    assert "Kallar Syedan Road" in await street_labels(client, bbox)
