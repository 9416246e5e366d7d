"""What care needs of the outside world, declared here; adapters implement it.

The Redis adapter is :class:`realtime.presence.RedisPresence`, chosen in one place,
:mod:`console_api.bootstrap`. care itself imports no I/O client.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol


class Presence(Protocol):
    """Doctors' live presence: a state that lives one TTL unless refreshed (silence: offline).

    Every method raises data.errors.Unavailable when the store is down.
    """

    async def announce(
        self, doctor_id: uuid.UUID, *, state: str, hospital_id: uuid.UUID | None, ttl_s: int
    ) -> None:
        """Keep ``state`` (at ``hospital_id``) for ``ttl_s`` seconds."""
        ...

    async def withdraw(self, doctor_id: uuid.UUID) -> None:
        """Forget the doctor's presence at once (they went offline)."""
        ...

    async def refresh(self, doctor_id: uuid.UUID, *, ttl_s: int) -> bool:
        """Give a live presence a whole ``ttl_s`` again; False when it had already expired."""
        ...

    async def states(self, doctor_ids: Sequence[uuid.UUID]) -> list[str | None]:
        """Each doctor's live state, in order (None: no presence), in one round trip."""
        ...
