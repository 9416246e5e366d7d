"""Emergency use cases:
each persists the change, its audit event and its outbox event in one commit."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from data import idempotency
from data.base import utcnow
from data.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from dispatch import case_address, linked_cases
from dispatch.case_events import (
    Actor,
    apply_action,
    case_event_row,
    case_location,
    case_outbox_event,
)
from dispatch.destination_choice import assess_destinations
from dispatch.destinations import Destinations
from dispatch.duplicate_flag import possible_duplicate
from dispatch.intake_write import insert_raised_case
from dispatch.lifecycle import (
    CaseAction,
    CaseStatus,
    allowed_actions,
)
from dispatch.models import CaseEvent, EmergencyCase
from dispatch.schemas import SosRequest
from dispatch.settings import DispatchSettings
from facilities.capabilities import parse_capability
from geocoding.reverse import address_of
from identity.models import Patient


class CaseNotFound(NotFound):
    """No case with that id."""

    code = "case_not_found"


class ConcurrentUpdate(Conflict):
    """Another transition committed first; re-read the case and decide again."""

    code = "concurrent_update"
    title = "The case changed concurrently"


@dataclass(frozen=True)
class RaisedCase:
    """The outcome of SOS intake: the case, and whether it was an idempotent replay."""

    case: EmergencyCase
    replayed: bool


async def describe_place(
    *,
    db_session: AsyncSession,
    case: EmergencyCase,
    request: SosRequest,
    now: datetime,
    settings: DispatchSettings,
) -> bool:
    """Source, address (reverse-geocoded) and the duplicate-call flag of a new case, looked up
    under a timeout so they never delay or refuse the SOS. False: the address is still to come."""
    case.source = request.source

    async def lookups() -> tuple[str | None, uuid.UUID | None]:
        return (await address_of(db_session, lat=request.lat, lng=request.lng),
                await possible_duplicate(db_session=db_session, case_id=case.id, lat=request.lat,
                                         lng=request.lng, now=now, settings=settings))

    with db_session.no_autoflush:
        found = await case_address.within(
            db_session=db_session, lookup=lookups, timeout_ms=settings.intake_lookup_ms,
            what="address and duplicate check")
    if isinstance(found, case_address.Missed):
        case.address, case.possible_duplicate_of = None, None
        return False
    case.address, case.possible_duplicate_of = found
    return True


async def raise_case(
    *,
    db_session: AsyncSession,
    request: SosRequest,
    actor: Actor,
    idempotency_key: idempotency.IdempotencyKey | None,
    destinations: Destinations | None = None,
    suspected_abuse: bool = False,
    may_link_any_patient: bool = False,
    unverified_caller: bool = False,
    settings: DispatchSettings,
) -> RaisedCase:
    """Accept an SOS. A retry with the same key and body returns the first case, never a second.

    Only staff may link a case to any patient; others only to their own record (else the id is
    answered as unknown, so ids cannot be probed).
    """
    case_id = uuid.uuid4()
    if idempotency_key is not None:
        fingerprint = idempotency.request_fingerprint(request.model_dump(mode="json"))
        earlier = await idempotency.claim(
            db_session,
            key=idempotency_key,
            request_hash=fingerprint,
            resource_type="emergency_case",
            resource_id=case_id,  # bound now: the key and the case commit together or not at all
        )
        if earlier is not None and earlier.resource_id is not None:
            await db_session.commit()
            return RaisedCase(
                await get_case(db_session=db_session, case_id=earlier.resource_id), True
            )
    if request.patient_id is not None:
        patient = await db_session.get(Patient, request.patient_id)
        if patient is None or not (
            may_link_any_patient or (actor.user_id is not None and patient.user_id == actor.user_id)
        ):
            raise InvalidInput(
                "no patient with this id", field="patient_id", code="unknown_patient"
            )
    patient_id = request.patient_id
    if patient_id is None and actor.user_id is not None:
        # A signed-in patient's SOS carries their profile (blood group, ...) to the crew and ED.
        patient_id = await db_session.scalar(
            select(Patient.id).where(Patient.user_id == actor.user_id)
        )

    now = utcnow()
    case = EmergencyCase(
        id=case_id,
        version=1,  # the first version, known before the insert for the event's snapshot
        status=CaseStatus.RAISED.value,
        symptom_category=request.symptom_category.value,
        location=from_shape(Point(request.lng, request.lat), srid=4326),
        location_accuracy_m=request.accuracy_m,
        reporter_phone=request.reporter_phone,
        notes=request.notes,
        patient_id=patient_id,
        created_by=actor.user_id,
        suspected_abuse=suspected_abuse,
        unverified_caller=unverified_caller,
        raised_at=now,
        updated_at=now,
    )
    await assess_destinations(db_session=db_session, case=case, destinations=destinations,
                              settings=settings)
    described = await describe_place(db_session=db_session, case=case, request=request, now=now,
                                     settings=settings)
    row = case_event_row(case, action="raise", from_status=None, actor=actor, reason=None, at=now)
    await insert_raised_case(db_session=db_session, case=case, event=row,
                             outbox=case_outbox_event(case, row))
    await db_session.commit()
    if not described:
        case_address.fill_address_later(db_session.bind, case.id, request.lat, request.lng)
    return RaisedCase(case, False)


async def get_case(*, db_session: AsyncSession, case_id: uuid.UUID) -> EmergencyCase:
    """Load a case or raise :class:`CaseNotFound`."""
    case = await db_session.get(EmergencyCase, case_id, populate_existing=True)
    if case is None:
        raise CaseNotFound(f"no emergency case {case_id}")
    return case


async def case_events(*, db_session: AsyncSession, case_id: uuid.UUID) -> list[CaseEvent]:
    """The case's timeline, oldest first."""
    result = await db_session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    )
    return list(result.scalars())


def encode_cursor(case: EmergencyCase) -> str:
    """Opaque keyset cursor: the last item's (raised_at, id)."""
    raw = f"{case.raised_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of :func:`encode_cursor`; a tampered cursor is a 422 naming ``cursor``."""
    try:
        raised_at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parsed = datetime.fromisoformat(raised_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, uuid.UUID(case_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc


async def list_cases(
    *,
    db_session: AsyncSession,
    statuses: list[CaseStatus] | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
    bound_for_hospital: uuid.UUID | None = None,
) -> tuple[list[EmergencyCase], str | None]:
    """Newest first, keyset-paginated so a busy queue pages without skips or repeats."""
    query = select(EmergencyCase)
    if bound_for_hospital is not None:
        query = query.where(EmergencyCase.destination_hospital_id == bound_for_hospital)
    if statuses:
        query = query.where(EmergencyCase.status.in_([s.value for s in statuses]))
    if since is not None:
        query = query.where(EmergencyCase.raised_at >= since)
    if cursor:
        raised_at, case_id = decode_cursor(cursor)
        query = query.where(
            or_(
                EmergencyCase.raised_at < raised_at,
                and_(EmergencyCase.raised_at == raised_at, EmergencyCase.id < case_id),
            )
        )
    query = query.order_by(EmergencyCase.raised_at.desc(), EmergencyCase.id.desc()).limit(limit + 1)
    cases = list((await db_session.execute(query)).scalars())
    next_cursor = encode_cursor(cases[limit - 1]) if len(cases) > limit else None
    return cases[:limit], next_cursor


async def stage_action(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    action: CaseAction,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
    changes: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> EmergencyCase:
    """Validate and stage one lifecycle action (case, audit, outbox) without committing; the
    open calls linked to the case take the same step in the same transaction."""
    case = await get_case(db_session=db_session, case_id=case_id)
    linked_cases.refuse_direct(case, action)
    if expected_version is not None and case.version != expected_version:
        raise PreconditionFailed(
            f"case is at version {case.version}, not {expected_version}",
            current_version=case.version,
        )
    apply_action(db_session=db_session, case=case, action=action, actor=actor, reason=reason,
                 changes=changes,
                 details=details)
    await linked_cases.follow(db_session=db_session, primary=case, action=action, actor=actor)
    return case


async def commit_change(*, db_session: AsyncSession) -> None:
    """Commit; the version check makes the loser of a race fail here with a 409."""
    try:
        await db_session.commit()
    except StaleDataError as exc:
        await db_session.rollback()
        raise ConcurrentUpdate(
            "another change to this case committed first; reload and retry"
        ) from exc


async def triage(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    severity: str,
    required_capability: str | None,
    actor: Actor,
    expected_version: int | None = None,
    destinations: Destinations | None = None,
    settings: DispatchSettings,
) -> EmergencyCase:
    """Set severity (and optionally the capability); the destination is re-assessed."""
    if required_capability is not None:
        try:
            required_capability = parse_capability(required_capability).value
        except ValueError as exc:
            raise InvalidInput(str(exc), field="required_capability") from None
    case = await stage_action(
        db_session=db_session,
        case_id=case_id,
        action=CaseAction.TRIAGE,
        actor=actor,
        expected_version=expected_version,
        changes={"severity": severity, "required_capability": required_capability},
        details={"severity": severity, "required_capability": required_capability},
    )
    await assess_destinations(db_session=db_session, case=case, destinations=destinations,
                              settings=settings)
    await commit_change(db_session=db_session)
    return case


__all__ = [
    "Actor",
    "CaseNotFound",
    "ConcurrentUpdate",
    "RaisedCase",
    "allowed_actions",
    "apply_action",
    "case_events",
    "case_location",
    "commit_change",
    "get_case",
    "list_cases",
    "raise_case",
    "stage_action",
    "triage",
]
