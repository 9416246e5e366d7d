"""Turn OSM highway classes and free-text ``maxspeed`` tags into the speed an ETA is built on."""

from __future__ import annotations

import math
import re
from typing import Final

#: Default free-flow driving speed in km/h per OSM ``highway`` class, used when a way has no
#: usable ``maxspeed``. Values are conservative urban figures for an ambulance driving at the
#: posted speed (we never assume it exceeds the limit): motorways 100, trunks 80, primary 60,
#: secondary 50, tertiary 40, minor streets 30, living streets 10, service roads 15. Link
#: roads (ramps) are slower than their parent class.
DEFAULT_SPEED_KMH: Final[dict[str, float]] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 35.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 30.0,
    "track": 15.0,
    "busway": 30.0,
}

#: Speed for a ``highway`` value missing from :data:`DEFAULT_SPEED_KMH`.
FALLBACK_SPEED_KMH: Final[float] = 30.0

#: Parsed speeds outside this range (km/h) are treated as tagging errors.
MIN_SPEED_KMH: Final[float] = 5.0
MAX_SPEED_KMH: Final[float] = 150.0

#: Implicit limits (``maxspeed=XX:zone``) for the zone keywords; numbers are the common
#: European values. Country-specific tables differ by a few km/h at most.
ZONE_SPEED_KMH: Final[dict[str, float]] = {
    "urban": 50.0,
    "rural": 80.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 10.0,
    "bicycle_road": 30.0,
    "zone30": 30.0,
    "zone20": 20.0,
}

_MPH_TO_KMH: Final[float] = 1.609344
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


def default_speed_kmh(highway: object) -> float:
    """
    Return the default speed of an OSM ``highway`` class.

    Parameters
    ----------
    highway : object
        The tag value, e.g. ``"primary"``; lists such as ``"primary;secondary"`` use the first
        known class. Anything else (``None``, NaN, unknown) gives :data:`FALLBACK_SPEED_KMH`.

    Returns
    -------
    float
        Speed in km/h, always positive and finite.
    """
    if not isinstance(highway, str):
        return FALLBACK_SPEED_KMH
    for part in highway.split(";"):
        speed = DEFAULT_SPEED_KMH.get(part.strip().lower())
        if speed is not None:
            return speed
    return FALLBACK_SPEED_KMH


def _parse_one(value: str) -> float | None:
    value = value.strip().lower()
    if not value:
        return None
    match = _NUMBER.match(value)
    if match:
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
        if unit == "mph":
            number *= _MPH_TO_KMH
        elif unit == "knots":
            number *= 1.852
        return number
    if ":" in value:  # implicit limits such as "FI:urban", "DE:zone30", "RU:motorway"
        zone = value.split(":", 1)[1].strip()
        return ZONE_SPEED_KMH.get(zone)
    if value in ("walk", "living_street"):
        return ZONE_SPEED_KMH["living_street"]
    return None  # "none", "signals", "variable", garbage: no usable number


def parse_maxspeed(maxspeed: object, highway: object = None) -> float:
    """
    Parse an OSM ``maxspeed`` tag into km/h, falling back to the highway class default.

    Parameters
    ----------
    maxspeed : object
        The raw tag: ``"50"``, ``"30 mph"``, ``"50;30"`` (several values: the lowest is used,
        since an ambulance must respect the strictest), ``"FI:urban"``, ``"none"``, numbers,
        ``None``/NaN or garbage.
    highway : object, optional
        The way's ``highway`` class, used for the fallback (see :func:`default_speed_kmh`).

    Returns
    -------
    float
        Speed in km/h. Never raises; always positive and finite. Values outside
        [:data:`MIN_SPEED_KMH`, :data:`MAX_SPEED_KMH`] and ``"none"`` (no limit) fall back to
        the class default.
    """
    fallback = default_speed_kmh(highway)
    if isinstance(maxspeed, bool):
        return fallback
    if isinstance(maxspeed, int | float):
        candidates = [float(maxspeed)]
    elif isinstance(maxspeed, str):
        parsed = [_parse_one(part) for part in re.split(r"[;|]", maxspeed)]
        candidates = [p for p in parsed if p is not None]
    else:
        return fallback
    valid = [c for c in candidates if math.isfinite(c) and MIN_SPEED_KMH <= c <= MAX_SPEED_KMH]
    return min(valid) if valid else fallback


def travel_time_s(length_m: float, speed_kmh: float) -> float:
    """
    Return the seconds needed to drive ``length_m`` metres at ``speed_kmh``.

    Parameters
    ----------
    length_m : float
        Non-negative length in metres.
    speed_kmh : float
        Positive speed in km/h.

    Returns
    -------
    float
        ``length_m / (speed_kmh / 3.6)``.
    """
    return length_m * 3.6 / speed_kmh
