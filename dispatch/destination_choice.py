"""Where a case should go: the capable hospitals of its region ranked by road time, explained.

The ranking itself is pure (:mod:`dispatch.recommend`); this reads what it needs in one query
per case and stores the recommendation with its inputs, so any choice can be replayed.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from dispatch.case_events import case_location
from dispatch.destinations import Destinations, candidates_from
from dispatch.diversion import DiversionPolicy
from dispatch.models import EmergencyCase
from dispatch.recommend import Candidate, recommend_destinations
from dispatch.settings import DispatchSettings
from dispatch.taxonomy import SymptomCategory
from dispatch.triage_rules import PRESUMED_SEVERITY
from dispatch.triage_rules import required_capability as capability_for
from facilities.capabilities import parse_capability
from facilities.diversion_policy import DEFAULT_CRITICAL_OVERRIDE_S
from facilities.models import Hospital, HospitalService, RegionDiversionPolicy

OUTSIDE_MESSAGE = "outside every service area: no road routing; handle by phone"
#: Plain rows of the columns ranking needs (loading 70 ORM hospitals with geometry cost more
#: than the routing itself), built once: every SOS and triage runs it.
#: On the table, not the entity: an ORM-enabled select costs more to run for the same rows.
#: Each row also carries the hospital's services that are not simply available (JSON object,
#: NULL when all are) and the region's diversion threshold: no extra round trip per SOS.
_HOSPITALS = Hospital.__table__.c
_SERVICES = HospitalService.__table__.c
_POLICIES = RegionDiversionPolicy.__table__.c
HOSPITALS_OF_REGION = select(
    _HOSPITALS.id,
    _HOSPITALS.name,
    _HOSPITALS.capabilities,
    _HOSPITALS.ed_status,
    _HOSPITALS.beds_available,
    _HOSPITALS.capacity_updated_at,
    select(func.jsonb_object_agg(_SERVICES.capability, _SERVICES.status))
    .where(
        _SERVICES.hospital_id == _HOSPITALS.id,
        _SERVICES.status != "available",
        or_(_SERVICES.until.is_(None), _SERVICES.until > func.now()),
    )
    .scalar_subquery()
    .label("services"),
    select(_POLICIES.critical_override_s)
    .where(_POLICIES.region == bindparam("region"))
    .scalar_subquery()
    .label("override_s"),
).where(_HOSPITALS.region == bindparam("region"))


def _input_row(c: Candidate) -> dict[str, Any]:
    """What the ranking saw of one hospital, stored so the choice can be replayed."""
    updated = c.capacity_updated_at
    return {
        "hospital_id": str(c.hospital_id),
        "eta_s": c.eta_s if c.eta_s != math.inf else None,
        "ed_status": c.ed_status,
        "capabilities": list(c.capabilities),
        "beds_available": c.beds_available,
        "capacity_updated_at": updated.isoformat() if updated else None,
        "services": dict(c.services or {}),
    }


async def assess_destinations(
    *,
    db_session: AsyncSession,
    case: EmergencyCase,
    destinations: Destinations | None,
    settings: DispatchSettings,
) -> None:
    """Locate the case's region and store an explained, replayable destination recommendation."""
    lat, lng = case_location(case)
    if case.required_capability:
        required = parse_capability(case.required_capability)
        why = f"{required.value} set by the operator at triage"
    else:
        required, why = capability_for(case.symptom_category, case.severity)
    now = utcnow()
    network = destinations.locate(lat, lng) if destinations is not None else None
    if destinations is None or network is None:
        case.region = None
        case.outside_service_area = True
        case.off_network = False
        case.recommendation = {
            "at": now.isoformat(),
            "required_capability": required.value,
            "requirement_reason": why,
            "hospitals": [],
            "skipped": [],
            "fallback": None,
            "message": OUTSIDE_MESSAGE,
        }
        return
    times = destinations.times(network, lat, lng)
    with db_session.no_autoflush:  # the case's pending change is flushed by its commit
        hospitals = list(await db_session.execute(HOSPITALS_OF_REGION, {"region": network.name}))
    services = {h.id: h.services for h in hospitals if h.services}
    stated = hospitals[0].override_s if hospitals else None
    override_s = DEFAULT_CRITICAL_OVERRIDE_S if stated is None else float(stated)
    candidates = candidates_from(hospitals, times, services)
    choice = recommend_destinations(
        candidates,
        required=required,
        requirement_reason=why,
        now=now,
        k=settings.recommended_hospitals,
        stale_after=timedelta(minutes=settings.capacity_stale_minutes),
        severity=case.severity or PRESUMED_SEVERITY[SymptomCategory(case.symptom_category)].value,
        policy=DiversionPolicy(critical_override_s=override_s),
    )
    chosen = [uuid.UUID(h.hospital_id) for h in choice.hospitals]
    # Distances come from the precomputed table (tens of microseconds): no thread hop. Only a
    # hospital on the incident's own segment, or past the horizon, needs a search here.
    routes = destinations.routes(network, lat, lng, chosen)
    recommendation = choice.as_dict()
    for ranked in recommendation["hospitals"]:
        route = routes.get(uuid.UUID(ranked["hospital_id"]))
        ranked["distance_m"] = round(route.distance_m, 1) if route is not None else None
    snap = times.snap
    recommendation.update(
        at=now.isoformat(),
        region=network.name,
        snap={
            "lat": snap.point[0],
            "lng": snap.point[1],
            "distance_m": round(snap.distance_m, 1),
            "off_network": snap.off_network,
        },
        inputs=[_input_row(c) for c in candidates],
        diversion_policy={"critical_override_s": override_s},
    )
    if snap.off_network:
        recommendation["message"] = (
            f"the location is {snap.distance_m:.0f} m from the nearest drivable road; "
            "confirm the location with the caller"
        )
    case.region = network.name
    case.outside_service_area = False
    case.off_network = snap.off_network
    case.recommendation = recommendation
