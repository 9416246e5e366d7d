"""Who may see which real-time event: decided per event, from the principal and the payload.

Pure functions, so every transport (WebSocket, SSE, long-poll) applies the same rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from data.events import APPOINTMENT_QUEUE, CASE_ALERT, DOCTOR_AVAILABILITY, Channel, addressing
from identity.authz import HOSPITAL_STAFF, CaseFacts, Grant, case_read_grant
from realtime.streams import CHANNELS

EVERYTHING = frozenset({"emergency_operator", "super_admin"})


@dataclass(frozen=True)
class Principal:
    """The subscriber: a signed-in user (roles, hospital) or an anonymous case-token holder."""

    roles: frozenset[str] = frozenset()
    user_id: str | None = None
    hospital_id: str | None = None
    #: Set only for a case-token client, who may follow this one case and nothing else.
    case_id: str | None = None

    @classmethod
    def for_case(cls, case_id: str) -> Principal:
        """An anonymous reporter following their case."""
        return cls(case_id=case_id)


def channels_for(principal: Principal) -> frozenset[str]:
    """Channels the principal may subscribe to (events are still checked one by one)."""
    if principal.case_id is not None:
        return frozenset({Channel.CASE})
    if principal.roles & EVERYTHING:
        return frozenset(CHANNELS)
    allowed: set[str] = set()
    if principal.roles & HOSPITAL_STAFF and principal.hospital_id is not None:
        allowed.add(Channel.CASE)  # the cases bound to their hospital: see can_read_case
    if "hospital_admin" in principal.roles and principal.hospital_id is not None:
        allowed |= {
            Channel.CAPACITY,
            Channel.DOCTOR_AVAILABILITY,
            Channel.APPOINTMENT_QUEUE,
        }
    if "doctor" in principal.roles:
        allowed |= {Channel.CAPACITY, Channel.DOCTOR_AVAILABILITY}
    if "patient" in principal.roles:
        allowed |= PATIENT_CHANNELS
    return frozenset(allowed)


def can_read_case(principal: Principal, payload: Mapping[str, Any]) -> bool:
    """The HTTP read rule (:func:`identity.authz.case_read_grant`) applied to a case event.

    Only grants that need no request go live: a role's, or the hospital the case is bound to.
    Break-glass is one audited read, never a subscription; a patient follows their own case
    with its case token.
    """
    grant = case_read_grant(
        roles=principal.roles,
        user_id=None,
        hospital_id=principal.hospital_id,
        case=CaseFacts(
            created_by=None,
            patient_user_id=None,
            destination_hospital_id=addressing(payload).get("destination_hospital_id"),
        ),
    )
    return grant in (Grant.ROLE, Grant.HOSPITAL)


def can_see(principal: Principal, channel: str, payload: Mapping[str, Any]) -> bool:
    """Whether this one event may be shown to the principal."""
    if principal.case_id is not None:
        return channel == Channel.CASE and addressing(payload).get("case_id") == principal.case_id
    if principal.roles & EVERYTHING:
        return channel in CHANNELS
    if channel == Channel.CASE:
        return can_read_case(principal, payload)
    if "doctor" in principal.roles and channel in (Channel.CAPACITY, Channel.DOCTOR_AVAILABILITY):
        return True
    if "hospital_admin" in principal.roles and principal.hospital_id is not None:
        if channel == Channel.CAPACITY:
            return True
        if channel in (Channel.DOCTOR_AVAILABILITY, Channel.APPOINTMENT_QUEUE):
            # Not in the spec of issue 5: an admin's own hospital only, the cautious reading.
            return addressing(payload).get("hospital_id") == principal.hospital_id
    # Patients: the public doctor directory's presence and the waiting rooms' queue lengths,
    # shaped by :func:`shape` to what a waiting-room display shows (no appointment ids).
    return "patient" in principal.roles and channel in PATIENT_CHANNELS


#: What the anonymous reporter may see of their own case: its progress, never staff business
#: (alerts, actors, doctors, crew phones, notes). An allow-list: a new field stays hidden.
REPORTER_FIELDS = frozenset({
    "case_id", "status", "from_status", "action", "severity", "symptom_category", "lat", "lng",
    "destination_hospital_id", "version", "raised_at", "unit_status", "call_sign",
})
#: What a patient's app follows (issue 25): live availability in the doctor search, and queue
#: movements, on which it re-reads its own position from the API.
PATIENT_CHANNELS = frozenset({Channel.DOCTOR_AVAILABILITY, Channel.APPOINTMENT_QUEUE})
PATIENT_EVENT_FIELDS = {
    DOCTOR_AVAILABILITY.event_type: frozenset({"doctor_id", "state", "at"}),
    APPOINTMENT_QUEUE.event_type: frozenset({"doctor_id", "hospital_id", "date", "queue_length"}),
}
#: Staff alerts are for the dispatch room: the reporter never gets them.
REPORTER_HIDDEN_EVENTS = frozenset({CASE_ALERT.event_type})


def shape(
    principal: Principal, event_type: str, payload: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The part of a visible event this principal's audience is shown (None: nothing).

    Operators get the payload as it is. The reporter gets an allow-listed view of their case
    and no alerts; a hospital admin gets alerts without their free text (which may name a doctor
    or carry a crew phone: the dispatch room handles those).
    """
    if principal.case_id is not None:
        if event_type in REPORTER_HIDDEN_EVENTS:
            return None
        return {k: v for k, v in payload.items() if k in REPORTER_FIELDS}
    if principal.roles & EVERYTHING:
        return payload
    if event_type in PATIENT_EVENT_FIELDS and not _staff_view(principal, event_type, payload):
        return {k: v for k, v in payload.items() if k in PATIENT_EVENT_FIELDS[event_type]}
    alert = addressing(payload).get("alert")
    if isinstance(alert, Mapping) and "message" in alert:
        return {**payload, "alert": {k: v for k, v in alert.items() if k != "message"}}
    return payload


def _staff_view(principal: Principal, event_type: str, payload: Mapping[str, Any]) -> bool:
    """Whether a staff rule, not the patient one, shows this care event (then in full)."""
    if event_type == DOCTOR_AVAILABILITY.event_type and "doctor" in principal.roles:
        return True
    return (
        "hospital_admin" in principal.roles
        and principal.hospital_id is not None
        and addressing(payload).get("hospital_id") == principal.hospital_id
    )


def audience_key(principal: Principal, filters: Mapping[str, str]) -> Hashable:
    """Subscribers with equal keys see exactly the same events, so the hub decides once per key.

    It must hold every field :func:`can_see` and :func:`matches` read; ``user_id`` is not one
    (a thousand operators form one audience). Add a field here when a rule starts reading it.
    """
    return (
        principal.case_id,
        principal.hospital_id,
        principal.roles,
        tuple(sorted(filters.items())),
    )


def matches(filters: Mapping[str, str], payload: Mapping[str, Any]) -> bool:
    """The subscriber's own narrowing (hospital, case, region); all given filters must hold."""
    fields = addressing(payload)
    for name, wanted in filters.items():
        if name == "hospital_id":
            if wanted not in (fields.get("hospital_id"), fields.get("destination_hospital_id")):
                return False
        elif payload.get(name) != wanted:  # case_id or region (realtime.schemas.Filters)
            return False
    return True


def visible(
    principal: Principal, channel: str, filters: Mapping[str, str], payload: Mapping[str, Any]
) -> bool:
    """Authorised and wanted."""
    return can_see(principal, channel, payload) and matches(filters, payload)
