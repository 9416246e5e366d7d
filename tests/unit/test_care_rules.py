"""The pure core of care: the appointment state machine, the access rules and slot generation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care.access import Basis, Requester, record_access, summary_access
from care.lifecycle import (
    FREES_SLOT,
    TRANSITIONS,
    AppointmentAction,
    AppointmentStatus,
    IllegalAppointmentMove,
    transition,
)
from care.slots import Template, free_slots, slot_at, template_slots
from data.errors import Forbidden, InvalidInput

FINAL = {AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW,
         AppointmentStatus.RESCHEDULED}
HELSINKI = ZoneInfo("Europe/Helsinki")


@given(st.sampled_from(list(AppointmentStatus)), st.sampled_from(list(AppointmentAction)))
def test_transition_is_the_table_and_nothing_else(status, action):
    if (status, action) in TRANSITIONS:
        assert transition(status, action) is TRANSITIONS[(status, action)]
    else:
        with pytest.raises(IllegalAppointmentMove) as refused:
            transition(status, action)
        assert refused.value.code == "invalid_transition"


def test_final_states_have_no_way_out_and_the_happy_path_holds():
    assert not any(status in FINAL for status, _ in TRANSITIONS)
    status = AppointmentStatus.BOOKED
    for action in ("confirm", "check_in", "complete"):
        status = transition(status, AppointmentAction(action))
    assert status is AppointmentStatus.COMPLETED
    assert FREES_SLOT <= FINAL


P, Q = uuid.uuid4(), uuid.uuid4()


def doctor(**kw) -> Requester:
    roles = frozenset({"doctor"})
    return Requester(user_id=uuid.uuid4(), roles=roles, doctor_id=uuid.uuid4(), **kw)


def test_record_access_rules():
    me = Requester(user_id=uuid.uuid4(), roles=frozenset({"patient"}), patient_id=P)
    assert record_access(me, P, treats=False).basis is Basis.SELF
    with pytest.raises(Forbidden):
        record_access(me, Q, treats=False)
    with pytest.raises(Forbidden):
        record_access(me, Q, treats=True, break_glass_reason="I really need to see it")
    assert record_access(doctor(), P, treats=True).basis is Basis.TREATMENT
    with pytest.raises(Forbidden) as refused:
        record_access(doctor(), P, treats=False)
    assert refused.value.code == "no_treatment_relationship"
    with pytest.raises(InvalidInput):
        record_access(doctor(), P, treats=False, break_glass_reason="   short   ")
    glass = record_access(doctor(), P, treats=False, break_glass_reason="  arrest in ward 3 ")
    assert glass.basis is Basis.BREAK_GLASS and glass.flagged and glass.reason == "arrest in ward 3"
    # A doctor role without a doctor profile, and admins, are refused whatever they say.
    bare = Requester(user_id=uuid.uuid4(), roles=frozenset({"doctor"}))
    admin = Requester(user_id=uuid.uuid4(), roles=frozenset({"super_admin"}))
    for who in (bare, admin):
        with pytest.raises(Forbidden):
            record_access(who, P, treats=True, break_glass_reason="arrest in ward 3")


def test_summary_access_rules():
    h, other = uuid.uuid4(), uuid.uuid4()
    operator = Requester(user_id=None, roles=frozenset({"emergency_operator"}))
    assert summary_access(operator, destination_hospital_id=None).basis is Basis.EMERGENCY
    admin = Requester(user_id=None, roles=frozenset({"hospital_admin"}), hospital_id=h)
    assert summary_access(admin, destination_hospital_id=h).basis is Basis.EMERGENCY
    with pytest.raises(Forbidden):
        summary_access(admin, destination_hospital_id=other)
    with pytest.raises(Forbidden):
        summary_access(admin, destination_hospital_id=None)
    assert summary_access(doctor(), destination_hospital_id=h, doctor_hospitals=frozenset({h}))
    with pytest.raises(Forbidden):
        summary_access(doctor(), destination_hospital_id=h, doctor_hospitals=frozenset({other}))
    with pytest.raises(Forbidden):
        summary_access(Requester(user_id=None, roles=frozenset({"patient"}), patient_id=P),
                       destination_hospital_id=h)


H = uuid.uuid4()
MONDAY_MORNING = Template(H, 0, time(9), time(10), 20)


def test_slots_follow_the_template_in_local_time_across_dst():
    # 2026-03-30 is the Monday after Finland moves to summer time (UTC+3).
    start = datetime(2026, 3, 23, tzinfo=UTC)
    slots = template_slots([MONDAY_MORNING], start=start, end=start + timedelta(days=14),
                           zone=HELSINKI)
    assert [s.start.hour for s in slots] == [7, 7, 7, 6, 6, 6]
    assert all(s.end - s.start == timedelta(minutes=20) for s in slots)
    assert slot_at([MONDAY_MORNING], hospital_id=H, start=slots[1].start, zone=HELSINKI)
    assert slot_at([MONDAY_MORNING], hospital_id=H, start=slots[1].start + timedelta(minutes=5),
                   zone=HELSINKI) is None
    assert slot_at([MONDAY_MORNING], hospital_id=uuid.uuid4(), start=slots[1].start,
                   zone=HELSINKI) is None


@given(st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=40))
def test_a_booking_removes_exactly_the_slots_it_overlaps(index, minutes):
    start = datetime(2026, 3, 23, tzinfo=UTC)
    end = start + timedelta(days=1)
    every = template_slots([MONDAY_MORNING], start=start, end=end, zone=HELSINKI)
    booked = (every[index].start, every[index].start + timedelta(minutes=minutes))
    left = free_slots([MONDAY_MORNING], [booked], start=start, end=end, zone=HELSINKI)
    overlapping = [s for s in every if s.start < booked[1] and booked[0] < s.end]
    assert sorted(left + overlapping) == every


def test_a_started_visit_holds_the_slot_and_only_completes():
    status = transition(AppointmentStatus.CHECKED_IN, AppointmentAction.START)
    assert status is AppointmentStatus.IN_PROGRESS
    assert status not in FREES_SLOT
    assert [a for (s, a) in TRANSITIONS if s is status] == [AppointmentAction.COMPLETE]
    with pytest.raises(IllegalAppointmentMove):
        transition(AppointmentStatus.BOOKED, AppointmentAction.START)


@given(st.lists(st.sampled_from(list(AppointmentAction)), max_size=20))
def test_random_walks_never_leave_the_table_and_start_comes_after_check_in(actions):
    status, seen = AppointmentStatus.BOOKED, [AppointmentStatus.BOOKED]
    for action in actions:
        try:
            status = transition(status, action)
        except IllegalAppointmentMove:
            continue
        seen.append(status)
    if AppointmentStatus.IN_PROGRESS in seen:
        assert seen.index(AppointmentStatus.CHECKED_IN) < seen.index(AppointmentStatus.IN_PROGRESS)
    assert all(s not in FINAL for s in seen[:-1])
