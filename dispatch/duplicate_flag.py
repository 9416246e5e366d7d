"""The duplicate-call check run at intake: is an open case already near here, and recent?"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from geoalchemy2 import Geography
from sqlalchemy import cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.lifecycle import OPEN_STATUSES
from dispatch.models import EmergencyCase
from dispatch.settings import DispatchSettings

OPEN = [s.value for s in OPEN_STATUSES]


async def possible_duplicate(
    *,
    db_session: AsyncSession,
    case_id: uuid.UUID,
    lat: float,
    lng: float,
    now: datetime,
    settings: DispatchSettings,
) -> uuid.UUID | None:
    """The nearest open, unlinked case raised within the window around (lat, lng), if any."""
    here = cast(func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326), Geography)
    there = cast(EmergencyCase.location, Geography)
    with db_session.no_autoflush:
        return await db_session.scalar(
            select(EmergencyCase.id)
            .where(
                EmergencyCase.status.in_(OPEN),
                EmergencyCase.id != case_id,
                EmergencyCase.linked_to.is_(None),
                EmergencyCase.raised_at >= now - timedelta(minutes=settings.duplicate_minutes),
                func.ST_DWithin(there, here, settings.duplicate_radius_m),
            )
            # Equally near (calls from one spot): the first call raised is the incident's primary.
            .order_by(func.ST_Distance(there, here), EmergencyCase.raised_at, EmergencyCase.id)
            .limit(1)
        )
