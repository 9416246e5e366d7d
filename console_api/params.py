"""Parameters several routers share: compact ``lat,lng`` and bbox values, and If-Match."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Header

from data.errors import InvalidInput

IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", description="The case version (its ETag) this action expects."),
]


def expected_version(if_match: str | None) -> int | None:
    """Parse an If-Match ETag such as ``"3"`` or ``W/"3"`` into a version number."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise InvalidInput("If-Match must be a case version ETag such as \"3\"", field="If-Match")
    return int(raw)


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``"west,south,east,north"`` in degrees; anything else is a 422 naming ``bbox``."""
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidInput("bbox must be west,south,east,north in degrees", field="bbox") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput("bbox must be west<east, south<north, on Earth", field="bbox")
    return west, south, east, north


def parse_lat_lng(value: str, *, field: str) -> tuple[float, float]:
    """``"60.17,24.94"`` -> (60.17, 24.94); anything else is a 422 naming ``field``."""
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lng = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidInput(f"{field} must be 'lat,lng' in decimal degrees", field=field) from None
    if not (math.isfinite(lat) and math.isfinite(lng)) or abs(lat) > 90 or abs(lng) > 180:
        raise InvalidInput(f"{field} is not a coordinate on Earth", field=field)
    return lat, lng
