"""Hostile input to the import parsers and the snapper: documented errors, never a crash."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from facilities.importer import CSV_HEADER, FacilitiesImportError, import_facilities_csv
from routing.errors import InvalidCoordinateError
from routing.snap import EdgeSnapper
from routing.speeds import MAX_SPEED_KMH, MIN_SPEED_KMH, parse_maxspeed
from routing.synthetic import synthetic_grid
from tests.unit.test_routing_osm_import import helsinki

HUGE = "9" * 100_000
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=200),
    st.lists(st.integers(), max_size=3),
)
maxspeed_like = st.one_of(
    anything,
    st.from_regex(
        r"\s*\d{1,6}([.,]\d{0,4})?\s*(mph|km/h|knots|kmh)?\s*([;|]\s*\d{1,4})?", fullmatch=True
    ),
    st.from_regex(
        r"[A-Z]{2}:(urban|rural|motorway|zone30|living_street|[a-z]{0,12})", fullmatch=True
    ),
)


@FAST
@given(maxspeed=maxspeed_like, highway=anything)
@example(maxspeed=HUGE, highway="primary")
@example(maxspeed=HUGE + " mph;" + HUGE, highway=None)
@example(maxspeed=float("nan"), highway=float("nan"))
@example(maxspeed="1e309", highway="motorway")
def test_maxspeed_is_always_a_usable_speed(maxspeed, highway):
    speed = parse_maxspeed(maxspeed, highway)
    assert math.isfinite(speed) and speed > 0
    assert MIN_SPEED_KMH <= speed <= MAX_SPEED_KMH


csv_cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "nan", "inf", "-0", "1e400", "90.0000001", "-180", HUGE[:400]]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["cardiac;stroke", "trauma", "CARDIAC", "unknown_capability", "open",
                     "diverting", "closed", "full"]),
)


@lru_cache(maxsize=1)
def _scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="lifeline-fuzz-csv-"))


@pytest.fixture(scope="module")
def sync_session(database_url):
    """A session on the test database; every example is rolled back."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _write(text: str | bytes) -> Path:
    path = _scratch_dir() / "facilities.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def _check_import(session: Session, path: Path) -> None:
    try:
        summary = import_facilities_csv(session=session, region="fuzzland", csv_path=path,
                                        area=None)
    except FacilitiesImportError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
    else:
        assert summary.added + summary.updated == len(summary.names)
    finally:
        session.rollback()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.lists(csv_cell, min_size=5, max_size=9), max_size=6),
       header=st.sampled_from(["good", "bad", "none"]))
def test_facilities_csv_rows_import_or_fail_cleanly(sync_session, rows, header):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header == "good":
        writer.writerow(CSV_HEADER)
    elif header == "bad":
        writer.writerow(["name", "lat"])
    for row in rows:
        writer.writerow(row)
    _check_import(sync_session, _write(buffer.getvalue()))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.one_of(st.binary(max_size=400), st.text(max_size=400)))
@example(raw=b"\xff\xfe\x00garbage")
@example(raw=",".join(CSV_HEADER) + "\n" + ",".join([HUGE] * 7))
@example(raw=",".join(CSV_HEADER) + '\n"unterminated,quote')
@example(raw=",".join(CSV_HEADER) + "\n\x00,\x00,\x00,\x00,\x00,\x00,\x00")
def test_facilities_csv_bytes_import_or_fail_cleanly(sync_session, raw):
    _check_import(sync_session, _write(raw))


@lru_cache(maxsize=2)
def snapper(name: str) -> EdgeSnapper:
    graph = helsinki() if name == "helsinki" else synthetic_grid(12, seed=1)
    return EdgeSnapper(graph)


EXTREMES = [
    (90.0, 0.0), (-90.0, 0.0), (90.0, 180.0), (-90.0, -180.0), (0.0, 180.0), (0.0, -180.0),
    (60.17, 179.999999), (60.17, -179.999999), (89.9999999, 24.94), (1e-300, -1e-300),
    (-0.0, -0.0), (60.17, 24.94),
]
BAD = [
    (float("nan"), 24.94), (60.17, float("nan")), (float("inf"), 0.0), (0.0, float("-inf")),
    (90.0000001, 0.0), (0.0, 180.0000001), (HUGE, "1"), ("nan", "0"), ("north", "east"),
    (None, 0.0), ([60], [24]), ("1e309", "0"), (-1e308, 1e308),
]


def _assert_sane(snap, graph_edges: int) -> None:
    assert 0 <= snap.edge_index < graph_edges
    assert 0.0 <= snap.fraction <= 1.0
    assert math.isfinite(snap.distance_m) and snap.distance_m >= 0
    lat, lng = snap.point
    assert -90 <= lat <= 90 and -180 <= lng <= 180


@pytest.mark.parametrize("name", ["helsinki", "grid"])
@pytest.mark.parametrize(("lat", "lng"), EXTREMES)
def test_snapping_the_ends_of_the_earth(name, lat, lng):
    index = snapper(name)
    snap = index.snap(lat, lng)
    _assert_sane(snap, index.graph.n_edges)


@pytest.mark.parametrize(("lat", "lng"), BAD)
def test_snapping_nonsense_is_the_documented_error(lat, lng):
    with pytest.raises(InvalidCoordinateError):
        snapper("helsinki").snap(lat, lng)


@FAST
@given(lat=st.floats(allow_nan=True, allow_infinity=True),
       lng=st.floats(allow_nan=True, allow_infinity=True))
def test_snapping_any_float_pair(lat, lng):
    index = snapper("helsinki")
    on_earth = -90 <= lat <= 90 and -180 <= lng <= 180
    if not on_earth:
        with pytest.raises(InvalidCoordinateError):
            index.snap(lat, lng)
        return
    _assert_sane(index.snap(lat, lng), index.graph.n_edges)


@pytest.mark.parametrize(("lat", "lng"), [(90, 180), (-90, -180), (0, 180), (89.999, -179.999)])
async def test_sos_at_the_ends_of_the_earth_is_accepted_outside_the_service_area(client, lat, lng):
    from tests.conftest import sos_body

    r = await client.post("/api/v1/emergency/cases", json=sos_body(lat=lat, lng=lng))
    assert r.status_code == 201, r.text
    assert r.json()["outside_service_area"] is True


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "MultiLineString", "coordinates": [[]]},
        {"type": "MultiPolygon", "coordinates": [[{"a": 1}]]},
        {"type": "LineString", "coordinates": [[24.94, 60.17], ["NaN", 60.17]]},
        {"type": "LineString", "coordinates": [[24.94, 60.17], [1e308, 1e308]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    ],
)
async def test_malformed_closure_geometry_is_a_422(client, operator, geometry):
    import json

    # Python's JSON reads NaN; so would a sloppy client's. Send it raw.
    raw = json.dumps({"geometry": geometry, "reason": "fuzz regression"}).replace('"NaN"', "NaN")
    headers = {**operator.headers, "Content-Type": "application/json"}
    r = await client.post("/api/v1/routing/closures", content=raw, headers=headers)
    assert r.status_code in (400, 422), r.text
