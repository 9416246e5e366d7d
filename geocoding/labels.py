"""Pure wording of reverse-geocoded places: bearings, distances, "between X and Y"."""

from __future__ import annotations

import math

from geocoding.extract import Point, metres

COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def bearing(origin: Point, target: Point) -> str:
    """The 8-point compass direction from ``origin`` to ``target`` ((lng, lat) points)."""
    lat = math.radians((origin[1] + target[1]) / 2)
    dx = (target[0] - origin[0]) * math.cos(lat)
    dy = target[1] - origin[1]
    degrees = (math.degrees(math.atan2(dx, dy)) + 360) % 360
    return COMPASS[int((degrees + 22.5) // 45) % 8]


def distance_words(distance_m: float) -> str:
    """``80 m``, ``850 m``, ``1.2 km``: rounded as a dispatcher reads it out."""
    if distance_m < 1000:
        return f"{max(10, round(distance_m, -1)):.0f} m"
    return f"{distance_m / 1000:.1f} km"


def near_place(place: str, place_at: Point, point: Point) -> str:
    """``850 m NE of Faisal Mosque``: where ``point`` is, seen from the named place."""
    return f"{distance_words(metres(place_at, point))} {bearing(place_at, point)} of {place}"


def between(street: str, point: Point, crossings: list[tuple[str, Point]]) -> str:
    """``Main Street, between A and B``: the nearest cross street on each side of ``point``.

    ``crossings`` are the cross streets of ``street`` with where they cross it. With crossings
    on one side only, ``Main Street, near A``; with none, the street alone.
    """
    if not crossings:
        return street
    ordered = sorted(crossings, key=lambda c: metres(point, c[1]))
    first_name, first_at = ordered[0]
    ax, ay = _offset(point, first_at)
    for name, at in ordered[1:]:
        if name == first_name:
            continue
        bx, by = _offset(point, at)
        if ax * bx + ay * by < 0:  # on the other side of the point
            return f"{street}, between {first_name} and {name}"
    return f"{street}, near {first_name}"


def _offset(origin: Point, target: Point) -> tuple[float, float]:
    lat = math.radians(origin[1])
    return (target[0] - origin[0]) * math.cos(lat), target[1] - origin[1]
