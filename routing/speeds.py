"""Turn OSM highway classes and free-text ``maxspeed`` tags into the speed an ETA is built on."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
FloatArrayLike = Any

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


#: Implicit limits per country (``maxspeed``, ``maxspeed:type`` or ``source:maxspeed`` of the
#: form ``CC:zone``), km/h, from the national road traffic laws as listed on the OSM wiki's
#: "Default speed limits" page. Zones missing here use :data:`ZONE_SPEED_KMH`.
COUNTRY_ZONE_SPEED_KMH: Final[dict[str, dict[str, float]]] = {
    "AT": {"urban": 50.0, "rural": 100.0, "motorway": 130.0},
    "CH": {"urban": 50.0, "rural": 80.0, "trunk": 100.0, "motorway": 120.0},
    "CZ": {"urban": 50.0, "rural": 90.0, "motorway": 130.0},
    "DE": {"urban": 50.0, "rural": 100.0, "trunk": 100.0, "motorway": 130.0},
    "DK": {"urban": 50.0, "rural": 80.0, "motorway": 130.0},
    "ES": {"urban": 50.0, "rural": 90.0, "motorway": 120.0},
    "FI": {"urban": 50.0, "rural": 80.0, "motorway": 120.0},
    "FR": {"urban": 50.0, "rural": 80.0, "trunk": 110.0, "motorway": 130.0},
    "GB": {"urban": 48.3, "rural": 96.6, "nsl_single": 96.6, "nsl_dual": 112.7,
           "motorway": 112.7},
    "IE": {"urban": 50.0, "rural": 80.0, "national": 100.0, "motorway": 120.0},
    "IT": {"urban": 50.0, "rural": 90.0, "trunk": 110.0, "motorway": 130.0},
    "NL": {"urban": 50.0, "rural": 80.0, "motorway": 100.0},
    "NO": {"urban": 50.0, "rural": 80.0, "motorway": 110.0},
    "PK": {"motorway": 120.0},
    "PL": {"urban": 50.0, "rural": 90.0, "trunk": 120.0, "motorway": 140.0},
    "RU": {"urban": 60.0, "rural": 90.0, "motorway": 110.0},
    "SE": {"urban": 50.0, "rural": 70.0, "motorway": 110.0},
    "UA": {"urban": 50.0, "rural": 90.0, "motorway": 130.0},
}  # fmt: skip

_ZONE = re.compile(r"^\s*([A-Za-z]{2})(?:-[A-Za-z0-9]+)?:([A-Za-z0-9_]+)\s*$")


def zone_speed_kmh(value: object) -> float | None:
    """
    Speed of an implicit limit such as ``PK:urban`` or ``GB:nsl_single``.

    Parameters
    ----------
    value : object
        A ``maxspeed``, ``maxspeed:type`` or ``source:maxspeed`` value.

    Returns
    -------
    float or None
        The country's limit for that zone, the common value when the country has none listed,
        or ``None`` when the value is not a zone (``sign``, a number, garbage).
    """
    if not isinstance(value, str):
        return None
    match = _ZONE.match(value)
    if not match:
        return None
    country, zone = match.group(1).upper(), match.group(2).lower()
    return COUNTRY_ZONE_SPEED_KMH.get(country, {}).get(zone, ZONE_SPEED_KMH.get(zone))


def country_of_tags(tags: Mapping[str, str]) -> str | None:
    """ISO country code of a way's implicit speed limit tags (``PK:urban`` gives ``PK``)."""
    for key in ("maxspeed", "maxspeed:type", "source:maxspeed", "zone:maxspeed"):
        match = _ZONE.match(tags.get(key) or "")
        if match:
            return match.group(1).upper()
    return None


def way_speed_kmh(tags: Mapping[str, str]) -> float:
    """
    The speed an ambulance drives an OSM way at, before any emergency factor.

    A usable ``maxspeed`` wins (a zone value is read for its country); without one, the zone
    of ``maxspeed:type``, ``source:maxspeed`` or ``zone:maxspeed``; else the class default.

    Parameters
    ----------
    tags : mapping of str to str

    Returns
    -------
    float
        km/h, positive and finite.
    """
    highway = tags.get("highway")
    maxspeed = tags.get("maxspeed")
    zoned = zone_speed_kmh(maxspeed)
    if zoned is not None:
        return zoned
    if maxspeed is not None:
        return parse_maxspeed(maxspeed, highway)
    for key in ("maxspeed:type", "source:maxspeed", "zone:maxspeed"):
        zoned = zone_speed_kmh(tags.get(key))
        if zoned is not None and MIN_SPEED_KMH <= zoned <= MAX_SPEED_KMH:
            return zoned
    return default_speed_kmh(highway)


def speed_is_tagged(tags: Mapping[str, str]) -> bool:
    """Whether a way's speed comes from its tags rather than its class default."""
    if any(zone_speed_kmh(tags.get(k)) is not None for k in _ZONE_KEYS):
        return True
    raw = tags.get("maxspeed")
    if not isinstance(raw, str):
        return False
    parsed = [_parse_one(part) for part in re.split(r"[;|]", raw)]
    return any(p is not None and MIN_SPEED_KMH <= p <= MAX_SPEED_KMH for p in parsed)


_ZONE_KEYS = ("maxspeed", "maxspeed:type", "source:maxspeed", "zone:maxspeed")

#: Class defaults (km/h) outside built-up areas, for untagged roads where the road density says
#: rural (:func:`rural_segments`): the common national rural limits, lower for minor roads.
RURAL_SPEED_KMH: Final[dict[str, float]] = {
    "motorway": 110.0,
    "trunk": 90.0,
    "primary": 80.0,
    "secondary": 70.0,
    "tertiary": 60.0,
    "unclassified": 50.0,
    "residential": 40.0,
    "road": 50.0,
}
#: Road length per area (km per km², both directions counted once) from which a 1 km cell is
#: built-up. Towns run at 8-20 km/km²; open country below 2.
URBAN_ROAD_DENSITY_KM_PER_KM2: Final[float] = 5.0
_CELL_M = 1000.0


def rural_segments(
    lat: FloatArrayLike, lng: FloatArrayLike, length_m: FloatArrayLike
) -> NDArray[np.bool_]:
    """
    Whether each road segment lies where the road network is sparse (rural).

    Parameters
    ----------
    lat, lng : numpy.ndarray
        Segment midpoints, degrees.
    length_m : numpy.ndarray
        Segment lengths.

    Returns
    -------
    numpy.ndarray of bool
        True where the segment's 1 km cell, with its eight neighbours, holds less than
        :data:`URBAN_ROAD_DENSITY_KM_PER_KM2` of road; all false for an extract less than
        about 4 km across (it cannot tell town from country).
    """
    lat = np.asarray(lat, dtype=np.float64)
    if len(lat) == 0:
        return np.zeros(0, dtype=bool)
    lng = np.asarray(lng, dtype=np.float64)
    scale = 111_195.0 / _CELL_M
    cy = np.floor(lat * scale).astype(np.int64)
    cx = np.floor(lng * scale * math.cos(math.radians(float(np.mean(lat))))).astype(np.int64)
    if np.ptp(cy) < 3 or np.ptp(cx) < 3:
        # An extract smaller than the 3 x 3 km window: its own edge would read as open country.
        return np.zeros(len(lat), dtype=bool)
    cy -= cy.min() - 1
    cx -= cx.min() - 1
    grid = np.zeros((cy.max() + 2, cx.max() + 2))
    np.add.at(grid, (cy, cx), np.asarray(length_m, dtype=np.float64) / 1000.0)
    padded = np.pad(grid, 1)
    around = np.zeros_like(grid)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            around += padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
    density = around / 9.0  # km of road per km² over the 3 x 3 km block
    rural: NDArray[np.bool_] = density[cy, cx] < URBAN_ROAD_DENSITY_KM_PER_KM2
    return rural


#: Environment variable holding the agency's emergency-response speed factors per road class.
EMERGENCY_SPEED_FACTORS_ENV: Final[str] = "LIFELINE_EMERGENCY_SPEED_FACTORS"


def emergency_speed_factors(raw: str | None = None) -> dict[str, float]:
    """
    Parse the emergency-response speed factors (``motorway=1.1,residential=1.2``).

    An agency whose ambulances drive faster than the posted limit under lights and siren may
    say so per ``highway`` class; every class not listed keeps 1.0 (drives at the posted limit).

    Parameters
    ----------
    raw : str, optional
        The setting; default :data:`EMERGENCY_SPEED_FACTORS_ENV` from the environment.

    Returns
    -------
    dict of str to float

    Raises
    ------
    ValueError
        A malformed entry or a factor outside (0, 3].
    """
    if raw is None:
        raw = os.environ.get(EMERGENCY_SPEED_FACTORS_ENV, "")
    factors: dict[str, float] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = math.nan
        if not sep or not key.strip() or not (0 < factor <= 3):
            raise ValueError(f"{EMERGENCY_SPEED_FACTORS_ENV}: bad entry {entry!r}")
        factors[key.strip().lower()] = factor
    return factors
