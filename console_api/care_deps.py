"""Dependencies of the care routers: the caller resolved to their patient and doctor rows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from redis.asyncio import Redis

from care import requester as care_requester
from care.access import Requester
from console_api.deps import CurrentClaims, SessionDep


async def current_requester(claims: CurrentClaims, db_session: SessionDep) -> Requester:
    """401 without a token; otherwise the caller with their care identities."""
    return await care_requester.resolve(
        db_session=db_session, user_id=claims.user_id, roles=claims.roles,
        hospital_id=claims.hospital_id,
    )


async def get_redis(request: Request) -> Redis:
    """The app's Redis client (presence lives there)."""
    return request.app.state.redis


RequesterDep = Annotated[Requester, Depends(current_requester)]
RedisDep = Annotated[Redis, Depends(get_redis)]
BreakGlassHeader = Annotated[
    str | None,
    Header(
        alias="X-Break-Glass-Reason",
        max_length=500,
        description="A doctor without a treatment relationship states why they must read "
        "(emergency access; logged and flagged for review).",
    ),
]
