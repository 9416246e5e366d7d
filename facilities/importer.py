"""Hospitals from OpenStreetMap and from a facilities CSV,
validated whole before anything is written."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.base import utcnow
from facilities.capabilities import Capability, UnknownCapability, parse_capability_list
from facilities.models import Hospital

CSV_HEADER = ["osm_id", "name", "lat", "lng", "capabilities", "beds", "ed_status"]
#: Optional trailing columns: where ambulances reach the hospital (its emergency entrance).
ENTRANCE_COLUMNS = ["entrance_lat", "entrance_lng"]
ED_STATUSES = ("open", "diverting", "closed")


class FacilitiesImportError(ValueError):
    """The CSV (or OSM data) cannot be imported; ``problems`` lists every defect with its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class FacilitiesSummary:
    """What an import changed."""

    added: int = 0
    updated: int = 0
    names: list[str] = field(default_factory=list)


def upsert_osm_hospitals(
    *,
    session: Session, region: str, pois: Iterable, access: Iterable | None = None,
    local_names: Mapping[tuple[str, int], dict[str, str]] | None = None,
) -> int:
    """Insert or update OSM hospitals (``amenity=hospital``); ``emergency=yes`` gives general_ed.

    ``access`` (one ``routing.entrances.HospitalAccess`` per POI) records where ambulances
    reach each hospital: its entrance or campus road, or the road nearest it (no entrance).
    ``local_names`` (facilities.local_names) keeps their ``name:<lang>`` for the maps.
    """
    local_names = local_names or {}
    pois = list(pois)
    accesses = list(access) if access is not None else [None] * len(pois)
    existing = {
        h.osm_id: h
        for h in session.scalars(
            select(Hospital).where(Hospital.region == region, Hospital.osm_id.is_not(None))
        )
    }
    count = 0
    for poi, reach in zip(pois, accesses, strict=True):
        emergency = (poi.emergency or "").lower() == "yes"
        hospital = existing.get(poi.osm_id)
        if hospital is None:
            hospital = Hospital(
                region=region,
                osm_id=poi.osm_id,
                capabilities=[Capability.GENERAL_ED.value] if emergency else [],
                ed_status="open",
                capacity_updated_at=None,
            )
            session.add(hospital)
        hospital.name = poi.name or f"Hospital (OSM {poi.osm_type} {poi.osm_id})"
        hospital.local_names = local_names.get((poi.osm_type, poi.osm_id)) or None
        hospital.location = from_shape(shapely.Point(poi.lng, poi.lat), srid=4326)
        if reach is not None:
            on_road = reach.kind == "nearest_road"
            hospital.entrance = (
                None if on_road else from_shape(shapely.Point(reach.lng, reach.lat), srid=4326)
            )
            hospital.access_kind = reach.kind
            hospital.access_snap_m = reach.snap_distance_m
        hospital.is_emergency_enabled = emergency or bool(hospital.capabilities)
        count += 1
    session.flush()
    return count


@dataclass(frozen=True)
class _Row:
    line: int
    osm_id: int | None
    name: str
    lat: float | None
    lng: float | None
    capabilities: list[str]
    beds: int | None
    ed_status: str
    entrance: tuple[float, float] | None = None


def _parse_rows(text: str) -> tuple[list[_Row], list[str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return [], ["the CSV is empty"]
    columns = [h.strip().lower() for h in header]
    if columns not in (CSV_HEADER, CSV_HEADER + ENTRANCE_COLUMNS):
        return [], [
            f"line 1: header must be {','.join(CSV_HEADER)}[,{','.join(ENTRANCE_COLUMNS)}],"
            f" got {','.join(header)}"
        ]
    rows, problems = [], []
    for line, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            problems.append(f"line {line}: expected {len(columns)} columns, got {len(record)}")
            continue
        osm_id, name, lat, lng, caps, beds, status = (cell.strip() for cell in record[:7])
        entrance_lat, entrance_lng = (cell.strip() for cell in (record[7:] or ["", ""]))
        errors: list[str] = []
        try:
            parsed_osm = int(osm_id) if osm_id else None
        except ValueError:
            errors.append(f"osm_id {osm_id!r} is not an integer")
            parsed_osm = None
        coords: list[float | None] = []
        for label, value, bound in (
            ("lat", lat, 90),
            ("lng", lng, 180),
            ("entrance_lat", entrance_lat, 90),
            ("entrance_lng", entrance_lng, 180),
        ):
            if not value:
                coords.append(None)
                continue
            try:
                number = float(value)
                if not math.isfinite(number) or abs(number) > bound:
                    raise ValueError
                coords.append(number)
            except ValueError:
                errors.append(f"{label} {value!r} is not a coordinate")
                coords.append(None)
        if parsed_osm is None and (coords[0] is None or coords[1] is None) and not osm_id:
            errors.append("a row without osm_id needs lat and lng")
        if (coords[2] is None) != (coords[3] is None) and not errors:
            errors.append("entrance_lat and entrance_lng go together")
        if parsed_osm is None and not name:
            errors.append("a row without osm_id needs a name")
        try:
            capabilities = [c.value for c in parse_capability_list(caps)]
        except UnknownCapability as exc:
            errors.append(str(exc))
            capabilities = []
        try:
            parsed_beds = int(beds) if beds else None
            if parsed_beds is not None and parsed_beds < 0:
                raise ValueError
        except ValueError:
            errors.append(f"beds {beds!r} is not a non-negative integer")
            parsed_beds = None
        status = status.lower() or "open"
        if status not in ED_STATUSES:
            errors.append(f"ed_status {status!r} is not one of {', '.join(ED_STATUSES)}")
        if errors:
            problems.extend(f"line {line}: {e}" for e in errors)
            continue
        entrance = None
        if coords[2] is not None and coords[3] is not None:
            entrance = (coords[2], coords[3])
        rows.append(
            _Row(
                line,
                parsed_osm,
                name,
                coords[0],
                coords[1],
                capabilities,
                parsed_beds,
                status,
                entrance,
            )
        )
    return rows, problems


def import_facilities_csv(
    *,
    session: Session, region: str, csv_path: str | Path, area: shapely.Geometry | None
) -> FacilitiesSummary:
    """Apply a facilities CSV to ``region`` in the caller's transaction; all or nothing.

    Every problem in the file is reported at once (:class:`FacilitiesImportError`), and nothing
    is written unless the whole file is valid: unknown capabilities, unknown OSM hospitals,
    coordinates outside the region and malformed values are all errors.
    """
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FacilitiesImportError([f"{path}: cannot read ({exc})"]) from exc
    rows, problems = _parse_rows(text)
    hospitals = list(session.scalars(select(Hospital).where(Hospital.region == region)))
    by_osm = {h.osm_id: h for h in hospitals if h.osm_id is not None}
    by_name = {h.name: h for h in hospitals if h.osm_id is None}
    for row in rows:
        if row.osm_id is not None and row.osm_id not in by_osm:
            problems.append(f"line {row.line}: no OSM hospital {row.osm_id} in region {region}")
        if (
            area is not None
            and row.lat is not None
            and row.lng is not None
            and not area.covers(shapely.Point(row.lng, row.lat))
        ):
            problems.append(f"line {row.line}: {row.lat},{row.lng} lies outside region {region}")
        if (
            area is not None
            and row.entrance is not None
            and not area.covers(shapely.Point(row.entrance[1], row.entrance[0]))
        ):
            problems.append(
                f"line {row.line}: entrance {row.entrance[0]},{row.entrance[1]}"
                f" lies outside region {region}"
            )
    if problems:
        raise FacilitiesImportError(problems)
    summary = FacilitiesSummary()
    now = utcnow()
    for row in rows:
        hospital = by_osm.get(row.osm_id) if row.osm_id is not None else by_name.get(row.name)
        if hospital is None:
            hospital = Hospital(region=region, name=row.name)
            session.add(hospital)
            by_name[row.name] = hospital
            summary.added += 1
        else:
            summary.updated += 1
        if row.name:
            hospital.name = row.name
        if row.lat is not None and row.lng is not None:
            hospital.location = from_shape(shapely.Point(row.lng, row.lat), srid=4326)
            # the operator's placement wins over an entrance found in OSM for the old one
            hospital.entrance, hospital.access_kind, hospital.access_snap_m = None, None, None
        if row.entrance is not None:
            entrance_lat, entrance_lng = row.entrance
            hospital.entrance = from_shape(shapely.Point(entrance_lng, entrance_lat), srid=4326)
            hospital.access_kind, hospital.access_snap_m = "csv_entrance", None
        hospital.capabilities = row.capabilities
        hospital.beds_available = row.beds
        hospital.ed_status = row.ed_status
        hospital.is_emergency_enabled = bool(row.capabilities)
        hospital.capacity_updated_at = now
        summary.names.append(hospital.name)
    session.flush()
    return summary
