"""A region's hospitals to and from EDXL-HAVE: read the state out, apply a document in one
transaction (every hospital of it, or none)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import Forbidden, InvalidInput
from facilities import service as facilities_service
from facilities import services as facility_services
from facilities.capabilities import Capability, provided
from facilities.have import HospitalReport, HospitalState, ServiceReport
from facilities.models import Hospital
from facilities.schemas import CapacityUpdate


async def region_states(*, db_session: AsyncSession, region: str) -> list[HospitalState]:
    """Every hospital of the region with its ED status, beds and services in force."""
    hospitals = list(
        await db_session.scalars(
            select(Hospital).where(Hospital.region == region).order_by(Hospital.name)
        )
    )
    rows = await facility_services.rows_of(db_session=db_session,
                                           hospital_ids=[h.id for h in hospitals])
    now = utcnow()
    states = []
    for hospital in hospitals:
        point = to_shape(hospital.location)
        services = {
            s.capability: ServiceReport(s.capability, s.status, s.reason, s.until)
            for s in facility_services.service_states(
                hospital, [r for r in rows if r.hospital_id == hospital.id], now=now
            )
            if s.status != "available"
        }
        states.append(HospitalState(
            hospital_id=hospital.id, name=hospital.name, lat=point.y, lng=point.x,
            capabilities=list(hospital.capabilities or []), ed_status=hospital.ed_status,
            beds_available=hospital.beds_available, updated_at=hospital.capacity_updated_at,
            services=services,
        ))
    return states


@dataclass
class ApplyResult:
    """What a document changed: hospitals, and (region, capability) of every service change."""

    hospitals: list[str] = field(default_factory=list)
    capacity_changed: list[Hospital] = field(default_factory=list)
    service_changes: list[tuple[str | None, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


async def apply_reports(
    *,
    db_session: AsyncSession,
    reports: list[HospitalReport],
    region: str,
    may_manage: Callable[[uuid.UUID], bool],
    actor: str,
) -> ApplyResult:
    """Stage every change of the document (the caller commits once): ED status and beds when
    they differ, and each service status that differs from the one in force."""
    result = ApplyResult()
    seen: set[uuid.UUID] = set()
    now = utcnow()
    for report in reports:
        where = f"{report.path}/have:Organization/have:OrganizationInformation"
        hospital = (
            await db_session.get(Hospital, report.hospital_id, with_for_update=True,
                                 populate_existing=True)
            if report.hospital_id else None
        )
        if hospital is None or hospital.region != region:
            raise InvalidInput(
                f"no hospital of region {region!r} has the RegistrationID of {report.name!r}",
                field=f"{where}/xpil:Identifiers", code="unknown_hospital",
            )
        if hospital.id in seen:
            raise InvalidInput("a hospital appears twice", field=report.path,
                               code="duplicate_hospital")
        seen.add(hospital.id)
        if not may_manage(hospital.id):
            raise Forbidden(f"you may not report for {hospital.name}", code="not_your_hospital")
        result.hospitals.append(str(hospital.id))
        ed_status = report.ed_status or hospital.ed_status
        if (ed_status, report.beds_available) != (hospital.ed_status, hospital.beds_available):
            await facilities_service.update_capacity(
                db_session=db_session, hospital_id=hospital.id, actor=actor,
                update=CapacityUpdate(ed_status=ed_status, beds_available=report.beds_available),
            )
            result.capacity_changed.append(hospital)
        rows = await facility_services.rows_of(db_session=db_session, hospital_ids=[hospital.id])
        current = {s.capability: s for s in facility_services.service_states(
            hospital, rows, now=now)}
        offers = provided(hospital.capabilities or [])
        for service in report.services:
            if service.capability not in {c.value for c in offers}:
                result.ignored.append(f"{hospital.name}: {service.capability} not provided")
                continue
            state = current.get(service.capability)
            if state is not None and (state.status, state.reason, state.until) == (
                service.status, service.reason, service.until
            ):
                continue
            if state is None and service.status == "available":
                continue
            if service.until is not None and service.until <= now:
                continue  # already over: nothing to set
            await facility_services.set_service_status(
                db_session=db_session, hospital_id=hospital.id,
                capability=Capability(service.capability),
                status=facility_services.ServiceStatus(service.status),
                reason=service.reason if service.status != "available" else None,
                until=service.until if service.status != "available" else None,
                actor=actor, now=now,
            )
            result.service_changes.append((hospital.region, service.capability))
    return result
