"""Write a region's geocoder entries (from :func:`geocoding.extract.read_extract`) in one go.

COPY, not INSERT: Islamabad has ~10^5 names, and the whole import runs in the caller's
transaction, so a failed import leaves the previous index in place.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from geocoding.extract import Entry, read_extract


@dataclass(frozen=True)
class IndexSummary:
    """What the geocoder indexed, by kind."""

    counts: dict[str, int]
    names: int
    bbox: tuple[float, float, float, float] | None = None


#: A bulk COPY leaves the GIN indexes' new entries in their pending list, which every search then
#: reads linearly (Islamabad: 15 ms of a 0.2-ms query) until a VACUUM; merge them now.
MERGE_PENDING = text(
    "SELECT gin_clean_pending_list(CAST('ix_geocode_names_words' AS regclass)),"
    " gin_clean_pending_list(CAST('ix_geocode_names_folded' AS regclass))"
)
UPSERT_BOUNDS = text("""
INSERT INTO geocode_regions (region, bbox)
VALUES (:r, ST_MakeEnvelope(:w, :s, :e, :n, 4326))
ON CONFLICT (region) DO UPDATE SET bbox = EXCLUDED.bbox
""")


def _multiline(lines: list[list[tuple[float, float]]]) -> str | None:
    if not lines:
        return None
    parts = ",".join("(" + ",".join(f"{x} {y}" for x, y in line) + ")" for line in lines)
    return f"SRID=4326;MULTILINESTRING({parts})"


def write_entries(session: Session, *, region: str, entries: list[Entry]) -> IndexSummary:
    """Replace ``region``'s entries; the caller commits."""
    session.execute(text("DELETE FROM geocode_entries WHERE region = :r"), {"r": region})
    raw = session.connection().connection.dbapi_connection
    counts: dict[str, int] = {}
    names = 0
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY geocode_entries (id, region, kind, label, housenumber, street, cross_street,"
            " point, lines, local_names) FROM STDIN"
        ) as copy:
            ids = []
            for entry in entries:
                entry_id = uuid.uuid4()
                ids.append(entry_id)
                counts[entry.kind] = counts.get(entry.kind, 0) + 1
                copy.write_row((
                    entry_id, region, entry.kind, entry.label, entry.housenumber, entry.street,
                    entry.cross_street,
                    f"SRID=4326;POINT({entry.point[0]} {entry.point[1]})",
                    _multiline(entry.lines),
                    json.dumps(entry.local_names, ensure_ascii=False) if entry.local_names
                    else None,
                ))
        with cursor.copy("COPY geocode_names (id, entry_id, region, name) FROM STDIN") as copy:
            for entry_id, entry in zip(ids, entries, strict=True):
                for name in dict.fromkeys(entry.names):
                    copy.write_row((uuid.uuid4(), entry_id, region, name))
                    names += 1
    session.execute(MERGE_PENDING)
    return IndexSummary(counts=counts, names=names)


def index_region(session: Session, *, region: str, pbf_path: str | Path) -> IndexSummary:
    """Read the extract and (re)build ``region``'s geocoder index and bounds; the caller commits."""
    extract = read_extract(pbf_path)
    west, south, east, north = extract.bbox
    session.execute(UPSERT_BOUNDS, {"r": region, "w": west, "s": south, "e": east, "n": north})
    summary = write_entries(session, region=region, entries=extract.entries)
    # Fresh statistics, so the first searches use the trigram index rather than a scan.
    session.execute(text("ANALYZE geocode_entries"))
    session.execute(text("ANALYZE geocode_names"))
    return IndexSummary(counts=summary.counts, names=summary.names, bbox=extract.bbox)
