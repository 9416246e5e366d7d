"""The speed model never produces an impossible ETA, whatever OSM contributors typed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.speeds import (
    DEFAULT_SPEED_KMH,
    FALLBACK_SPEED_KMH,
    default_speed_kmh,
    parse_maxspeed,
    travel_time_s,
)


@pytest.mark.parametrize(
    ("raw", "highway", "expected"),
    [
        ("50", "primary", 50.0),
        ("50 km/h", "primary", 50.0),
        ("30 mph", "residential", 30 * 1.609344),
        ("30mph", "residential", 30 * 1.609344),
        ("50;30", "secondary", 30.0),
        ("FI:urban", "secondary", 50.0),
        ("DE:rural", "secondary", 80.0),
        ("RU:living_street", "residential", 10.0),
        ("none", "motorway", DEFAULT_SPEED_KMH["motorway"]),
        ("signals", "trunk", DEFAULT_SPEED_KMH["trunk"]),
        ("garbage!!", "tertiary", DEFAULT_SPEED_KMH["tertiary"]),
        ("", "service", DEFAULT_SPEED_KMH["service"]),
        ("0", "residential", DEFAULT_SPEED_KMH["residential"]),
        ("900", "residential", DEFAULT_SPEED_KMH["residential"]),
        (None, "living_street", DEFAULT_SPEED_KMH["living_street"]),
        (float("nan"), "primary_link", DEFAULT_SPEED_KMH["primary_link"]),
        (60, "primary", 60.0),
        ("40", None, 40.0),
        (None, "unknown_class", FALLBACK_SPEED_KMH),
        (None, "primary;secondary", DEFAULT_SPEED_KMH["primary"]),
    ],
)
def test_parse_maxspeed_examples(raw: object, highway: object, expected: float) -> None:
    assert parse_maxspeed(raw, highway) == pytest.approx(expected)


def test_every_documented_class_has_a_sane_speed() -> None:
    for highway in DEFAULT_SPEED_KMH:
        assert 5 <= default_speed_kmh(highway) <= 130
    assert default_speed_kmh("motorway_link") < default_speed_kmh("motorway")


def test_travel_time_is_length_over_speed() -> None:
    assert travel_time_s(1000.0, 36.0) == pytest.approx(100.0)


@given(
    raw=st.one_of(
        st.none(),
        st.text(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.booleans(),
        st.lists(st.text()),
        st.from_regex(r"[A-Z]{2}:[a-z_]{0,12}", fullmatch=True),
        st.from_regex(r"\d{1,4}( ?(mph|km/h|knots))?(;\d{1,3})?", fullmatch=True),
    ),
    highway=st.one_of(st.none(), st.text(), st.sampled_from(sorted(DEFAULT_SPEED_KMH))),
)
def test_parse_maxspeed_never_raises_and_is_positive_finite(raw: object, highway: object) -> None:
    speed = parse_maxspeed(raw, highway)
    assert math.isfinite(speed)
    assert speed > 0


@pytest.mark.parametrize(
    ("tags", "kmh"),
    [
        ({"highway": "residential"}, 30.0),
        ({"highway": "residential", "maxspeed": "40"}, 40.0),
        ({"highway": "primary", "maxspeed": "FR:rural"}, 80.0),
        ({"highway": "primary", "maxspeed": "DE:rural"}, 100.0),
        ({"highway": "primary", "source:maxspeed": "DE:rural"}, 100.0),
        ({"highway": "primary", "maxspeed:type": "GB:nsl_single"}, 96.6),
        ({"highway": "motorway", "source:maxspeed": "PK:motorway"}, 120.0),
        ({"highway": "primary", "source:maxspeed": "PK:urban"}, 50.0),  # common value
        ({"highway": "primary", "source:maxspeed": "sign"}, 60.0),  # class default
        ({"highway": "primary", "maxspeed": "50", "source:maxspeed": "DE:rural"}, 50.0),
    ],
)
def test_way_speed_reads_country_zones(tags: dict[str, str], kmh: float) -> None:
    from routing.speeds import way_speed_kmh

    assert way_speed_kmh(tags) == pytest.approx(kmh)


def test_emergency_speed_factors_setting() -> None:
    from routing.speeds import emergency_speed_factors

    assert emergency_speed_factors("") == {}
    assert emergency_speed_factors("motorway=1.1, Residential=1.2") == {
        "motorway": 1.1,
        "residential": 1.2,
    }
    for bad in ("motorway", "motorway=fast", "=1.1", "primary=0", "primary=9"):
        with pytest.raises(ValueError, match="LIFELINE_EMERGENCY_SPEED_FACTORS"):
            emergency_speed_factors(bad)
