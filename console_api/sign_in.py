"""The gate every password check passes (sign-in, sign-up, MFA enrol and activate): one place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request

from console_api.audit_trail import note_audit
from console_api.limits import login_account_hash, login_throttle
from data.errors import TooManyRequests, Unauthenticated
from identity import service as identity_service
from identity.settings import IdentitySettings

#: Seconds before a refused (429) sign-in step is answered.
REFUSAL_PAUSE_S = 1.0


@asynccontextmanager
async def sign_in_step(
    request: Request, email: str, *, settings: IdentitySettings
) -> AsyncIterator[None]:
    """Every step that checks a password (login, MFA enrol and activate) passes the same
    throttles and lockout, and tells them how it ended."""
    note_audit(request, account=login_account_hash(email))
    try:
        with identity_service.gate_of(settings).slot():
            throttle = await login_throttle(request, email)
            try:
                yield
            except Unauthenticated:
                await throttle.failed()
                raise
            await throttle.succeeded()
    except TooManyRequests:
        # A refused attempt is answered after a pause (holding no slot): a flood that ignores
        # Retry-After comes back once a second per connection, not as fast as we can say no.
        await asyncio.sleep(REFUSAL_PAUSE_S)
        raise
