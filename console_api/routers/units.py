"""Ambulances: registration, status, and GPS pings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from console_api.deps import (
    CurrentClaims,
    IdentitySettingsDep,
    LivePositionsDep,
    OptionalClaims,
    PositionIngestDep,
    SessionDep,
    actor_of,
)
from data.errors import Forbidden
from dispatch import crew, fleet
from dispatch.models import Unit
from dispatch.position_ingest import Fix
from dispatch.schemas import (
    Location,
    PositionAccepted,
    PositionPing,
    UnitCreate,
    UnitStatusUpdate,
    UnitView,
)
from dispatch.unit_status import UnitStatus
from identity.roles import allowed
from identity.tokens import AccessClaims

router = APIRouter(prefix="/api/v1/units", tags=["units"])


def hospital_scope(claims: AccessClaims) -> uuid.UUID | None:
    """The hospital a reader of the fleet is limited to: a hospital admin (without a dispatch
    role) sees only units bound for their hospital, and no crew phones."""
    if allowed(set(claims.roles), "unit.manage"):
        return None
    return claims.hospital_id or uuid.UUID(int=0)  # an admin without a hospital sees nothing


def unit_view(
    unit: Unit, live: fleet.LivePosition | None, *, with_phones: bool = True
) -> UnitView:
    """The API form of a unit with its live (or fallback) position."""
    lat, lng = fleet.station_of(unit)
    return UnitView(
        id=unit.id,
        call_sign=unit.call_sign,
        type=unit.unit_type,
        status=unit.status,
        station=Location(lat=lat, lng=lng),
        crew_phones=list(unit.crew_phones or []) if with_phones else [],
        current_case_id=unit.current_case_id,
        position=Location(lat=live.lat, lng=live.lng) if live else None,
        position_recorded_at=live.recorded_at if live else None,
        position_stale=live.stale if live else True,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=UnitView, summary="Register a unit"
)
async def create_unit(
    live_fleet: LivePositionsDep,
    body: UnitCreate,
    request: Request,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> UnitView:
    """A new ambulance, available at its station."""
    unit = await fleet.create_unit(
        db_session=db_session, request=body, actor=actor_of(claims).label
    )
    live = (await fleet.live_positions(live_fleet, [unit]))[unit.id]
    return unit_view(unit, live)


@router.get("", response_model=list[UnitView], summary="Units, with live positions")
async def list_units(
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    claims: CurrentClaims,
    status_filter: Annotated[UnitStatus | None, Query(alias="status")] = None,
) -> list[UnitView]:
    """A unit silent for longer than the stale window shows at its station, marked stale.
    A hospital admin sees only the units bringing a case to their hospital, without phones."""
    scope = hospital_scope(claims)
    units = await fleet.list_units(
        db_session=db_session, status=status_filter.value if status_filter else None,
        bound_for_hospital=scope,
    )
    positions = await fleet.live_positions(live_fleet, units)
    return [unit_view(u, positions[u.id], with_phones=scope is None) for u in units]


@router.get("/{unit_id}", response_model=UnitView, summary="One unit")
async def read_unit(
    unit_id: uuid.UUID,
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> UnitView:
    """Status and live position (a hospital admin: only a unit bound for their hospital)."""
    scope = hospital_scope(claims)
    if scope is None:
        unit = await fleet.get_unit(db_session=db_session, unit_id=unit_id)
    else:
        mine = await fleet.list_units(db_session=db_session, bound_for_hospital=scope)
        unit = next((u for u in mine if u.id == unit_id), None)
        if unit is None:
            raise fleet.UnitNotFound(f"no unit {unit_id}")
    live = (await fleet.live_positions(live_fleet, [unit]))[unit.id]
    return unit_view(unit, live, with_phones=scope is None)


@router.post("/{unit_id}/status", response_model=UnitView, summary="Out of service / back")
async def set_status(
    unit_id: uuid.UUID,
    body: UnitStatusUpdate,
    live_fleet: LivePositionsDep,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> UnitView:
    """Crew statuses come from the crew link; operators only toggle availability."""
    unit = await fleet.set_unit_status(
        db_session=db_session, unit_id=unit_id, status=UnitStatus(body.status),
        actor=actor_of(claims).label,
    )
    live = (await fleet.live_positions(live_fleet, [unit]))[unit.id]
    return unit_view(unit, live)


@router.post("/{unit_id}/position", response_model=PositionAccepted, summary="GPS ping")
async def post_position(
    unit_id: uuid.UUID,
    body: PositionPing,
    position_ingest: PositionIngestDep,
    claims: OptionalClaims,
    settings: IdentitySettingsDep,
    db_session: SessionDep,
    x_crew_token: Annotated[str | None, Header(alias="X-Crew-Token")] = None,
) -> PositionAccepted:
    """From the vehicle (its crew link token, while its dispatch is live) or an operator;
    older fixes never win."""
    if claims is not None:
        if not allowed(set(claims.roles), "unit.position"):
            raise Forbidden("your roles may not report unit positions", code="role_forbidden")
    elif x_crew_token is None:
        raise Forbidden("a crew token of this unit (or an operator token) is required",
                        code="invalid_crew_token")
    else:
        crew_claims = await crew.live_crew_claims(
            db_session=db_session, token=x_crew_token, secret=settings.secret_key
        )
        await db_session.rollback()  # the check is done: hold no connection during the ingest
        if crew_claims.unit_id != unit_id:
            raise Forbidden("a crew token of this unit (or an operator token) is required",
                            code="invalid_crew_token")
    result = await position_ingest.record(Fix.of(unit_id, body))
    live, stored = result.live, result.trail_stored
    return PositionAccepted(accepted=live or stored, live=live, trail_stored=stored)
