"""Per-event authorisation rules (pure)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from identity.authz import CaseFacts, Grant, case_read_grant
from realtime.authz import Principal, can_see, channels_for, matches, shape, visible
from realtime.streams import CHANNELS

CASES = "emergency.case.updated"
CAPACITY = "hospital.capacity.updated"
DOCTORS = "doctor.availability.updated"
POSITIONS = "unit.position.updated"
QUEUE = "appointment.queue.updated"

H1, H2 = str(uuid.uuid4()), str(uuid.uuid4())
C1, C2 = str(uuid.uuid4()), str(uuid.uuid4())


def test_operator_and_super_admin_see_everything() -> None:
    for role in ("emergency_operator", "super_admin"):
        principal = Principal(roles=frozenset({role}))
        assert channels_for(principal) == frozenset(CHANNELS)
        for channel in CHANNELS:
            assert can_see(principal, channel, {"destination_hospital_id": H2, "case_id": C1})


def test_hospital_admin_sees_only_cases_bound_to_their_hospital() -> None:
    admin = Principal(roles=frozenset({"hospital_admin"}), hospital_id=H1)
    assert can_see(admin, CASES, {"destination_hospital_id": H1})
    assert not can_see(admin, CASES, {"destination_hospital_id": H2})
    assert not can_see(admin, CASES, {"destination_hospital_id": None})
    assert not can_see(admin, CASES, {})
    assert can_see(admin, CAPACITY, {"hospital_id": H2})
    assert not can_see(admin, POSITIONS, {})
    assert POSITIONS not in channels_for(admin)


def test_hospital_admin_without_hospital_gets_nothing() -> None:
    admin = Principal(roles=frozenset({"hospital_admin"}))
    assert channels_for(admin) == frozenset()
    assert not can_see(admin, CASES, {"destination_hospital_id": None})


def test_case_token_client_sees_only_their_case() -> None:
    reporter = Principal.for_case(C1)
    assert channels_for(reporter) == frozenset({CASES})
    assert can_see(reporter, CASES, {"case_id": C1})
    assert not can_see(reporter, CASES, {"case_id": C2})
    assert not can_see(reporter, CAPACITY, {"case_id": C1})


def test_doctor_without_hospital_sees_capacity_and_doctor_availability_only() -> None:
    doctor = Principal(roles=frozenset({"doctor"}))
    assert channels_for(doctor) == frozenset({CAPACITY, DOCTORS})
    assert can_see(doctor, CAPACITY, {}) and can_see(doctor, DOCTORS, {})
    assert not can_see(doctor, CASES, {"destination_hospital_id": H1})
    assert not can_see(doctor, QUEUE, {})


def test_patient_follows_doctor_presence_and_queue_lengths_only() -> None:
    """Issue 25: live availability in the search and a live queue position; never cases."""
    patient = Principal(roles=frozenset({"patient"}), user_id="u1")
    assert channels_for(patient) == frozenset({DOCTORS, QUEUE})
    assert not can_see(patient, CASES, {"case_id": C1})
    assert not can_see(patient, CAPACITY, {}) and not can_see(patient, POSITIONS, {})
    presence = {"doctor_id": "d1", "state": "available", "previous_state": "offline",
                "hospital_id": H1, "cause": "announce", "at": "t"}
    assert can_see(patient, DOCTORS, presence)
    assert shape(patient, "doctor.availability", presence) == {
        "doctor_id": "d1", "state": "available", "at": "t"}
    queue = {"doctor_id": "d1", "hospital_id": H1, "date": "2026-12-05", "queue_length": 2,
             "appointment_id": "a1", "status": "checked_in", "queue": ["a1", "a2"]}
    assert can_see(patient, QUEUE, queue)
    # Like the waiting-room display: how long the queue is, never whose appointments are in it.
    assert shape(patient, "appointment.queue", queue) == {
        "doctor_id": "d1", "hospital_id": H1, "date": "2026-12-05", "queue_length": 2}
    # Staff who also hold the patient role keep their own full view.
    admin = Principal(roles=frozenset({"patient", "hospital_admin"}), hospital_id=H1)
    assert shape(admin, "appointment.queue", queue) == queue
    other = Principal(roles=frozenset({"patient", "hospital_admin"}), hospital_id=H2)
    assert "queue" not in shape(other, "appointment.queue", queue)
    doctor = Principal(roles=frozenset({"patient", "doctor"}))
    assert shape(doctor, "doctor.availability", presence) == presence


def test_a_doctor_follows_live_the_cases_they_may_read() -> None:
    """The receiving hospital's doctor gets the pre-alert, as their GET of the case allows."""
    doctor = Principal(roles=frozenset({"doctor"}), hospital_id=H1)
    assert channels_for(doctor) == frozenset({CASES, CAPACITY, DOCTORS})
    assert can_see(doctor, CASES, {"destination_hospital_id": H1})
    assert not can_see(doctor, CASES, {"destination_hospital_id": H2})
    assert not can_see(doctor, CASES, {"destination_hospital_id": None})
    assert not can_see(doctor, QUEUE, {"hospital_id": H1})


@given(
    roles=st.frozensets(
        st.sampled_from(["patient", "doctor", "hospital_admin", "emergency_operator",
                         "super_admin"])
    ),
    hospital=st.sampled_from([None, H1, H2]),
    destination=st.sampled_from([None, H1, H2]),
)
def test_live_case_events_follow_the_http_read_rule(roles, hospital, destination) -> None:
    """One rule: an event of a case is shown live exactly when a GET of it would be granted
    by role or hospital (no break-glass, no own-case: those are per request, per person)."""
    principal = Principal(roles=roles, hospital_id=hospital)
    grant = case_read_grant(
        roles=roles, user_id=None, hospital_id=hospital,
        case=CaseFacts(created_by=None, patient_user_id=None, destination_hospital_id=destination),
    )
    seen = can_see(principal, CASES, {"destination_hospital_id": destination})
    assert seen == (grant in (Grant.ROLE, Grant.HOSPITAL))
    assert seen <= (CASES in channels_for(principal))


def test_filters_narrow_but_never_widen() -> None:
    operator = Principal(roles=frozenset({"emergency_operator"}))
    payload = {"destination_hospital_id": H1, "region": "helsinki", "case_id": C1}
    assert matches({"hospital_id": H1}, payload)
    assert matches({"region": "helsinki", "case_id": C1}, payload)
    assert not matches({"region": "espoo"}, payload)
    assert visible(operator, CASES, {"hospital_id": H1}, payload)
    admin = Principal(roles=frozenset({"hospital_admin"}), hospital_id=H2)
    assert not visible(admin, CASES, {"hospital_id": H1}, payload)


roles = st.frozensets(
    st.sampled_from(["patient", "doctor", "hospital_admin", "emergency_operator", "super_admin"])
)


@given(
    roles=roles,
    hospital=st.sampled_from([None, H1, H2]),
    channel=st.sampled_from(CHANNELS),
    destination=st.sampled_from([None, H1, H2]),
)
def test_no_role_sees_a_case_of_another_hospital_unless_it_sees_all(
    roles, hospital, channel, destination
) -> None:
    principal = Principal(roles=roles, hospital_id=hospital)
    payload = {"destination_hospital_id": destination, "hospital_id": destination}
    seen = can_see(principal, channel, payload)
    if seen:
        assert channel in channels_for(principal)
    if seen and channel == CASES and not roles & {"emergency_operator", "super_admin"}:
        assert destination is not None and destination == hospital
