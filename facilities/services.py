"""Per-service status of a hospital (available, limited, unavailable) with an end time.

A hospital admin says "stroke_thrombectomy unavailable, CT down, until 14:00": only cases that
need that capability see the change, and at 14:00 it reverts to available by itself. Every
change and every expiry is written to ``hospital_service_changes`` and announced on the capacity
channel in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import InvalidInput
from data.events import HOSPITAL_SERVICE, HospitalServiceChanged
from data.outbox import record_event
from facilities.capabilities import Capability, provided
from facilities.models import Hospital, HospitalService, HospitalServiceChange
from facilities.service import HospitalNotFound


class ServiceStatus(StrEnum):
    """How far a hospital can deliver one capability right now."""

    AVAILABLE = "available"
    LIMITED = "limited"  # still offered; the operator sees why (e.g. one cath lab of two)
    UNAVAILABLE = "unavailable"  # never recommended for cases that need it


@dataclass(frozen=True)
class ServiceState:
    """The effective status of one capability at one moment."""

    capability: str
    status: str
    reason: str | None
    until: datetime | None
    updated_at: datetime | None
    updated_by: str | None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "capability": self.capability,
            "status": self.status,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


def in_force(row: HospitalService, now: datetime) -> bool:
    """Whether a stored status still applies (its end time, if any, is still ahead)."""
    return row.until is None or row.until > now


def service_states(
    hospital: Hospital, rows: Iterable[HospitalService], *, now: datetime
) -> list[ServiceState]:
    """Every capability the hospital declares, with its effective status (default available)."""
    by_capability = {r.capability: r for r in rows if in_force(r, now)}
    states = []
    for capability in hospital.capabilities or []:
        row = by_capability.get(capability)
        states.append(
            ServiceState(capability, row.status, row.reason, row.until, row.updated_at,
                         row.updated_by)
            if row is not None
            else ServiceState(capability, ServiceStatus.AVAILABLE.value, None, None, None, None)
        )
    return states


async def rows_of(*, db_session: AsyncSession,
                  hospital_ids: list[uuid.UUID]) -> list[HospitalService]:
    """Stored service rows of some hospitals (expired ones included; filter with ``in_force``)."""
    if not hospital_ids:
        return []
    return list(
        await db_session.scalars(
            select(HospitalService).where(HospitalService.hospital_id.in_(hospital_ids))
        )
    )


def _announce(
    db_session: AsyncSession, hospital: Hospital, change: HospitalServiceChange
) -> None:
    payload: HospitalServiceChanged = {
        "hospital_id": str(hospital.id),
        "region": hospital.region,
        "capability": change.capability,
        "status": change.to_status,
        "previous_status": change.from_status,
        "reason": change.reason,
        "until": change.until.isoformat() if change.until else None,
        "actor": change.actor,
        "at": change.at.isoformat(),
    }
    record_event(
        db_session,
        channel=HOSPITAL_SERVICE.channel,
        event_type=HOSPITAL_SERVICE.event_type,
        aggregate_type="hospital",
        aggregate_id=hospital.id,
        payload=payload,
    )


async def set_service_status(
    *,
    db_session: AsyncSession,
    hospital_id: uuid.UUID,
    capability: Capability,
    status: ServiceStatus,
    reason: str | None,
    until: datetime | None,
    actor: str,
    now: datetime | None = None,
) -> tuple[Hospital, ServiceState, str]:
    """Stage a service status (audit row and event included); the caller commits.

    Returns the hospital, the new state and the previous effective status. ``available`` clears
    the stored status. The capability must be one the hospital provides; an end time must lie
    ahead.
    """
    now = now or utcnow()
    # The hospital row is the lock: two admins setting a service not stored yet would both
    # insert it otherwise (there is no row to lock).
    hospital = await db_session.get(
        Hospital, hospital_id, with_for_update=True, populate_existing=True
    )
    if hospital is None:
        raise HospitalNotFound(f"no hospital {hospital_id}")
    if capability not in provided(hospital.capabilities or []):
        raise InvalidInput(
            f"{hospital.name} does not provide {capability.value}",
            field="capability", code="capability_not_provided",
        )
    if until is not None and until <= now:
        raise InvalidInput("until must lie in the future", field="until")
    if status is ServiceStatus.AVAILABLE and until is not None:
        raise InvalidInput("available needs no end time", field="until")
    row = await db_session.get(
        HospitalService, (hospital.id, capability.value), with_for_update=True,
        populate_existing=True,
    )
    previous = row.status if row is not None and in_force(row, now) else "available"
    if status is ServiceStatus.AVAILABLE:
        if row is not None:
            await db_session.delete(row)
        state = ServiceState(capability.value, status.value, None, None, now, actor)
    else:
        if row is None:
            row = HospitalService(hospital_id=hospital.id, capability=capability.value)
            db_session.add(row)
        row.status, row.reason, row.until = status.value, reason, until
        row.updated_at, row.updated_by = now, actor
        state = ServiceState(capability.value, status.value, reason, until, now, actor)
    change = HospitalServiceChange(
        hospital_id=hospital.id, capability=capability.value, from_status=previous,
        to_status=status.value, reason=reason, until=until, actor=actor, at=now,
    )
    db_session.add(change)
    _announce(db_session, hospital, change)
    return hospital, state, previous


async def expire_due(
    *,
    db_session: AsyncSession, now: datetime | None = None
) -> list[tuple[Hospital, str]]:
    """Delete the statuses whose end time has passed, audit and announce each revert.

    One statement claims the rows, so two workers sweeping at once never announce one twice.
    Returns ``(hospital, capability)`` of every revert; the caller commits.
    """
    now = now or utcnow()
    expired = (
        await db_session.execute(
            delete(HospitalService)
            .where(HospitalService.until.is_not(None), HospitalService.until <= now)
            .returning(HospitalService.hospital_id, HospitalService.capability,
                       HospitalService.status, HospitalService.until)
        )
    ).all()
    reverted = []
    for hospital_id, capability, status, until in expired:
        hospital = await db_session.get(Hospital, hospital_id)
        if hospital is None:
            continue
        change = HospitalServiceChange(
            hospital_id=hospital_id, capability=capability, from_status=status,
            to_status=ServiceStatus.AVAILABLE.value, reason=f"{status} until {until.isoformat()}",
            until=None, actor="expiry", at=now,
        )
        db_session.add(change)
        _announce(db_session, hospital, change)
        reverted.append((hospital, capability))
    return reverted
