"""The ambulance fleet: registration, status, live positions (a port), and unit recommendation."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Conflict, InvalidInput, Unavailable
from data.events import UNIT_STATUS, UnitStatusChanged
from data.outbox import record_event
from dispatch.destinations import Destinations
from dispatch.models import EmergencyCase, Unit, UnitEvent
from dispatch.ports import LiveFixRead, LivePositions
from dispatch.position_ingest import UnitNotFound
from dispatch.recommend_units import ACUTE, Destination, UnitCandidate, recommend_units
from dispatch.schemas import UnitCreate
from dispatch.settings import DispatchSettings
from dispatch.unit_status import UnitStatus, UnitType, unit_transition
from geocoding.bounds import outside_every_region
from routing.fleet import times_to_incident

#: Bounded searches for units around an incident, widened in turn (see recommend_for_case).
#: Measured on Islamabad with 400 units (the 25 nearest by air routed): 10 min finds k=3 for
#: most incidents in 2.4 ms, the full horizon takes 21 ms; a 4-minute step first (0.9 ms)
#: succeeds only half the time, so it saves nothing on average.
UNIT_SEARCH_LIMITS_S: tuple[float, ...] = (600.0,)
#: Units routed per recommendation: the nearest by air (see shortlist_by_air).
UNIT_SHORTLIST = 25
#: Also routed: the nearest units of each type (a plan may need an ALS the 25 nearest lack).
SHORTLIST_PER_TYPE = 3
#: Every unit the shortlist can hold: what a response plan chooses from.
ROUTED_AT_MOST = UNIT_SHORTLIST + SHORTLIST_PER_TYPE * len(UnitType)


class UnitUnavailable(Conflict):
    """The unit is already committed to a case (or out of service)."""

    code = "unit_unavailable"
    title = "Unit not available"


class LivePosition(NamedTuple):
    """Where a unit is, as far as we know (a tuple: a dispatch builds one per free unit)."""

    lat: float
    lng: float
    recorded_at: datetime | None
    stale: bool
    from_station: bool


class UnitBrief(NamedTuple):
    """What ranking needs of a unit, read as a plain row (no ORM object, no geometry parsing)."""

    id: uuid.UUID
    call_sign: str
    unit_type: str
    station_lat: float
    station_lng: float
    last_position_at: datetime | None


def station_of(unit: Unit | UnitBrief) -> tuple[float, float]:
    """(lat, lng) of the unit's station."""
    if isinstance(unit, UnitBrief):
        return unit.station_lat, unit.station_lng
    point = to_shape(unit.station)
    return point.y, point.x


#: Built once: every dispatch reads the whole free fleet.
FREE_UNITS = (
    select(
        Unit.id, Unit.call_sign, Unit.unit_type, func.ST_Y(Unit.station),
        func.ST_X(Unit.station), Unit.last_position_at,
    )
    .where(Unit.status == UnitStatus.AVAILABLE.value)
    .order_by(Unit.call_sign)
)


async def available_units(*, db_session: AsyncSession) -> list[UnitBrief]:
    """Free units by call sign, as plain rows: a dispatch ranks a whole fleet of them."""
    return [UnitBrief._make(row) for row in await db_session.execute(FREE_UNITS)]


async def create_unit(*, db_session: AsyncSession, request: UnitCreate, actor: str) -> Unit:
    """Register an ambulance, available at its station (which must lie in a region)."""
    if await outside_every_region(db_session, lat=request.station_lat, lng=request.station_lng):
        raise InvalidInput(
            f"the station {request.station_lat:.5f},{request.station_lng:.5f} lies outside every "
            "imported region: import the region first (make run REGION=...) or correct the "
            "coordinates", field="station_lat", code="station_outside_regions",
        )
    unit = Unit(
        call_sign=request.call_sign.strip(),
        unit_type=request.type,
        station=from_shape(Point(request.station_lng, request.station_lat), srid=4326),
        crew_phones=list(request.crew_phones),
        status=UnitStatus.AVAILABLE.value,
    )
    db_session.add(unit)
    try:
        await db_session.flush()
    except IntegrityError as exc:
        await db_session.rollback()
        raise Conflict(f"call sign {request.call_sign} is taken", code="call_sign_taken") from exc
    _unit_event(db_session, unit, UnitStatus.AVAILABLE, UnitStatus.AVAILABLE, actor, "operator")
    await db_session.commit()
    return unit


async def get_unit(*, db_session: AsyncSession, unit_id: uuid.UUID, lock: bool = False) -> Unit:
    """Load a unit or raise :class:`UnitNotFound`."""
    unit = await db_session.get(Unit, unit_id, populate_existing=True, with_for_update=lock)
    if unit is None:
        raise UnitNotFound(f"no unit {unit_id}")
    return unit


async def list_units(
    *,
    db_session: AsyncSession,
    status: str | None = None,
    bound_for_hospital: uuid.UUID | None = None,
) -> list[Unit]:
    """Units by call sign, optionally of one status; ``bound_for_hospital``: only those whose
    current case is headed there (what a hospital needs to see of the fleet)."""
    query = select(Unit).order_by(Unit.call_sign)
    if status is not None:
        query = query.where(Unit.status == status)
    if bound_for_hospital is not None:
        query = query.join(EmergencyCase, EmergencyCase.id == Unit.current_case_id).where(
            EmergencyCase.destination_hospital_id == bound_for_hospital
        )
    return list((await db_session.execute(query)).scalars())


def _unit_event(
    db_session: AsyncSession,
    unit: Unit,
    from_status: UnitStatus,
    to_status: UnitStatus,
    actor: str,
    source: str,
    case_id: uuid.UUID | None = None,
) -> None:
    """Timeline row and outbox event for a unit status change, in the caller's transaction."""
    db_session.add(
        UnitEvent(
            unit_id=unit.id,
            case_id=case_id,
            from_status=from_status.value,
            to_status=to_status.value,
            actor=actor,
            source=source,
        )
    )
    payload: UnitStatusChanged = {
        "unit_id": str(unit.id),
        "call_sign": unit.call_sign,
        "type": unit.unit_type,
        "from_status": from_status.value,
        "status": to_status.value,
        "case_id": str(case_id) if case_id else None,
    }
    record_event(
        db_session,
        channel=UNIT_STATUS.channel,
        event_type=UNIT_STATUS.event_type,
        aggregate_type="unit",
        aggregate_id=unit.id,
        payload=payload,
    )


def move_unit(
    *,
    db_session: AsyncSession,
    unit: Unit,
    target: UnitStatus,
    actor: str,
    source: str,
    case_id: uuid.UUID | None = None,
) -> None:
    """Validate and stage a unit status change (the caller commits)."""
    move = unit_transition(UnitStatus(unit.status), target)
    unit.status = target.value
    if target is UnitStatus.AVAILABLE or target is UnitStatus.OUT_OF_SERVICE:
        unit.current_case_id = None
    _unit_event(db_session, unit, move.from_status, move.to_status, actor, source, case_id)


async def set_unit_status(
    *,
    db_session: AsyncSession, unit_id: uuid.UUID, status: UnitStatus, actor: str
) -> Unit:
    """Operator: take a free unit out of service or return it; a busy unit stays with its case."""
    unit = await get_unit(db_session=db_session, unit_id=unit_id, lock=True)
    if unit.current_case_id is not None:
        raise UnitUnavailable(
            f"{unit.call_sign} is committed to case {unit.current_case_id}; release it first",
            current_status=unit.status,
        )
    move_unit(db_session=db_session, unit=unit, target=status, actor=actor, source="operator")
    await db_session.commit()
    return unit


async def live_positions(
    live_fleet: LivePositions, units: list[Unit] | list[UnitBrief]
) -> dict[uuid.UUID, LivePosition]:
    """Each unit's live position, or its station marked stale when it has gone silent.

    One read for the whole list: a dispatch reads the positions of every free unit. With the
    live store down every unit stands at its station, marked stale: dispatch goes on.
    """
    fixes: list[LiveFixRead | None] = [None] * len(units)
    if units:
        try:
            fixes = await live_fleet.latest([unit.id for unit in units])
        except Unavailable:
            fixes = [None] * len(units)
    oldest = utcnow() - timedelta(seconds=live_fleet.stale_after_s)
    result = {}
    for unit, fix in zip(units, fixes, strict=True):
        if fix is not None and fix.recorded_at >= oldest:
            result[unit.id] = LivePosition(fix.lat, fix.lng, fix.recorded_at, False, False)
        else:
            lat, lng = station_of(unit)
            result[unit.id] = LivePosition(lat, lng, unit.last_position_at, True, True)
    return result


def shortlist_by_air(
    units: list[UnitBrief], positions: dict[uuid.UUID, LivePosition], lat: float, lng: float,
    n: int, *, per_type: int = 0,
) -> list[UnitBrief]:
    """The ``n`` units nearest the incident in a straight line, the only ones routed, plus the
    ``per_type`` nearest of each unit type (in their original order).

    A dispatch room with hundreds of free units routes a shortlist, as CAD systems do: snapping
    and scoring every unit of a city's fleet cost ~20 ms per dispatch. A unit outside the
    shortlist wins only if more than ``n`` units are nearer by air yet all slower by road. The
    nearest of each type are kept so a response plan that needs an ALS finds one even when the
    ``n`` nearest are all BLS.
    """
    if len(units) <= n:
        return units
    lats = np.fromiter((positions[u.id].lat for u in units), float, len(units))
    lngs = np.fromiter((positions[u.id].lng for u in units), float, len(units))
    dx = (lngs - lng) * math.cos(math.radians(lat))
    nearest_first = np.argsort(dx * dx + (lats - lat) ** 2, kind="stable").tolist()
    keep = set(nearest_first[:n])
    if per_type:
        taken: Counter[str] = Counter()
        for i in nearest_first:
            if taken[units[i].unit_type] < per_type:
                taken[units[i].unit_type] += 1
                keep.add(i)
    return [units[i] for i in sorted(keep)]


async def recommend_for_case(
    *,
    db_session: AsyncSession,
    live_fleet: LivePositions,
    destinations: Destinations,
    case: EmergencyCase,
    settings: DispatchSettings,
    k: int | None = None,
) -> list[dict]:
    """Available units ranked by total time to definitive care for this case (the top
    ``LIFELINE_DISPATCH_RECOMMENDED_UNITS``, or ``k``: a response plan picks from more)."""
    if case.region is None or case.region not in destinations.regions:
        return []
    network = destinations.regions[case.region]
    units = await available_units(db_session=db_session)
    if not units:
        return []
    positions = await live_positions(live_fleet, units)
    point = to_shape(case.location)
    units = shortlist_by_air(units, positions, point.y, point.x, UNIT_SHORTLIST,
                             per_type=SHORTLIST_PER_TYPE)
    origins = [(positions[u.id].lat, positions[u.id].lng) for u in units]
    # Most incidents have enough units within 10 minutes (the usual response standard): search
    # that far first (a fraction of the city), the whole horizon only when fewer than k units
    # fit. A unit beyond a limit cannot outrank k units whose score fits inside it.
    acute = case.severity in ACUTE
    penalty = [settings.als_preference_seconds if acute and u.unit_type != "ALS" else 0.0
               for u in units]
    for limit in (*UNIT_SEARCH_LIMITS_S, None):
        _, etas, snaps = await asyncio.to_thread(
            times_to_incident, network.engine, point.y, point.x, origins, limit_s=limit
        )
        if limit is None:
            break
        inside = sum(1 for eta, extra in zip(etas, penalty, strict=True) if eta + extra <= limit)
        if inside >= settings.recommended_units:
            break
    # A unit far outside the region's roads would be snapped across it: it cannot be routed.
    etas = [
        math.inf if snap.off_network else float(eta)
        for eta, snap in zip(etas, snaps, strict=True)
    ]
    hospitals = [
        Destination(h["hospital_id"], h["name"], h["eta_seconds"])
        for h in (case.recommendation or {}).get("hospitals", [])
    ]
    ranked = recommend_units(
        [
            UnitCandidate(
                unit_id=u.id,
                call_sign=u.call_sign,
                unit_type=u.unit_type,
                eta_s=float(etas[i]),
                position_stale=positions[u.id].stale,
                from_station=positions[u.id].from_station,
            )
            for i, u in enumerate(units)
        ],
        hospitals,
        severity=case.severity,
        on_scene_s=settings.on_scene_allowance_minutes * 60,
        als_preference_s=settings.als_preference_seconds,
        k=k or settings.recommended_units,
    )
    return [r.as_dict() for r in ranked]
