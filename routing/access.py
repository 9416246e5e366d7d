"""Which OSM ways and barriers an ambulance may drive through, from their highway and access tags.

The rules follow the OSM wiki's access hierarchy (``emergency`` is the most specific tag for an
ambulance, then ``motorcar``, ``motor_vehicle``, ``vehicle`` and ``access``) and the car
profile of OSRM (``profiles/car.lua``: which barriers are passable by default). An ambulance
may use what is tagged for emergency vehicles (``emergency=yes|designated``,
``service=emergency_access``, ``access=emergency``); nothing else passes a road or a barrier
closed with ``no``/``private``, nor a ``locked=yes`` barrier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

#: Roads an ambulance drives by default.
DRIVABLE_HIGHWAYS: Final[frozenset[str]] = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
        "residential", "living_street", "service", "road", "busway",
    }
)  # fmt: skip
#: Ways an ambulance drives only where they are tagged open to emergency vehicles.
EMERGENCY_ONLY_HIGHWAYS: Final[frozenset[str]] = frozenset(
    {"pedestrian", "track", "cycleway", "footway", "path", "bridleway"}
)
#: Never driven: roads being built or only planned, and ferries (an ambulance cannot count on a
#: ferry's timetable; a region split by water is two regions for dispatch).
NEVER_DRIVEN: Final[frozenset[str]] = frozenset({"construction", "proposed", "abandoned", "razed"})

#: The access tags that concern an ambulance, most specific first.
ACCESS_KEYS: Final[tuple[str, ...]] = (
    "emergency",
    "motorcar",
    "motor_vehicle",
    "vehicle",
    "access",
)
OPEN_VALUES: Final[frozenset[str]] = frozenset(
    {"yes", "designated", "permissive", "destination", "customers", "delivery", "emergency",
     "official", "permit"}
)  # fmt: skip
CLOSED_VALUES: Final[frozenset[str]] = frozenset(
    {"no", "private", "agricultural", "forestry", "military", "use_sidepath"}
)

#: Barriers passable when nothing closes them (OSRM car.lua's barrier whitelist).
PASSABLE_BARRIERS: Final[frozenset[str]] = frozenset(
    {
        "cattle_grid", "border_control", "toll_booth", "sally_port", "gate", "lift_gate",
        "swing_gate", "no", "entrance", "height_restrictor", "arch", "sliding_gate",
        "kerb", "speed_bump", "bump_gate",
    }
)  # fmt: skip

#: Travel-time factor of service roads by ``service`` value (documented penalty): a campus or
#: access road is driven at its speed (15 km/h by default, :mod:`routing.speeds`); parking
#: aisles, driveways and drive-throughs take twice as long, since they are not through routes
#: and the ambulance crawls between parked cars. Other service roads: factor 1.
SERVICE_TIME_FACTOR: Final[dict[str, float]] = {
    "parking_aisle": 2.0,
    "driveway": 2.0,
    "drive-through": 2.0,
    "alley": 1.5,
}


_FORWARD = frozenset({"yes", "true", "1"})
_REVERSE = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0"})
# "reversible"/"alternating" roads are driveable both ways at some time of day; like osmnx we
# keep both directions rather than cut a road an ambulance may well be able to use.
_ROUNDABOUTS = frozenset({"roundabout", "circular"})


def _norm(value: object) -> str:
    if isinstance(value, str):
        return value.strip().lower()
    return ""


def travel_directions(oneway: object, junction: object, highway: object) -> tuple[bool, bool]:
    """
    Decide which directions of an OSM way can be driven.

    Parameters
    ----------
    oneway, junction, highway : object
        Raw tag values (``None``/NaN when absent).

    Returns
    -------
    tuple of bool
        ``(forward, backward)``: forward is the way's node order.
    """
    ow = _norm(oneway)
    if ow in _FORWARD:
        return True, False
    if ow in _REVERSE:
        return False, True
    if ow in _TWO_WAY:
        return True, True
    if _norm(junction) in _ROUNDABOUTS or _norm(highway) == "motorway":
        return True, False  # implied one-way (OSM wiki: roundabouts and motorways)
    return True, True


def _values(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip().lower() for part in value.split(";") if part.strip()]


def ambulance_access(tags: Mapping[str, str]) -> bool | None:
    """
    Decide from the access tags whether an ambulance may pass.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM tags of a way or node.

    Returns
    -------
    bool or None
        The verdict of the most specific access tag present (:data:`ACCESS_KEYS`): ``True``
        open (a list such as ``private;delivery`` is open when any value is), ``False``
        closed, ``None`` when no access tag speaks (the road's or barrier's default applies).
    """
    for key in ACCESS_KEYS:
        values = _values(tags.get(key))
        if any(v in OPEN_VALUES for v in values):
            return True
        if any(v in CLOSED_VALUES for v in values):
            return False
    return None


@dataclass(frozen=True, slots=True)
class WayRule:
    """How an ambulance may drive one OSM way."""

    forward: bool
    backward: bool
    time_factor: float
    """Multiplier of the way's travel time (service-road penalty)."""
    emergency_only: bool
    """Open to the ambulance only because it is tagged for emergency vehicles."""


def way_rule(
    tags: Mapping[str, str], directions: tuple[bool, bool] | None = None
) -> WayRule | None:
    """
    Whether and how an ambulance drives an OSM way.

    Parameters
    ----------
    tags : mapping of str to str
    directions : tuple of bool, optional
        ``(forward, backward)`` from the ``oneway`` rules; both by default.

    Returns
    -------
    WayRule or None
        ``None`` when the way is not part of the ambulance's network: not a road, under
        construction, a ferry, an area, or closed by its access tags.
    """
    highway = (tags.get("highway") or "").strip().lower()
    if not highway or highway in NEVER_DRIVEN or tags.get("route") == "ferry":
        return None
    if (tags.get("area") or "").lower() == "yes":
        return None
    service = (tags.get("service") or "").strip().lower()
    access = ambulance_access(tags)
    if service == "emergency_access" and (tags.get("emergency") or "").lower() != "no":
        access = True
    if access is False:
        return None
    if highway not in DRIVABLE_HIGHWAYS and not (
        highway in EMERGENCY_ONLY_HIGHWAYS and access is True
    ):
        return None
    emergency_only = (
        service == "emergency_access"
        or highway in EMERGENCY_ONLY_HIGHWAYS
        or (
            _values(tags.get("emergency"))[:1] in (["yes"], ["designated"])
            and any(v in CLOSED_VALUES for k in ACCESS_KEYS[1:] for v in _values(tags.get(k)))
        )
    )
    forward, backward = directions or (True, True)
    if (tags.get("oneway:emergency") or "").lower() == "no":
        forward = backward = True
    factor = SERVICE_TIME_FACTOR.get(service, 1.0) if highway == "service" else 1.0
    return WayRule(forward, backward, factor, emergency_only)


def barrier_blocks(tags: Mapping[str, str]) -> bool:
    """
    Whether a node stops an ambulance.

    Parameters
    ----------
    tags : mapping of str to str
        The node's tags.

    Returns
    -------
    bool
        ``True`` for a barrier closed by its access tags (``access=no|private`` and the like,
        unless ``emergency=yes|designated`` or another open value is more specific), a
        ``locked=yes`` barrier not open to emergency vehicles, and barriers that block motor
        vehicles by nature (bollards, blocks, chains, ...) unless tagged open.
    """
    barrier = (tags.get("barrier") or "").strip().lower()
    if not barrier:
        return False
    if (tags.get("locked") or "").strip().lower() == "yes":
        return not _open_to_emergency(tags)
    access = ambulance_access(tags)
    if access is not None:
        return not access
    return barrier not in PASSABLE_BARRIERS


def _open_to_emergency(tags: Mapping[str, str]) -> bool:
    """Tagged open to emergency vehicles themselves (the only way past a locked barrier)."""
    if any(v in OPEN_VALUES for v in _values(tags.get("emergency"))):
        return True
    return any("emergency" in _values(tags.get(key)) for key in ACCESS_KEYS[1:])
