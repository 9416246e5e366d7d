"""Reverse geocoding: the words a dispatcher reads out for a point.

The nearest address within 50 m; else "near <address>" or "<street>, between <cross> and
<cross>"; else the nearest named place with distance and bearing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geocoding import labels

ADDRESS_M = 50.0
#: A point this close to a street's line is on it (GPS and carriageway width).
ON_STREET_M = 25.0
STREET_M = 150.0
NEAR_ADDRESS_M = 150.0
CROSSINGS_M = 2000.0
PLACE_M = 10_000.0

#: Each query walks a GiST index outward from the point (KNN ``<->``, then the exact distance
#: in metres among the few nearest): reverse geocoding runs for every SOS, so it never scans.
#: Streets are found by their lines, everything else by its point.
#: A street's distance is the geodesic one to its planar closest point: within the 150 m that
#: matter the two agree to centimetres, and a long street's geodesic distance costs milliseconds.
#: The first question of every lookup, in one round trip: the nearest street, and the nearest
#: address within 50 m.
STREET_AND_ADDRESS = text("""
(SELECT 'street' AS found, label, street, ST_X(point) AS lng, ST_Y(point) AS lat,
        ST_Distance(CAST(ST_ClosestPoint(lines, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326))
                         AS geography),
                    CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography)) AS d
 FROM (SELECT * FROM geocode_entries
       WHERE kind = 'street' AND lines IS NOT NULL
       ORDER BY lines <-> ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)
       LIMIT 8) near_street
 ORDER BY d LIMIT 1)
UNION ALL
(SELECT 'address', label, street, ST_X(point), ST_Y(point),
        ST_Distance(CAST(point AS geography),
                    CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography)) AS d
 FROM (SELECT * FROM geocode_entries
       WHERE kind = 'address'
         AND ST_DWithin(point, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326), :within_deg)
       ORDER BY point <-> ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)
       LIMIT 8) near_address
 ORDER BY d LIMIT 1)
""")
#: Within a radius (the index answers the radius and the order): addresses are sparse, and a
#: bare nearest-first walk would visit every POI between here and the next address.
NEAREST_POINT = text("""
SELECT label, street, ST_X(point) AS lng, ST_Y(point) AS lat,
       ST_Distance(CAST(point AS geography),
                   CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography)) AS d
FROM (
    SELECT * FROM geocode_entries
    WHERE kind = ANY(CAST(:kinds AS text[]))
      AND (CAST(:street AS text) IS NULL OR street = :street)
      AND ST_DWithin(point, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326), :within_deg)
    ORDER BY point <-> ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)
    LIMIT 8
) near
ORDER BY d
LIMIT 1
""")
#: Places and POIs are dense: nearest first, no radius (a 10-km radius makes the planner read
#: thousands of rows and sort them).
NEAREST_PLACE = text("""
SELECT label, street, ST_X(point) AS lng, ST_Y(point) AS lat,
       ST_Distance(CAST(point AS geography),
                   CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography)) AS d
FROM (
    SELECT * FROM geocode_entries
    WHERE kind IN ('place', 'poi')
    ORDER BY point <-> ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)
    LIMIT 8
) near
ORDER BY d
LIMIT 1
""")
CROSSINGS = text("""
SELECT CASE WHEN street = :street THEN cross_street ELSE street END AS name,
       ST_X(point) AS lng, ST_Y(point) AS lat
FROM geocode_entries
WHERE kind = 'intersection' AND (street = :street OR cross_street = :street)
  AND ST_DWithin(point, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326), :within_deg)
  AND ST_DWithin(CAST(point AS geography),
                 CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography), :within)
""")


def degrees_for(metres: float, lat: float) -> float:
    """A radius in degrees that covers ``metres`` at latitude ``lat`` in every direction (for the
    index's planar pre-filter; the exact test is in metres)."""
    return metres / (111_195.0 * max(0.05, math.cos(math.radians(lat))))


@dataclass(frozen=True)
class Place:
    """What a point reads as, how it was found, and the street the point is on (if any)."""

    label: str
    kind: str  # address | near_address | street | place
    street: str | None
    distance_m: float
    on_street: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of ``GET /api/v1/geocode/reverse``."""
        return {"label": self.label, "kind": self.kind, "street": self.street,
                "on_street": self.on_street, "distance_m": round(self.distance_m, 1)}


async def _nearest(db_session: AsyncSession, lat: float, lng: float, kinds: list[str],
                   within_m: float, street: str | None = None) -> Any:
    if kinds == ["place", "poi"]:
        return (await db_session.execute(NEAREST_PLACE, {"lat": lat, "lng": lng})).first()
    return (await db_session.execute(NEAREST_POINT, {
        "lat": lat, "lng": lng, "kinds": kinds, "street": street,
        "within_deg": degrees_for(within_m, lat),
    })).first()


async def reverse(db_session: AsyncSession, *, lat: float, lng: float) -> Place | None:
    """The address of (lat, lng), or None when nothing named is within 10 km."""
    point = (lng, lat)
    first = {row.found: row for row in await db_session.execute(STREET_AND_ADDRESS, {
        "lat": lat, "lng": lng, "within_deg": degrees_for(ADDRESS_M, lat)})}
    street, address = first.get("street"), first.get("address")
    on = street.label if street is not None and street.d <= ON_STREET_M else None
    if address is not None and address.d <= ADDRESS_M:
        return Place(address.label, "address", address.street, address.d, on)
    if street is not None and street.d <= STREET_M:
        near = await _nearest(db_session, lat, lng, ["address"], NEAR_ADDRESS_M,
                              street=street.label)
        if near is not None and near.d <= NEAR_ADDRESS_M:
            return Place(f"near {near.label}", "near_address", street.label, street.d, on)
        crossings = (await db_session.execute(CROSSINGS, {
            "lat": lat, "lng": lng, "street": street.label, "within": CROSSINGS_M,
            "within_deg": degrees_for(CROSSINGS_M, lat),
        })).all()
        wording = labels.between(street.label, point, [(c.name, (c.lng, c.lat)) for c in crossings])
        return Place(wording, "street", street.label, street.d, on)
    place = await _nearest(db_session, lat, lng, ["place", "poi"], PLACE_M)
    if place is not None and place.d <= PLACE_M:
        return Place(labels.near_place(place.label, (place.lng, place.lat), point), "place",
                     None, place.d)
    return None


async def address_of(db_session: AsyncSession, *, lat: float, lng: float) -> str | None:
    """Just the words, for a case's ``address``."""
    found = await reverse(db_session, lat=lat, lng=lng)
    return found.label if found is not None else None
