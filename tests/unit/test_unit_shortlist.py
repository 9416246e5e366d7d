"""The straight-line shortlist of units routed for a recommendation."""

from __future__ import annotations

import random
import uuid
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from dispatch.fleet import LivePosition, shortlist_by_air


def fleet(points):
    units = [SimpleNamespace(id=uuid.uuid4()) for _ in points]
    positions = {u.id: LivePosition(lat, lng, None, False, False) for u, (lat, lng) in
                 zip(units, points, strict=True)}
    return units, positions


@given(st.lists(st.tuples(st.floats(33.5, 33.8), st.floats(72.9, 73.2)), min_size=1,
                max_size=60), st.integers(1, 30))
def test_the_shortlist_is_the_n_nearest_in_their_original_order(points, n):
    units, positions = fleet(points)
    lat, lng = 33.65, 73.05
    chosen = shortlist_by_air(units, positions, lat, lng, n)
    assert len(chosen) == min(n, len(units))
    assert chosen == [u for u in units if u in chosen]  # order kept (call sign order upstream)
    if len(units) > n:
        def d2(u):
            p = positions[u.id]
            return ((p.lng - lng) * 0.832) ** 2 + (p.lat - lat) ** 2
        worst_in = max(d2(u) for u in chosen)
        best_out = min(d2(u) for u in units if u not in chosen)
        assert worst_in <= best_out * 1.001


def test_a_small_fleet_is_routed_whole():
    units, positions = fleet([(33.6 + random.random() / 10, 73.0) for _ in range(5)])
    assert shortlist_by_air(units, positions, 33.65, 73.05, 25) == units


def test_the_nearest_of_each_type_is_routed_too():
    """Thirty BLS units nearer than the only ALS: a cardiac-arrest plan still finds the ALS."""
    units, positions = fleet([(33.65 + i / 10_000, 73.05) for i in range(30)] + [(33.66, 73.05)])
    for u in units[:-1]:
        u.unit_type = "BLS"
    units[-1].unit_type = "ALS"
    chosen = shortlist_by_air(units, positions, 33.65, 73.05, 25, per_type=3)
    assert units[-1] in chosen and len(chosen) == 26
    assert chosen == [u for u in units if u in chosen]
    assert shortlist_by_air(units, positions, 33.65, 73.05, 25) == units[:25]
