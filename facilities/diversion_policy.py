"""Reading and setting a region's clinical diversion policy (the rule itself is pure code in
``dispatch.diversion``); a change is audited and announced like any capacity change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from data.base import utcnow
from data.errors import NotFound
from data.events import DIVERSION_POLICY, DiversionPolicyChanged
from data.outbox import record_event
from facilities.models import RegionDiversionPolicy
from routing.models import Region

DEFAULT_CRITICAL_OVERRIDE_S = 600.0

class RegionNotFound(NotFound):
    """No imported region of that name."""

    code = "region_not_found"


async def override_seconds(*, db_session: AsyncSession, region: str) -> float:
    """How much nearer (s) a diverting hospital must be to take a critical patient here."""
    value = await db_session.scalar(
        select(RegionDiversionPolicy.critical_override_s).where(
            RegionDiversionPolicy.region == region
        )
    )
    return DEFAULT_CRITICAL_OVERRIDE_S if value is None else float(value)


def _view(region: str, row: RegionDiversionPolicy | None) -> dict[str, Any]:
    return {
        "region": region,
        "critical_override_seconds": (
            row.critical_override_s if row is not None else DEFAULT_CRITICAL_OVERRIDE_S
        ),
        "default": row is None,
        "updated_at": row.updated_at.isoformat() if row is not None else None,
        "updated_by": row.updated_by if row is not None else None,
    }


async def read_policy(*, db_session: AsyncSession, region: str) -> dict[str, Any]:
    """The region's policy (the default when never set)."""
    if await db_session.get(Region, region) is None:
        raise RegionNotFound(f"no region {region!r}")
    return _view(region, await db_session.get(RegionDiversionPolicy, region))


async def set_policy(
    *,
    db_session: AsyncSession, region: str, critical_override_s: float, actor: str
) -> dict[str, Any]:
    """Set the threshold and announce it (audited by the outbox event and the request audit)."""
    if await db_session.get(Region, region) is None:
        raise RegionNotFound(f"no region {region!r}")
    previous = await override_seconds(db_session=db_session, region=region)
    now = utcnow()
    # One statement: two first settings at once both succeed in turn, never a duplicate key.
    await db_session.execute(
        insert(RegionDiversionPolicy)
        .values(region=region, critical_override_s=critical_override_s, updated_at=now,
                updated_by=actor)
        .on_conflict_do_update(
            index_elements=["region"],
            set_={"critical_override_s": critical_override_s, "updated_at": now,
                  "updated_by": actor},
        )
    )
    payload: DiversionPolicyChanged = {
        "region": region, "critical_override_seconds": critical_override_s,
        "previous_critical_override_seconds": previous, "actor": actor, "at": now.isoformat(),
    }
    record_event(
        db_session, channel=DIVERSION_POLICY.channel, event_type=DIVERSION_POLICY.event_type,
        aggregate_type="region", aggregate_id=region, payload=payload,
    )
    await db_session.commit()
    stored = await db_session.get(RegionDiversionPolicy, region, populate_existing=True)
    return _view(region, stored)
