"""A region's clinical diversion policy: read by staff, set by a super admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from console_api.deps import CurrentClaims, SessionDep, actor_of
from console_api.responses import DiversionPolicyView
from facilities import diversion_policy

router = APIRouter(prefix="/api/v1/regions", tags=["hospitals"])
RegionName = Annotated[str, Path(min_length=1, max_length=100)]


class DiversionPolicyUpdate(BaseModel):
    """How much nearer by road (s) a diverting hospital must be to take a critical patient."""

    model_config = ConfigDict(extra="forbid")

    critical_override_seconds: float = Field(ge=0, le=7200, allow_inf_nan=False)


@router.get("/{region}/diversion-policy", response_model=DiversionPolicyView,
            summary="The region's clinical diversion policy")
async def read_policy(region: RegionName, db_session: SessionDep) -> dict[str, Any]:
    """The default (600 s) until set."""
    return await diversion_policy.read_policy(db_session=db_session, region=region)


@router.put("/{region}/diversion-policy", response_model=DiversionPolicyView,
            summary="Set the region's clinical diversion policy")
async def put_policy(
    region: RegionName,
    body: DiversionPolicyUpdate,
    db_session: SessionDep,
    claims: CurrentClaims,
) -> dict[str, Any]:
    """Applies to recommendations made from now on (cases already ranked keep theirs)."""
    return await diversion_policy.set_policy(
        db_session=db_session, region=region,
        critical_override_s=body.critical_override_seconds, actor=actor_of(claims).label,
    )
