"""Dependencies of the care routers: the caller resolved to their patient and doctor rows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from care import requester as care_requester
from care.access import Requester
from console_api.deps import CurrentClaims, SessionDep


async def current_requester(claims: CurrentClaims, db_session: SessionDep) -> Requester:
    """401 without a token; otherwise the caller with their care identities."""
    return await care_requester.resolve(
        db_session=db_session, user_id=claims.user_id, roles=claims.roles,
        hospital_id=claims.hospital_id,
    )


RequesterDep = Annotated[Requester, Depends(current_requester)]
BreakGlassHeader = Annotated[
    str | None,
    Header(
        alias="X-Break-Glass-Reason",
        max_length=500,
        description="A doctor without a treatment relationship states why they must read "
        "(emergency access; logged and flagged for review).",
    ),
]
