"""What the dispatch core needs of the outside world, declared here; adapters implement it.

The adapters live in :mod:`realtime` (Redis) and are chosen in one place,
:mod:`console_api.bootstrap`. dispatch itself imports no I/O client for these.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class LiveFix:
    """One GPS fix as the live-position store takes it."""

    unit_id: uuid.UUID
    #: Microseconds since the epoch (exact, unlike float seconds).
    recorded_us: int
    #: Recent enough to become the unit's live position (older fixes only extend the trail).
    fresh: bool
    lat: float
    lng: float
    #: The position event's JSON, published when the fix becomes the live position.
    event: str


@dataclass(frozen=True)
class LiveFixRead:
    """A unit's live position as the store last kept it (newest fix wins)."""

    recorded_at: datetime
    lat: float
    lng: float


class LivePositions(Protocol):
    """Keeps each unit's newest position, decides the trail, and publishes live fixes."""

    #: A fix older than this no longer places the unit (LIFELINE_DISPATCH_POSITION_STALE_SECONDS):
    #: it stands at its station, marked stale.
    stale_after_s: float

    async def latest(self, unit_ids: Sequence[uuid.UUID]) -> list[LiveFixRead | None]:
        """Each unit's live fix (None: none kept), in order; data.errors.Unavailable when down.

        One round trip for the whole list: a dispatch reads the positions of every free unit.
        """
        ...

    async def store(
        self,
        fixes: Sequence[LiveFix],
        *,
        now_ms: int,
        at: str,
        trail_interval_us: int,
        trail_distance_m: float,
    ) -> list[int]:
        """Per fix, ``2 * became_live + kept_on_trail``; data.errors.Unavailable when down."""
        ...
