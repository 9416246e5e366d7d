"""The real-time event contract (data.events): one home per channel and kind, payloads that keep
the JSON shape the console reads (issue 22.3)."""

from __future__ import annotations

import ast
import json
import types
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from data import events
from data.events import KINDS, Addressing, Channel, EventKind, case_change, kind_of
from dispatch.lifecycle import CaseAction
from identity.roles import PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["fleet_coverage", "dispatch", "geocoding", "routing", "facilities", "realtime",
            "console_api", "data", "identity", "care", "messaging"]

#: The keys each kind's JSON object had before the contract was typed (main at 893a7f0, read
#: off the writers). The console's JavaScript and the realtime rules read these: a change here
#: is a change of the wire, to be made on purpose.
_CASE = {"case_id", "status", "severity", "symptom_category", "required_capability", "lat",
         "lng", "region", "destination_hospital_id", "version", "raised_at"}
WIRE_KEYS: dict[str, set[str]] = {
    "case.<action>": _CASE | {"action", "from_status"},
    "case.crew_status": _CASE | {"action", "unit_status", "call_sign"},
    "case.alert": _CASE | {"action", "alert"},
    "care.break_glass": {"action", "patient_id", "kind", "actor", "case_id", "status"},
    "unit.status": {"unit_id", "call_sign", "type", "from_status", "status", "case_id"},
    "unit.position.updated": {"unit_id", "call_sign", "status", "case_id", "lat", "lng", "heading",
                      "speed", "recorded_at"},
    "hospital.capacity": {"hospital_id", "region", "ed_status", "previous_ed_status",
                          "beds_available", "capacity_updated_at", "actor"},
    "region.diversion_policy": {"region", "critical_override_seconds",
                                "previous_critical_override_seconds", "actor", "at"},
    "hospital.service": {"hospital_id", "region", "capability", "status", "previous_status",
                         "reason", "until", "actor", "at"},
    "doctor.availability": {"doctor_id", "state", "previous_state", "hospital_id", "cause",
                            "at"},
    "appointment.queue": {"hospital_id", "doctor_id", "date", "appointment_id", "status",
                          "queue", "queue_length"},
    "coverage.summary": {"region", "minutes", "share_any", "share_als", "percent_any",
                         "percent_als", "cells", "cell_size_m", "demand_cases", "units",
                         "computed_ms", "uncovered_cells", "trigger", "unit_id", "status"},
    "coverage.move_up": {"unit_id", "call_sign", "post_id", "post_name", "region", "move_id",
                         "lat", "lng"},
}
ALL_KINDS: list[EventKind] = [*KINDS.values(), case_change("<action>")]


def _keys(payload_type: type) -> set[str]:
    return set(typing.get_type_hints(payload_type))


def test_every_kind_keeps_its_wire_keys():
    assert {k.event_type for k in ALL_KINDS} == set(WIRE_KEYS)
    for kind in ALL_KINDS:
        assert _keys(kind.payload) == WIRE_KEYS[kind.event_type], kind.event_type


def test_every_lifecycle_action_is_a_case_change_on_the_case_channel():
    for action in CaseAction:
        kind = kind_of(f"case.{action.value}")
        assert kind == EventKind(f"case.{action.value}", Channel.CASE, events.CaseChanged)
    assert kind_of("case.alert") is events.CASE_ALERT
    assert kind_of("nobody.declared") is None


def _members(annotation: object) -> set[object]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return set(typing.get_args(annotation))
    return {annotation}


def test_addressing_types_every_kind_that_has_its_fields():
    """The realtime rules read any payload through data.events.addressing: each field a kind
    has must fit the type Addressing gives it."""
    wanted = typing.get_type_hints(Addressing)
    for kind in ALL_KINDS:
        hints = typing.get_type_hints(kind.payload)
        for name in set(hints) & set(wanted):
            assert _members(hints[name]) <= _members(wanted[name]), (kind.event_type, name)


def test_subscriptions_exclude_the_outbox_only_channels():
    assert set(events.SUBSCRIBABLE) == set(Channel) - events.OUTBOX_ONLY_CHANNELS
    assert Channel.UNIT_STATUS not in events.SUBSCRIBABLE


def _python_files() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if "migrations" not in p.parts]


def test_each_channel_and_event_type_is_named_once():
    """Only data.events spells a channel or an event type; everyone else imports it.

    Event types that are also permission names (``hospital.capacity``, ``unit.position``: what
    identity.roles lets a role do) are left out: those literals name the permission.
    """
    names = {c.value for c in Channel} | (set(KINDS) - set(PERMISSIONS))
    found: dict[str, list[str]] = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.setdefault(str(node.value), []).append(str(path.relative_to(ROOT)))
    assert all(places == ["data/events.py"] for places in found.values()), found
    assert set(found) == names


def test_every_outbox_write_takes_channel_and_type_from_one_kind():
    """record_event(channel=K.channel, event_type=K.event_type, payload=...) with one K."""
    calls = 0
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            is_write = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "record_event"
            if not is_write:
                continue
            given_ = {k.arg: k.value for k in node.keywords}
            if None in given_:  # record_event(db, **case_outbox_event(...)): built from a kind
                continue
            channel, event_type = given_["channel"], given_["event_type"]
            assert isinstance(channel, ast.Attribute) and channel.attr == "channel", path
            assert isinstance(event_type, ast.Attribute) and event_type.attr == "event_type"
            assert ast.dump(channel.value) == ast.dump(event_type.value), path
            calls += 1
    assert calls >= 10


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.event_type)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_payload_of_a_kind_crosses_the_wire_unchanged(kind: EventKind, data):
    """Any value of the type validates, and its JSON (as the relay stores and sends it) reads
    back as the very same object."""
    payload = data.draw(st.from_type(kind.payload))
    text = json.dumps(payload, sort_keys=True)
    wire = json.loads(text)
    assert json.dumps(wire, sort_keys=True) == text
    assert set(wire) == WIRE_KEYS[kind.event_type]
    TypeAdapter(kind.payload).validate_python(wire)
