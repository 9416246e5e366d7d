"""The audit chain's hash, computed here from its written definition, and what ``walk`` finds.

The definition (identity/audit.py, README "Audit"): each row's ``record_hash`` is SHA-256 over
the previous row's hash, a newline and the row's fields as compact JSON with sorted keys; the
first row links to 64 zeros. Every hashed field gets its own tamper test, so leaving one out of
the hash fails here; a row whose link names the wrong predecessor is named too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from identity.audit import GENESIS, AuditEvent, canonical, chain_hash, walk

AT = datetime(2026, 12, 5, 10, 30, 15, 123456, tzinfo=UTC)

#: Every field the hash covers, with the value the chain is built with and a tampered one.
HASHED = {
    "at": (AT, AT + timedelta(microseconds=1)),
    "actor_user_id": (uuid.UUID(int=7), uuid.UUID(int=8)),
    "actor": ("user:ops@lifeline.test", "user:someone-else@lifeline.test"),
    "role": ("emergency_operator", "super_admin"),
    "action": ("case.read", "case.update"),
    "object_type": ("case", "patient"),
    "object_id": ("c-1", "c-2"),
    "patient_id": (uuid.UUID(int=11), uuid.UUID(int=12)),
    "purpose": ("break-glass: unconscious patient", "cover-up"),
    "outcome": ("denied", "allowed"),
    "ip": ("10.0.0.7", "10.0.0.8"),
    "priority": (True, False),
    "details": ({"status": 403}, {"status": 200}),
}


def reference_hash(previous: str, fields: dict) -> str:
    """The hash as documented, written independently of identity.audit."""
    values = {
        "at": fields["at"].astimezone(UTC).isoformat(),
        "actor_user_id": str(fields["actor_user_id"]) if fields["actor_user_id"] else None,
        "actor": fields["actor"],
        "role": fields["role"],
        "action": fields["action"],
        "object_type": fields["object_type"],
        "object_id": fields["object_id"],
        "patient_id": str(fields["patient_id"]) if fields["patient_id"] else None,
        "purpose": fields["purpose"],
        "outcome": fields["outcome"],
        "ip": fields["ip"],
        "priority": fields["priority"],
        "details": fields["details"] or {},
    }
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{text}".encode()).hexdigest()


def fields(n: int) -> dict:
    """The n-th row's hashed fields (distinct per row, every field set)."""
    base = {name: original for name, (original, _) in HASHED.items()}
    return {**base, "at": AT + timedelta(seconds=n), "object_id": f"c-{n}"}


def chain(length: int = 4) -> list[SimpleNamespace]:
    """A correct chain of ``length`` rows, hashed by the reference definition."""
    rows, previous = [], GENESIS
    for n in range(1, length + 1):
        row = fields(n)
        record = reference_hash(previous, row)
        rows.append(SimpleNamespace(seq=n, previous_hash=previous, record_hash=record, **row))
        previous = record
    return rows


def test_the_code_hashes_as_documented():
    rows = chain()
    for row in rows:
        assert chain_hash(row.previous_hash, row, row.at) == row.record_hash
    assert walk(rows) == walk(rows) and walk(rows).ok
    assert (walk(rows).rows, walk(rows).first_bad_seq, walk(rows).problem) == (4, None, None)


def test_the_hash_covers_exactly_the_documented_fields():
    assert set(json.loads(canonical(chain()[0], AT))) == set(HASHED)


def test_time_is_hashed_in_utc_whatever_the_zone_it_was_read_in(monkeypatch):
    row = chain(1)[0]
    helsinki = row.at.astimezone(timezone(timedelta(hours=2)))
    assert chain_hash(GENESIS, row, helsinki) == row.record_hash
    # ... and whatever the zone of the machine that verifies it.
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    try:
        assert chain_hash(GENESIS, row, helsinki) == row.record_hash
    finally:
        monkeypatch.undo()
        time.tzset()


def test_details_that_json_cannot_hold_are_hashed_as_text():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = SimpleNamespace(**{**fields(1), "details": {"when": when, "id": uuid.UUID(int=3)}})
    values = json.loads(canonical(row, row.at))
    assert values["details"] == {"when": str(when), "id": str(uuid.UUID(int=3))}


def test_empty_optional_fields_hash_as_null_and_empty_details():
    row = SimpleNamespace(**{**fields(1), "actor_user_id": None, "patient_id": None,
                             "ip": None, "role": None, "details": None, "priority": 0})
    expected = {**fields(1), "actor_user_id": None, "patient_id": None, "ip": None,
                "role": None, "details": {}, "priority": False}
    assert chain_hash(GENESIS, row, row.at) == reference_hash(GENESIS, expected)


def test_an_audit_event_hashes_like_its_stored_row():
    row = chain(1)[0]
    event = AuditEvent(**{name: getattr(row, name) for name in HASHED if name != "at"})
    assert chain_hash(GENESIS, event, row.at) == row.record_hash
    assert {f.name for f in dataclasses.fields(AuditEvent)} == set(HASHED) - {"at"}


@pytest.mark.parametrize("name", list(HASHED))
def test_changing_a_hashed_field_names_the_row(name):
    rows = chain()
    setattr(rows[2], name, HASHED[name][1])
    verdict = walk(rows)
    assert (verdict.first_bad_seq, verdict.rows) == (3, 3)
    assert verdict.problem == "content does not match record_hash"
    assert not verdict.ok


def test_a_broken_link_names_the_row():
    rows = chain()
    # The row's content is untouched (its own hash still matches what it holds), but it no
    # longer names the row before it: as if a row had been cut out of the chain.
    rows[2].previous_hash = rows[0].record_hash
    verdict = walk(rows)
    assert (verdict.first_bad_seq, verdict.rows) == (3, 3)
    assert verdict.problem == "previous_hash does not name the row before"


def test_a_deleted_row_breaks_the_link_of_the_next():
    rows = chain()
    del rows[1]
    verdict = walk(rows)
    assert verdict.first_bad_seq == 3
    assert verdict.problem == "previous_hash does not name the row before"


def test_the_first_row_must_link_to_genesis():
    rows = chain()[1:]  # the chain's head cut off: its second row becomes the first
    assert walk(rows).first_bad_seq == 2


def test_a_rehashed_row_still_breaks_the_next_link():
    rows = chain()
    rows[1].actor = "user:intruder@lifeline.test"
    rows[1].record_hash = chain_hash(rows[1].previous_hash, rows[1], rows[1].at)
    verdict = walk(rows)
    assert verdict.first_bad_seq == 3
    assert verdict.problem == "previous_hash does not name the row before"


def test_an_empty_chain_is_intact():
    assert (walk([]).rows, walk([]).ok) == (0, True)
