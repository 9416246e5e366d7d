"""The real-time event contract, named once: channels, event kinds and each kind's payload.

Outbox writers (dispatch, care, facilities, fleet_coverage) build their payloads from these
types and the realtime readers (relay, hub, authorisation) and fleet_coverage's watcher read them
through these types; the console's JavaScript receives the same JSON objects.

Payloads are ``TypedDict``s, not dataclasses or pydantic models: a payload *is* the JSON object
stored in the outbox's JSONB column and sent on the wire as it is (the relay forwards the stored
text without decoding it; the hub fans out the decoded dict). A TypedDict types that very dict
for mypy at no cost at run time and cannot change the wire shape, where a dataclass or model
would need a conversion on every write and every read of the fan-out path. The tests validate
every kind written to the outbox against its type with pydantic (tests/unit/test_event_contract.py
and tests/integration/test_event_contract_outbox.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from typing_extensions import TypedDict  # pydantic validates only this one before 3.12 (tests)


class Channel(StrEnum):
    """A stream of events that clients subscribe to; the value is its name on the wire."""

    CASE = "emergency.case.updated"
    UNIT_POSITION = "unit.position.updated"
    CAPACITY = "hospital.capacity.updated"
    DOCTOR_AVAILABILITY = "doctor.availability.updated"
    APPOINTMENT_QUEUE = "appointment.queue.updated"
    COVERAGE = "coverage.updated"  # fleet_coverage.service writes it; operators see it
    #: Unit status changes: relayed like the others, but nobody subscribes to them: the coverage
    #: watcher (fleet_coverage.live) reads them from the outbox table.
    UNIT_STATUS = "unit.status.updated"


#: Published straight to Redis by dispatch.position_ingest: no outbox rows, no database replay.
EPHEMERAL_CHANNELS = frozenset({Channel.UNIT_POSITION})
#: Channels read from the outbox table only: no client may subscribe to them.
OUTBOX_ONLY_CHANNELS = frozenset({Channel.UNIT_STATUS})
#: What a client may subscribe to, in a fixed order.
SUBSCRIBABLE: tuple[Channel, ...] = tuple(c for c in Channel if c not in OUTBOX_ONLY_CHANNELS)


# --- Payloads ------------------------------------------------------------------------------


class CaseSnapshot(TypedDict):
    """The case as it now is: what consumers need to update a case without another read."""

    case_id: str
    status: str
    severity: str | None
    symptom_category: str | None
    required_capability: str | None
    lat: float
    lng: float
    region: str | None
    destination_hospital_id: str | None
    version: int
    raised_at: str


class CaseChanged(CaseSnapshot):
    """``case.<action>``: the case moved (dispatch.lifecycle's transition)."""

    action: str
    from_status: str | None


class CaseCrewStatus(CaseSnapshot):
    """``case.crew_status``: a crew reported a step that did not move the case."""

    action: str
    unit_status: str
    call_sign: str


class AlertInfo(TypedDict):
    """One operator alert on a case (its message is for the dispatch room only)."""

    kind: str
    level: str
    message: str


class CaseAlertRaised(CaseSnapshot):
    """``case.alert``: an alert opened (or re-opened) on a case."""

    action: str
    alert: AlertInfo


class BreakGlassRead(TypedDict):
    """``care.break_glass``: a chart opened outside the usual rules (no case: ``None``s)."""

    action: str
    patient_id: str
    kind: str
    actor: str
    case_id: None
    status: None


class UnitStatusChanged(TypedDict):
    """``unit.status``: a unit's status moved (dispatch.unit_status)."""

    unit_id: str
    call_sign: str
    type: str
    from_status: str
    status: str
    case_id: str | None


class UnitPositionUpdated(TypedDict):
    """``unit.position.updated``: a unit's new live position (ephemeral: straight to Redis)."""

    unit_id: str
    call_sign: str
    status: str
    case_id: str | None
    lat: float
    lng: float
    heading: float | None
    speed: float | None
    recorded_at: str


class HospitalCapacity(TypedDict):
    """``hospital.capacity``: an ED's status or free beds changed."""

    hospital_id: str
    region: str | None
    ed_status: str
    previous_ed_status: str | None
    beds_available: int | None
    capacity_updated_at: str
    actor: str


class DiversionPolicyChanged(TypedDict):
    """``region.diversion_policy``: how much longer a critical patient may travel past
    diversion."""

    region: str
    critical_override_seconds: float | None
    previous_critical_override_seconds: float | None
    actor: str
    at: str


class HospitalServiceChanged(TypedDict):
    """``hospital.service``: one capability of a hospital went down, came back or expired."""

    hospital_id: str
    region: str | None
    capability: str
    status: str
    previous_status: str | None
    reason: str | None
    until: str | None
    actor: str
    at: str


class DoctorAvailability(TypedDict):
    """``doctor.availability``: a doctor's live state changed (set, or expired by silence)."""

    doctor_id: str
    state: str
    previous_state: str
    hospital_id: str | None
    cause: str
    at: str


class AppointmentQueue(TypedDict):
    """``appointment.queue``: a doctor's queue of one day changed."""

    hospital_id: str
    doctor_id: str
    date: str
    appointment_id: str
    status: str
    queue: list[str]
    queue_length: int


class UnitCoverageShare(TypedDict):
    """One free unit's share of the region's coverage."""

    unit_id: str
    call_sign: str
    marginal_pp: float


class CoverageTrigger(TypedDict):
    """What made the coverage watcher push a fresh figure: the last unit status change seen."""

    trigger: str
    unit_id: str | None
    status: str | None


class CoverageSummary(TypedDict):
    """``coverage.summary``: a region's coverage figure, pushed after a unit status change."""

    region: str
    minutes: float
    share_any: float
    share_als: float
    percent_any: float
    percent_als: float
    cells: int
    cell_size_m: float
    demand_cases: int
    units: list[UnitCoverageShare]
    computed_ms: float
    uncovered_cells: int
    trigger: str
    unit_id: str | None
    status: str | None


class CoverageMoveUp(TypedDict):
    """``coverage.move_up``: an operator sent a free unit to stand by at a post."""

    unit_id: str
    call_sign: str
    post_id: str
    post_name: str
    region: str
    move_id: str
    lat: float
    lng: float


EventPayload = (
    CaseChanged | CaseCrewStatus | CaseAlertRaised | BreakGlassRead | UnitStatusChanged
    | UnitPositionUpdated | HospitalCapacity | DiversionPolicyChanged | HospitalServiceChanged
    | DoctorAvailability | AppointmentQueue | CoverageSummary | CoverageMoveUp
)


# --- Kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventKind:
    """One kind of event: its ``event_type``, the channel it goes on and its payload's type."""

    event_type: str
    channel: Channel
    payload: type[Any]


#: ``case.<action>``: one kind per lifecycle action (dispatch.lifecycle.CaseAction).
CASE_CHANGE_PREFIX = "case."
CASE_CREW_STATUS = EventKind("case.crew_status", Channel.CASE, CaseCrewStatus)
CASE_ALERT = EventKind("case.alert", Channel.CASE, CaseAlertRaised)
BREAK_GLASS = EventKind("care.break_glass", Channel.CASE, BreakGlassRead)
UNIT_STATUS = EventKind("unit.status", Channel.UNIT_STATUS, UnitStatusChanged)
#: Not an outbox row: its event type on the stream is the channel's name (realtime.live_positions).
UNIT_POSITION = EventKind(Channel.UNIT_POSITION, Channel.UNIT_POSITION, UnitPositionUpdated)
HOSPITAL_CAPACITY = EventKind("hospital.capacity", Channel.CAPACITY, HospitalCapacity)
DIVERSION_POLICY = EventKind("region.diversion_policy", Channel.CAPACITY, DiversionPolicyChanged)
HOSPITAL_SERVICE = EventKind("hospital.service", Channel.CAPACITY, HospitalServiceChanged)
DOCTOR_AVAILABILITY = EventKind(
    "doctor.availability", Channel.DOCTOR_AVAILABILITY, DoctorAvailability
)
APPOINTMENT_QUEUE = EventKind("appointment.queue", Channel.APPOINTMENT_QUEUE, AppointmentQueue)
COVERAGE_SUMMARY = EventKind("coverage.summary", Channel.COVERAGE, CoverageSummary)
COVERAGE_MOVE_UP = EventKind("coverage.move_up", Channel.COVERAGE, CoverageMoveUp)

#: Every kind but the case changes, by event type.
KINDS: dict[str, EventKind] = {
    k.event_type: k
    for k in (CASE_CREW_STATUS, CASE_ALERT, BREAK_GLASS, UNIT_STATUS, UNIT_POSITION,
              HOSPITAL_CAPACITY, DIVERSION_POLICY, HOSPITAL_SERVICE, DOCTOR_AVAILABILITY,
              APPOINTMENT_QUEUE, COVERAGE_SUMMARY, COVERAGE_MOVE_UP)
}


def case_change(action: str) -> EventKind:
    """The kind of the event a lifecycle action writes (``case.dispatch``, ...)."""
    return EventKind(f"{CASE_CHANGE_PREFIX}{action}", Channel.CASE, CaseChanged)


def kind_of(event_type: str) -> EventKind | None:
    """The kind an event type belongs to; None for a type nobody declared."""
    found = KINDS.get(event_type)
    if found is None and event_type.startswith(CASE_CHANGE_PREFIX):
        return case_change(event_type.removeprefix(CASE_CHANGE_PREFIX))
    return found


# --- Reading across kinds ------------------------------------------------------------------


class Addressing(TypedDict, total=False):
    """The fields the real-time rules read on any kind to decide who sees it.

    A kind that has one of these fields has it with this type (tests/unit/test_event_contract.py
    checks it), so :func:`addressing` is a typed view of any payload, not a copy.
    """

    case_id: str | None
    hospital_id: str | None
    destination_hospital_id: str | None
    alert: AlertInfo
    unit_id: str | None
    region: str | None


def addressing(payload: Mapping[str, Any]) -> Addressing:
    """Any payload, typed as what the real-time rules read of it."""
    return cast(Addressing, payload)
