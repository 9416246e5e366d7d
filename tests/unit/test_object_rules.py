"""The pure object rules of identity.authz, case by case."""

from __future__ import annotations

import uuid

import pytest

from identity.authz import CaseFacts, Grant, case_read_grant, list_scope

ME, OTHER, H1, H2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
CASE = CaseFacts(created_by=ME, patient_user_id=None, destination_hospital_id=H1)
REASON = "unconscious, need allergies"


@pytest.mark.parametrize(
    "roles, hospital, user, reason, grant",
    [
        ({"emergency_operator"}, None, OTHER, None, Grant.ROLE),
        ({"super_admin"}, None, OTHER, None, Grant.ROLE),
        ({"hospital_admin"}, H1, OTHER, None, Grant.HOSPITAL),
        ({"hospital_admin"}, H2, OTHER, None, Grant.DENIED),
        ({"hospital_admin"}, None, OTHER, None, Grant.DENIED),
        ({"hospital_admin"}, H2, OTHER, REASON, Grant.DENIED),  # admins cannot break glass
        ({"doctor"}, H1, OTHER, None, Grant.HOSPITAL),
        ({"doctor"}, H2, OTHER, None, Grant.DENIED),
        ({"doctor"}, H2, OTHER, "short", Grant.DENIED),
        ({"doctor"}, H2, OTHER, REASON, Grant.BREAK_GLASS),
        ({"patient"}, None, ME, None, Grant.OWN),
        ({"patient"}, None, OTHER, None, Grant.DENIED),
        ({"patient"}, None, OTHER, REASON, Grant.DENIED),
        (set(), None, OTHER, REASON, Grant.DENIED),
    ],
)
def test_case_read_grant(roles, hospital, user, reason, grant):
    result = case_read_grant(
        roles=frozenset(roles),
        user_id=user,
        hospital_id=hospital,
        case=CASE,
        break_glass_reason=reason,
    )
    assert result is grant


def test_a_patient_sees_a_case_linked_to_their_record():
    linked = CaseFacts(created_by=None, patient_user_id=ME, destination_hospital_id=None)
    grant = case_read_grant(roles=frozenset({"patient"}), user_id=ME, hospital_id=None, case=linked)
    assert grant is Grant.OWN


def test_list_scope():
    assert list_scope(frozenset({"emergency_operator"}), None) is None
    assert list_scope(frozenset({"hospital_admin"}), H1) == H1
    assert list_scope(frozenset({"hospital_admin"}), None) is False
    assert list_scope(frozenset({"doctor"}), H1) is False


@pytest.mark.parametrize(
    ("reason", "grant"),
    [
        # README: at least 10 characters and three distinct words of two or more letters.
        ("ct in bays", Grant.BREAK_GLASS),  # 10 characters, three words: the edge
        ("ct in bay", Grant.DENIED),  # 9 characters
        ("   ct in by   ", Grant.DENIED),  # padding does not count
        ("x" * 10, Grant.DENIED),  # long enough, one word
        ("ab ab ab ab", Grant.DENIED),  # three words, one distinct
        ("", Grant.DENIED),
        (None, Grant.DENIED),
    ],
)
def test_break_glass_needs_ten_characters_and_three_words(reason, grant):
    assert case_read_grant(roles=frozenset({"doctor"}), user_id=OTHER, hospital_id=H2, case=CASE,
                           break_glass_reason=reason) is grant
