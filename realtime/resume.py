"""Merging a replay with the live events that arrive while it runs: no gap, no duplicate.

Pure: works on anything with an integer ``seq``, so it is unit-tested without Redis.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class Sequenced(Protocol):
    """Anything numbered within its channel."""

    @property
    def seq(self) -> int: ...


E = TypeVar("E", bound=Sequenced)


class SeqGate(Generic[E]):
    """Passes each seq of a channel at most once, in increasing order.

    While a replay runs, live events are held back; :meth:`finish_replay` releases those
    the replay did not already cover. ``position`` is the last seq passed on (or skipped
    as covered), i.e. what a client should resume from.
    """

    def __init__(self, position: int | None, *, replaying: bool) -> None:
        self.position = position
        self.replaying = replaying
        self._held: list[E] = []

    @property
    def held(self) -> int:
        """Live events waiting for the replay to finish."""
        return len(self._held)

    def _advance(self, event: E) -> bool:
        if self.position is not None and event.seq <= self.position:
            return False
        self.position = event.seq
        return True

    def replayed(self, event: E) -> bool:
        """Whether a replayed event is new (and so must be shown)."""
        return self._advance(event)

    def live(self, event: E) -> list[E]:
        """The events to show now that ``event`` arrived live."""
        if self.replaying:
            self._held.append(event)
            return []
        return [event] if self._advance(event) else []

    def finish_replay(self) -> list[E]:
        """End the replay: the held live events it did not cover, in order."""
        self.replaying = False
        held, self._held = sorted(self._held, key=lambda e: e.seq), []
        return [event for event in held if self._advance(event)]
