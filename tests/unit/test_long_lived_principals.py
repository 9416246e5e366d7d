"""Session-scoped principals stay signed in whatever the test order: tests.conftest.SignedIn."""

from __future__ import annotations

import time
import uuid
from unittest import mock

from identity.settings import IdentitySettings
from identity.tokens import issue_access_token, verify_access_token
from tests.conftest import SignedIn


def test_a_ten_minute_old_token_is_reminted_for_the_same_sign_in():
    settings = IdentitySettings(secret_key="test-secret-" + uuid.uuid4().hex)
    user, sid = uuid.uuid4(), uuid.uuid4()
    token = issue_access_token(user_id=user, roles={"emergency_operator"}, hospital_id=None,
                               settings=settings, mfa=True, session_id=sid)
    signed = SignedIn(user_id=user, email="x@lifeline.test", refresh_token="r",
                      login_headers={"Authorization": f"Bearer {token}"}, settings=settings)
    assert signed.headers["Authorization"] == f"Bearer {token}"  # young: kept
    with mock.patch("time.time", return_value=time.time() + 11 * 60):
        later = signed.headers["Authorization"].removeprefix("Bearer ")
    assert later != token
    claims = verify_access_token(later, settings=settings)
    assert (claims.user_id, claims.session_id, claims.mfa) == (user, sid, True)
    assert claims.roles == frozenset({"emergency_operator"})
