"""What the dispatch core needs from the outside world, declared here and implemented elsewhere."""

from __future__ import annotations

from typing import Any, Protocol


class LivePublisher(Protocol):
    """Publishes high-rate, non-transactional updates (unit positions) to live subscribers."""

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        """Best effort: a lost position is superseded by the next one."""
