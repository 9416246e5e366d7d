"""The documented rules written out as tables, cell by cell, and checked against the code.

The expected tables are copied from the specification (README.md "Emergency cases", "Capabilities
and destination rules", "Ambulances, crews and hospitals"; the appointment states follow FHIR R4
``Appointment.status``: booked → arrived (checked in) → fulfilled, or cancelled / noshow), never
computed from the code's own transition tables, so a wrong row in the code fails a cell here.
"""

from __future__ import annotations

import contextlib

import pytest

from care.lifecycle import AppointmentAction, AppointmentStatus, IllegalAppointmentMove
from care.lifecycle import allowed_actions as appointment_actions
from care.lifecycle import transition as appointment_transition
from data.errors import InvalidInput
from dispatch.lifecycle import CaseAction, CaseStatus, InvalidTransition, allowed_actions
from dispatch.lifecycle import transition as case_transition
from dispatch.taxonomy import Severity, SymptomCategory
from dispatch.triage_rules import required_capability
from dispatch.unit_status import (
    CrewStatus,
    InvalidUnitTransition,
    UnitStatus,
    crew_transition,
    unit_transition,
)

# --- the case lifecycle -----------------------------------------------------------------------
# README: raised → triaged → dispatched → arrived → closed; cancelled (with a reason) from any
# open state; closed and cancelled are final; re-triage (triaged → triaged) before dispatch.
# One row per status, one column per action: the status the action leads to, or "-" (409).
CASE_COLUMNS = ("triage", "dispatch", "arrive", "close", "cancel")
CASE_TABLE = {
    #            triage     dispatch      arrive     close     cancel
    "raised":     ("triaged", "-",          "-",       "-",      "cancelled"),
    "triaged":    ("triaged", "dispatched", "-",       "-",      "cancelled"),
    "dispatched": ("-",       "-",          "arrived", "-",      "cancelled"),
    "arrived":    ("-",       "-",          "-",       "closed", "cancelled"),
    "closed":     ("-",       "-",          "-",       "-",      "-"),
    "cancelled":  ("-",       "-",          "-",       "-",      "-"),
}
CASE_CELLS = [
    (status, action, row[i])
    for status, row in CASE_TABLE.items()
    for i, action in enumerate(CASE_COLUMNS)
]


def test_the_case_table_covers_every_status_and_action():
    assert set(CASE_TABLE) == {s.value for s in CaseStatus}
    assert set(CASE_COLUMNS) == {a.value for a in CaseAction}


@pytest.mark.parametrize(("status", "action", "expected"), CASE_CELLS)
def test_case_lifecycle_cell(status, action, expected):
    current, act = CaseStatus(status), CaseAction(action)
    if expected == "-":
        with pytest.raises(InvalidTransition) as refused:
            case_transition(current, act, reason="caller hung up")
        assert refused.value.code == "invalid_transition"
        assert refused.value.extra["current_status"] == status
        legal = [a for a, cell in zip(CASE_COLUMNS, CASE_TABLE[status], strict=True) if cell != "-"]
        assert sorted(refused.value.extra["allowed_actions"]) == sorted(legal)
        final = " (the case is final)" if status in ("closed", "cancelled") else ""
        assert refused.value.detail == f"cannot {action} a case that is {status}{final}"
        return
    move = case_transition(current, act, reason="caller hung up")
    assert (move.from_status, move.action, move.to_status) == (current, act, CaseStatus(expected))


@pytest.mark.parametrize("status", list(CASE_TABLE))
def test_case_allowed_actions_are_the_rows_legal_cells(status):
    row = CASE_TABLE[status]
    expected = [a for a, cell in zip(CASE_COLUMNS, row, strict=True) if cell != "-"]
    assert sorted(a.value for a in allowed_actions(CaseStatus(status))) == sorted(expected)


@pytest.mark.parametrize("source", list(CASE_TABLE))
@pytest.mark.parametrize("target", list(CASE_TABLE))
def test_every_pair_of_case_states(source, target):
    """A single action reaches ``target`` from ``source`` exactly when the table says so."""
    expected = target in CASE_TABLE[source]
    reached = set()
    for action in CaseAction:
        with contextlib.suppress(InvalidTransition):
            reached.add(case_transition(CaseStatus(source), action, reason="r").to_status.value)
    assert (target in reached) is expected


@pytest.mark.parametrize("status", ["raised", "triaged", "dispatched", "arrived"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_cancel_needs_a_reason_from_every_open_state(status, reason):
    with pytest.raises(InvalidInput) as refused:
        case_transition(CaseStatus(status), CaseAction.CANCEL, reason=reason)
    assert refused.value.code == "reason_required"
    assert (refused.value.field, refused.value.detail) == (
        "reason", "a cancellation needs a reason"
    )


def test_other_moves_need_no_reason():
    move = case_transition(CaseStatus.RAISED, CaseAction.TRIAGE)
    assert move.reason is None and move.to_status is CaseStatus.TRIAGED


# --- the unit status machine ------------------------------------------------------------------
# README: available → assigned → en_route → on_scene → transporting → at_hospital → available,
# out_of_service. Also from the design (dispatch/unit_status.py's docstring): assigned → on_scene
# when a crew forgets "en route", and any busy unit is released to available (case cancelled,
# patient not transported); out_of_service only from and back to available.
UNIT_STATES = (
    "available", "assigned", "en_route", "on_scene", "transporting", "at_hospital",
    "out_of_service",
)
Y, N = True, False
UNIT_TABLE = {
    # to:            avail assig enrou onsce trans athos oos
    "available":      (N,    Y,    N,    N,    N,    N,    Y),
    "assigned":       (Y,    N,    Y,    Y,    N,    N,    N),
    "en_route":       (Y,    N,    N,    Y,    N,    N,    N),
    "on_scene":       (Y,    N,    N,    N,    Y,    N,    N),
    "transporting":   (Y,    N,    N,    N,    N,    Y,    N),
    "at_hospital":    (Y,    N,    N,    N,    N,    N,    N),
    "out_of_service": (Y,    N,    N,    N,    N,    N,    N),
}
UNIT_CELLS = [
    (source, target, row[i])
    for source, row in UNIT_TABLE.items()
    for i, target in enumerate(UNIT_STATES)
]


def test_the_unit_table_covers_every_status():
    assert set(UNIT_TABLE) == set(UNIT_STATES) == {s.value for s in UnitStatus}


@pytest.mark.parametrize(("source", "target", "legal"), UNIT_CELLS)
def test_unit_status_cell(source, target, legal):
    if legal:
        move = unit_transition(UnitStatus(source), UnitStatus(target))
        assert (move.from_status, move.to_status) == (UnitStatus(source), UnitStatus(target))
        return
    with pytest.raises(InvalidUnitTransition) as refused:
        unit_transition(UnitStatus(source), UnitStatus(target))
    assert refused.value.code == "invalid_unit_transition"
    assert refused.value.extra["current_status"] == source
    assert refused.value.detail == f"a unit that is {source} cannot become {target}"
    allowed = [t for t, ok in zip(UNIT_STATES, UNIT_TABLE[source], strict=True) if ok]
    assert refused.value.extra["allowed_statuses"] == sorted(allowed)


# Crew reports (crew page, SMS digits): the unit status each report leads to from each status,
# "-" refused. Handover is complete only at the hospital (README: "handover complete closes it
# and frees the unit").
CREW_COLUMNS = ("en_route", "on_scene", "transporting", "at_hospital", "handover_complete")
CREW_TABLE = {
    #                en_route    on_scene    transporting    at_hospital    handover_complete
    "available":      ("-",       "-",        "-",            "-",           "-"),
    "assigned":       ("en_route", "on_scene", "-",           "-",           "-"),
    "en_route":       ("-",       "on_scene", "-",            "-",           "-"),
    "on_scene":       ("-",       "-",        "transporting", "-",           "-"),
    "transporting":   ("-",       "-",        "-",            "at_hospital", "-"),
    "at_hospital":    ("-",       "-",        "-",            "-",           "available"),
    "out_of_service": ("-",       "-",        "-",            "-",           "-"),
}
CREW_CELLS = [
    (source, report, row[i])
    for source, row in CREW_TABLE.items()
    for i, report in enumerate(CREW_COLUMNS)
]


def test_the_crew_table_covers_every_report():
    assert set(CREW_COLUMNS) == {r.value for r in CrewStatus}


@pytest.mark.parametrize(("source", "report", "expected"), CREW_CELLS)
def test_crew_report_cell(source, report, expected):
    if expected == "-":
        with pytest.raises(InvalidUnitTransition) as refused:
            crew_transition(UnitStatus(source), CrewStatus(report))
        assert refused.value.extra["current_status"] == source
        return
    move = crew_transition(UnitStatus(source), CrewStatus(report))
    assert move.to_status is UnitStatus(expected)


def test_handover_away_from_hospital_offers_nothing():
    with pytest.raises(InvalidUnitTransition) as refused:
        crew_transition(UnitStatus.TRANSPORTING, CrewStatus.HANDOVER_COMPLETE)
    assert refused.value.extra["allowed_statuses"] == []
    assert "at hospital" in refused.value.detail


# --- the appointment lifecycle ----------------------------------------------------------------
APPOINTMENT_COLUMNS = ("confirm", "check_in", "start", "complete", "cancel", "no_show",
                       "reschedule")
APPOINTMENT_TABLE = {
    #              confirm      check_in      start          complete     cancel       no_show    reschedule  # noqa: E501
    "booked":      ("confirmed", "checked_in", "-",           "-",         "cancelled", "no_show", "rescheduled"),  # noqa: E501
    "confirmed":   ("-",         "checked_in", "-",           "-",         "cancelled", "no_show", "rescheduled"),  # noqa: E501
    "checked_in":  ("-",         "-",          "in_progress", "completed", "-",         "-",       "-"),  # noqa: E501
    "in_progress": ("-",         "-",          "-",           "completed", "-",         "-",       "-"),  # noqa: E501
    "completed":   ("-",         "-",          "-",           "-",         "-",         "-",       "-"),  # noqa: E501
    "cancelled":   ("-",         "-",          "-",           "-",         "-",         "-",       "-"),  # noqa: E501
    "no_show":     ("-",         "-",          "-",           "-",         "-",         "-",       "-"),  # noqa: E501
    "rescheduled": ("-",         "-",          "-",           "-",         "-",         "-",       "-"),  # noqa: E501
}
APPOINTMENT_CELLS = [
    (status, action, row[i])
    for status, row in APPOINTMENT_TABLE.items()
    for i, action in enumerate(APPOINTMENT_COLUMNS)
]


def test_the_appointment_table_covers_every_status_and_action():
    assert set(APPOINTMENT_TABLE) == {s.value for s in AppointmentStatus}
    assert set(APPOINTMENT_COLUMNS) == {a.value for a in AppointmentAction}


@pytest.mark.parametrize(("status", "action", "expected"), APPOINTMENT_CELLS)
def test_appointment_lifecycle_cell(status, action, expected):
    current, act = AppointmentStatus(status), AppointmentAction(action)
    legal = [a for a, c in zip(APPOINTMENT_COLUMNS, APPOINTMENT_TABLE[status], strict=True)
             if c != "-"]
    assert sorted(appointment_actions(current)) == sorted(legal)
    if expected == "-":
        with pytest.raises(IllegalAppointmentMove) as refused:
            appointment_transition(current, act)
        assert refused.value.code == "invalid_transition"
        assert refused.value.extra["current_status"] == status
        assert sorted(refused.value.extra["allowed_actions"]) == sorted(legal)
        assert refused.value.detail == f"cannot {action} an appointment that is {status}"
        return
    assert appointment_transition(current, act) is AppointmentStatus(expected)


# --- symptom × severity → required capability -------------------------------------------------
# README "Capabilities and destination rules", one row per symptom, one column per severity.
SEVERITIES = ("low", "medium", "high", "critical")
PCI, ED, LYSIS, ECTOMY = "stemi_pci", "general_ed", "stroke_thrombolysis", "stroke_thrombectomy"
T1, T2, T3 = "trauma_1", "trauma_2", "trauma_3"
CAPABILITY_TABLE = {
    #                  low            medium         high           critical
    "cardiac_arrest":  (PCI,          PCI,           PCI,           PCI),
    "chest_pain":      (ED,           ED,            PCI,           PCI),
    "stroke_symptoms": (LYSIS,        LYSIS,         LYSIS,         ECTOMY),
    "major_trauma":    (T3,           T3,            T2,            T1),
    "burns":           (ED,           ED,            "burns",       "burns"),
    "breathing":       (ED,           ED,            ED,            ED),
    "obstetric":       ("obstetric",  "obstetric",   "obstetric",   "obstetric"),
    "paediatric":      ("paediatric", "paediatric",  "paediatric",  "paediatric"),
    "overdose":        (ED,           ED,            ED,            ED),
    "psychiatric":     ("psychiatric", "psychiatric", "psychiatric", "psychiatric"),
    "other":           (ED,           ED,            ED,            ED),
}  # fmt: skip
CAPABILITY_CELLS = [
    (symptom, severity, row[i])
    for symptom, row in CAPABILITY_TABLE.items()
    for i, severity in enumerate(SEVERITIES)
]
#: Before triage, the severity presumed from the symptom (dispatch/triage_rules.py; the README
#: says only that one is presumed): the capability follows from it and the table above.
PRESUMED = {
    "cardiac_arrest": "critical", "chest_pain": "high", "stroke_symptoms": "high",
    "major_trauma": "high", "burns": "high", "breathing": "high", "obstetric": "high",
    "paediatric": "medium", "overdose": "high", "psychiatric": "medium", "other": "medium",
}


#: What the operator is told, per required capability (the words shown with the choice).
WHY = {
    "stemi_pci": "needs primary PCI",
    "stroke_thrombectomy": "suspected large-vessel occlusion needs thrombectomy",
    "stroke_thrombolysis": "needs CT and thrombolysis",
    "trauma_1": "needs a major trauma centre",
    "trauma_2": "needs a trauma unit",
    "trauma_3": "needs trauma stabilisation",
    "burns": "needs a burns unit",
    "obstetric": "needs emergency obstetrics",
    "paediatric": "needs a paediatric emergency department",
    "psychiatric": "needs a psychiatric emergency service",
    "general_ed": "any emergency department",
}
WHY_STEMI = {
    "cardiac_arrest": "post-resuscitation care needs primary PCI",
    "chest_pain": "suspected STEMI needs primary PCI",
}


def test_the_capability_table_covers_every_symptom_and_severity():
    assert set(CAPABILITY_TABLE) == set(PRESUMED) == {s.value for s in SymptomCategory}
    assert set(SEVERITIES) == {s.value for s in Severity}


@pytest.mark.parametrize(("symptom", "severity", "expected"), CAPABILITY_CELLS)
def test_required_capability_cell(symptom, severity, expected):
    capability, reason = required_capability(symptom, severity)
    assert capability.value == expected
    why = WHY_STEMI[symptom] if expected == "stemi_pci" else WHY[expected]
    assert reason == f"{symptom} at {severity} severity: {why}"


@pytest.mark.parametrize("symptom", list(PRESUMED))
def test_required_capability_before_triage(symptom):
    presumed = PRESUMED[symptom]
    capability, reason = required_capability(symptom, None)
    assert capability.value == CAPABILITY_TABLE[symptom][SEVERITIES.index(presumed)]
    assert reason.startswith(f"{symptom} at presumed {presumed} severity: ")
