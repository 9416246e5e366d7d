"""Turn domain objects into response models."""

from __future__ import annotations

from dispatch.case_events import case_location
from dispatch.lifecycle import CaseStatus, allowed_actions
from dispatch.models import CaseEvent, EmergencyCase
from dispatch.schemas import CaseEventView, CaseView, Location

RECOMMENDED_FIELDS = (
    "hospital_id",
    "name",
    "capabilities",
    "ed_status",
    "eta_seconds",
    "distance_m",
    "beds_available",
    "capacity_stale",
    "service_status",
    "diversion_overridden",
    "explanation",
)


def case_view(case: EmergencyCase, events: list[CaseEvent] | None = None) -> CaseView:
    """The case as the API shows it."""
    lat, lng = case_location(case)
    recommendation = case.recommendation or {}
    return CaseView(
        id=case.id,
        status=CaseStatus(case.status),
        severity=case.severity,
        symptom_category=case.symptom_category,
        required_capability=case.required_capability,
        location=Location(lat=lat, lng=lng),
        location_accuracy_m=case.location_accuracy_m,
        region=case.region,
        outside_service_area=case.outside_service_area,
        off_network=case.off_network,
        suspected_abuse=bool(case.suspected_abuse),
        unverified_caller=bool(case.unverified_caller),
        reporter_phone=case.reporter_phone,
        notes=case.notes,
        patient_id=case.patient_id,
        destination_hospital_id=case.destination_hospital_id,
        raised_at=case.raised_at,
        triaged_at=case.triaged_at,
        dispatched_at=case.dispatched_at,
        arrived_at=case.arrived_at,
        closed_at=case.closed_at,
        cancelled_at=case.cancelled_at,
        cancel_reason=case.cancel_reason,
        close_reason=case.close_reason,
        version=case.version,
        allowed_actions=allowed_actions(CaseStatus(case.status)),
        recommended_hospitals=[
            {key: h.get(key) for key in RECOMMENDED_FIELDS}
            for h in recommendation.get("hospitals", [])
        ],
        recommendation={k: v for k, v in recommendation.items() if k != "inputs"} or None,
        events=[CaseEventView.model_validate(e) for e in events or []],
        address=case.address,
        source=case.source or "app",
        possible_duplicate_of=case.possible_duplicate_of,
        linked_to=case.linked_to,
    )
