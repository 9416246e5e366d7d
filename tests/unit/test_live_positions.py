"""The fleet's live hash stores fix times exactly (microseconds), whatever the date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dispatch.position_ingest import parse_live, recorded_us

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.just(UTC))


@given(times, st.floats(-90, 90), st.floats(-180, 180))
def test_a_live_field_reads_back_what_was_stored(at, lat, lng):
    field = f"{recorded_us(at)}|{lat!r}|{lng!r}"
    assert parse_live(field.encode()) == (at, lat, lng)


@given(times, st.integers(1, 10**9))
def test_a_later_fix_has_a_larger_number(at, later_us):
    assert recorded_us(at + timedelta(microseconds=later_us)) > recorded_us(at)
    assert parse_live(None) is None and parse_live(b"") is None
