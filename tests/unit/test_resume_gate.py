"""The replay/live merge: every seq once, in order, whatever the interleaving (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from realtime.resume import SeqGate


@dataclass(frozen=True)
class E:
    seq: int


def test_live_events_wait_for_the_replay_and_duplicates_are_dropped() -> None:
    gate: SeqGate[E] = SeqGate(3, replaying=True)
    assert gate.live(E(6)) == [] and gate.live(E(7)) == []
    shown = [e.seq for e in (E(4), E(5), E(6)) if gate.replayed(e)]
    assert shown == [4, 5, 6]
    assert [e.seq for e in gate.finish_replay()] == [7]
    assert gate.live(E(7)) == [] and [e.seq for e in gate.live(E(8))] == [8]
    assert gate.position == 8


def test_without_last_seq_starts_at_the_head() -> None:
    gate: SeqGate[E] = SeqGate(10, replaying=False)
    assert gate.live(E(9)) == [] and gate.live(E(10)) == []
    assert [e.seq for e in gate.live(E(11))] == [11]


@given(
    last_seq=st.integers(0, 20),
    total=st.integers(0, 60),
    data=st.data(),
)
def test_any_interleaving_yields_each_missed_seq_once_in_order(last_seq, total, data) -> None:
    """The replay covers (last_seq, r]; the live feed delivers (l, total] with l <= r (overlap)."""
    head = last_seq + total
    replay_end = data.draw(st.integers(last_seq, head), label="replay_end")
    live_start = data.draw(st.integers(last_seq, replay_end), label="live_start")
    replay = [E(s) for s in range(last_seq + 1, replay_end + 1)]
    live = [E(s) for s in range(live_start + 1, head + 1)]
    # The live feed is a single ordered stream; how it interleaves with the replay is arbitrary.
    cut = data.draw(st.integers(0, len(live)), label="live_during_replay")
    during, after = live[:cut], live[cut:]
    order = data.draw(st.permutations(["r"] * len(replay) + ["l"] * len(during)), label="order")
    gate: SeqGate[E] = SeqGate(last_seq, replaying=True)
    shown: list[int] = []
    replay_iter, during_iter = iter(replay), iter(during)
    for source in order:
        if source == "r":
            event = next(replay_iter)
            if gate.replayed(event):
                shown.append(event.seq)
        else:
            shown.extend(e.seq for e in gate.live(next(during_iter)))
    shown.extend(e.seq for e in gate.finish_replay())
    for event in after:
        shown.extend(e.seq for e in gate.live(event))
    assert shown == list(range(last_seq + 1, head + 1))
