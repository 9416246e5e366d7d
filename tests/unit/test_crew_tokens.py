"""Crew links (README: HMAC-signed, bound to one dispatch, dead after 12 h): forging, age, form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.errors import Forbidden
from dispatch.crew_tokens import (
    MAX_AGE,
    CrewClaims,
    _b64,
    _unb64,
    issue_crew_token,
    verify_crew_token,
)

SECRET = "crew-secret-" + "x" * 32
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
D, C, U = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(payload: dict, secret: str = SECRET) -> str:
    """A token built from the documented form: base64url(JSON).base64url(HMAC-SHA256)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), b"crew-token:" + raw, hashlib.sha256).digest()
    return f"{b64(raw)}.{b64(mac)}"


def issue(**kw) -> str:
    return issue_crew_token(dispatch_id=D, case_id=C, unit_id=U, secret=SECRET, now=NOW, **kw)


def test_the_token_has_the_documented_form_and_twelve_hours_of_life():
    assert timedelta(hours=12) == MAX_AGE
    expires = int((NOW + timedelta(hours=12)).timestamp())
    assert issue() == forge({"d": str(D), "c": str(C), "u": str(U), "e": expires})
    assert "=" not in issue()


def test_a_valid_token_names_its_dispatch():
    claims = verify_crew_token(issue(), secret=SECRET, now=NOW)
    assert claims == CrewClaims(D, C, U, NOW + timedelta(hours=12))


def test_it_dies_at_its_expiry_not_a_second_later():
    token = issue(max_age=timedelta(minutes=5))
    assert verify_crew_token(token, secret=SECRET, now=NOW + timedelta(minutes=5, seconds=-1))
    for late in (timedelta(minutes=5), timedelta(minutes=6)):
        with pytest.raises(Forbidden) as expired:
            verify_crew_token(token, secret=SECRET, now=NOW + late)
        assert expired.value.code == "crew_token_expired"
        assert expired.value.detail == "this crew link has expired"


def test_without_a_clock_it_is_checked_against_now():
    fresh = issue_crew_token(dispatch_id=D, case_id=C, unit_id=U, secret=SECRET)
    assert verify_crew_token(fresh, secret=SECRET).dispatch_id == D
    with pytest.raises(Forbidden):
        old = issue_crew_token(dispatch_id=D, case_id=C, unit_id=U, secret=SECRET,
                               now=datetime(2020, 1, 1, tzinfo=UTC))
        verify_crew_token(old, secret=SECRET)  # long expired by the clock


def tampered() -> list[str]:
    token = issue()
    body, mac = token.split(".")
    other = forge({"d": str(D), "c": str(uuid.uuid4()), "u": str(U), "e": 9_999_999_999},
                  secret="another-secret-" + "y" * 32)
    return [
        other,  # signed with another key
        body + "." + b64(b"\x00" * 32),  # wrong MAC
        token + ".extra",  # three parts
        body,  # no MAC
        "",
        "!!!." + mac,  # not base64
        forge({"d": "not-a-uuid", "c": str(C), "u": str(U), "e": 9_999_999_999}),
        forge({"c": str(C), "u": str(U), "e": 9_999_999_999}),  # a claim missing
        forge({"d": str(D), "c": str(C), "u": str(U), "e": "soon"}),
        b64(b"not json") + "." + b64(
            hmac.new(SECRET.encode(), b"crew-token:not json", hashlib.sha256).digest()
        ),
        forge([1, 2, 3]),  # JSON, but not an object
    ]


@pytest.mark.parametrize("token", tampered())
def test_every_forgery_is_the_same_403(token):
    with pytest.raises(Forbidden) as denied:
        verify_crew_token(token, secret=SECRET, now=NOW)
    assert denied.value.code == "invalid_crew_token"
    assert denied.value.detail == "this crew link is not valid"


def test_the_signature_is_domain_separated():
    raw = json.dumps({"d": str(D), "c": str(C), "u": str(U), "e": 9_999_999_999},
                     separators=(",", ":")).encode()
    plain_mac = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()  # no "crew-token:"
    with pytest.raises(Forbidden):
        verify_crew_token(f"{b64(raw)}.{b64(plain_mac)}", secret=SECRET, now=NOW)


@pytest.mark.parametrize("pad", [0, 1, 2, 3])
def test_unpadded_base64_of_every_length_is_read(pad):
    # Payload lengths that leave 0-3 padding characters: every one must verify.
    claims = verify_crew_token(issue(max_age=timedelta(seconds=10 ** pad * 7)), secret=SECRET,
                               now=NOW)
    assert claims.unit_id == U


@given(st.binary(max_size=64))
def test_the_token_encoding_round_trips_any_bytes(raw):
    assert _unb64(_b64(raw)) == raw
    assert _b64(raw) == base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_an_encoding_ending_in_x_keeps_it():
    assert _b64(b"\x00\x00\x17") == "AAAX"  # "X" is a base64url digit, "=" only padding
