"""Hospital reads and capacity updates; a capacity change and its event commit together."""

from __future__ import annotations

import uuid
from datetime import timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import NotFound
from data.events import HOSPITAL_CAPACITY, HospitalCapacity
from data.outbox import record_event
from facilities.capabilities import Capability, satisfies
from facilities.models import Hospital
from facilities.schemas import CapacityUpdate, HospitalView


class HospitalNotFound(NotFound):
    """No hospital with that id."""

    code = "hospital_not_found"


def hospital_view(
    hospital: Hospital, *, stale_after: timedelta, eta_seconds: float | None = None
) -> HospitalView:
    """The API form of a hospital."""
    point = to_shape(hospital.location)
    updated = hospital.capacity_updated_at
    return HospitalView(
        id=hospital.id,
        name=hospital.name,
        region=hospital.region,
        osm_id=hospital.osm_id,
        lat=point.y,
        lng=point.x,
        capabilities=list(hospital.capabilities or []),
        ed_status=hospital.ed_status,
        beds_available=hospital.beds_available,
        capacity_updated_at=updated,
        capacity_stale=updated is None or utcnow() - updated > stale_after,
        eta_seconds=eta_seconds,
    )


async def get_hospital(*, db_session: AsyncSession, hospital_id: uuid.UUID) -> Hospital:
    """Load a hospital or raise :class:`HospitalNotFound`."""
    hospital = await db_session.get(Hospital, hospital_id, populate_existing=True)
    if hospital is None:
        raise HospitalNotFound(f"no hospital {hospital_id}")
    return hospital


async def list_hospitals(
    *,
    db_session: AsyncSession,
    region: str | None = None,
    capability: Capability | None = None,
) -> list[Hospital]:
    """Hospitals, optionally of one region and able to provide ``capability``."""
    query = select(Hospital).order_by(Hospital.name)
    if region is not None:
        query = query.where(Hospital.region == region)
    hospitals = list((await db_session.execute(query)).scalars())
    return [h for h in hospitals if satisfies(h.capabilities or [], capability)]


async def update_capacity(
    *,
    db_session: AsyncSession,
    hospital_id: uuid.UUID,
    update: CapacityUpdate,
    actor: str,
) -> Hospital:
    """Stage ED status and beds with a ``hospital.capacity.updated`` event; the caller commits."""
    hospital = await get_hospital(db_session=db_session, hospital_id=hospital_id)
    previous = hospital.ed_status
    hospital.ed_status = update.ed_status
    hospital.beds_available = update.beds_available
    hospital.capacity_updated_at = utcnow()
    payload: HospitalCapacity = {
        "hospital_id": str(hospital.id),
        "region": hospital.region,
        "ed_status": hospital.ed_status,
        "previous_ed_status": previous,
        "beds_available": hospital.beds_available,
        "capacity_updated_at": hospital.capacity_updated_at.isoformat(),
        "actor": actor,
    }
    record_event(
        db_session,
        channel=HOSPITAL_CAPACITY.channel,
        event_type=HOSPITAL_CAPACITY.event_type,
        aggregate_type="hospital",
        aggregate_id=hospital.id,
        payload=payload,
    )
    return hospital
