"""Parsing of compact query parameters such as ``lat,lng``."""

from __future__ import annotations

import math

from data.errors import InvalidInput


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
