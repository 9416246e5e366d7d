"""Reverse geocoding: the words a dispatcher reads out for a point.

The nearest address within 50 m; else "near <address>" or "<street>, between <cross> and
<cross>"; else the nearest named place with distance and bearing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geocoding import labels

ADDRESS_M = 50.0
STREET_M = 150.0
NEAR_ADDRESS_M = 150.0
CROSSINGS_M = 2000.0
PLACE_M = 10_000.0

_POINT = "ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)"
NEAREST = text(f"""
SELECT label, street, ST_X(point) AS lng, ST_Y(point) AS lat,
       ST_Distance(CAST(COALESCE(lines, point) AS geography), CAST({_POINT} AS geography)) AS d
FROM (
    SELECT * FROM geocode_entries
    WHERE kind = ANY(CAST(:kinds AS text[]))
      AND (CAST(:street AS text) IS NULL OR street = :street)
    ORDER BY COALESCE(lines, point) <-> {_POINT}
    LIMIT 8
) near
ORDER BY d
LIMIT 1
""")
CROSSINGS = text(f"""
SELECT CASE WHEN street = :street THEN cross_street ELSE street END AS name,
       ST_X(point) AS lng, ST_Y(point) AS lat
FROM geocode_entries
WHERE kind = 'intersection' AND (street = :street OR cross_street = :street)
  AND ST_DWithin(CAST(point AS geography), CAST({_POINT} AS geography), :within)
""")


@dataclass(frozen=True)
class Place:
    """What a point reads as, and how it was found."""

    label: str
    kind: str  # address | near_address | street | place
    street: str | None
    distance_m: float

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of ``GET /api/v1/geocode/reverse``."""
        return {"label": self.label, "kind": self.kind, "street": self.street,
                "distance_m": round(self.distance_m, 1)}


async def _nearest(db_session: AsyncSession, lat: float, lng: float, kinds: list[str],
                   street: str | None = None) -> Any:
    return (await db_session.execute(
        NEAREST, {"lat": lat, "lng": lng, "kinds": kinds, "street": street}
    )).first()


async def reverse(db_session: AsyncSession, *, lat: float, lng: float) -> Place | None:
    """The address of (lat, lng), or None when nothing named is within 10 km."""
    point = (lng, lat)
    address = await _nearest(db_session, lat, lng, ["address"])
    if address is not None and address.d <= ADDRESS_M:
        return Place(address.label, "address", address.street, address.d)
    street = await _nearest(db_session, lat, lng, ["street"])
    if street is not None and street.d <= STREET_M:
        on_street = await _nearest(db_session, lat, lng, ["address"], street=street.label)
        if on_street is not None and on_street.d <= NEAR_ADDRESS_M:
            return Place(f"near {on_street.label}", "near_address", street.label, street.d)
        crossings = (await db_session.execute(CROSSINGS, {
            "lat": lat, "lng": lng, "street": street.label, "within": CROSSINGS_M,
        })).all()
        wording = labels.between(street.label, point, [(c.name, (c.lng, c.lat)) for c in crossings])
        return Place(wording, "street", street.label, street.d)
    place = await _nearest(db_session, lat, lng, ["place", "poi"])
    if place is not None and place.d <= PLACE_M:
        return Place(labels.near_place(place.label, (place.lng, place.lat), point), "place",
                     None, place.d)
    return None


async def address_of(db_session: AsyncSession, *, lat: float, lng: float) -> str | None:
    """Just the words, for a case's ``address``."""
    found = await reverse(db_session, lat=lat, lng=lng)
    return found.label if found is not None else None
