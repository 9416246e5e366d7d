"""Bookable slots: weekly templates laid over real dates, minus what is already booked. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Template:
    """One weekly schedule line: weekday 0 = Monday, wall-clock start and end, slot length."""

    hospital_id: uuid.UUID
    weekday: int
    start: time
    end: time
    slot_minutes: int


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable interval, in UTC."""

    start: datetime
    end: datetime
    hospital_id: uuid.UUID


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def template_slots(
    templates: Iterable[Template], *, start: datetime, end: datetime, zone: ZoneInfo
) -> list[Slot]:
    """Every slot the templates define that starts within [start, end)."""
    result: list[Slot] = []
    templates = list(templates)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    for day in _days(first, last):
        for line in templates:
            if line.weekday != day.weekday():
                continue
            cursor = datetime.combine(day, line.start, tzinfo=zone)
            stop = datetime.combine(day, line.end, tzinfo=zone)
            step = timedelta(minutes=line.slot_minutes)
            while cursor + step <= stop:
                slot_start = cursor.astimezone(UTC)
                if start <= slot_start < end:
                    slot_end = (cursor + step).astimezone(UTC)
                    result.append(Slot(slot_start, slot_end, line.hospital_id))
                cursor += step
    return sorted(set(result))


def free_slots(
    templates: Iterable[Template],
    booked: Iterable[tuple[datetime, datetime]],
    *,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> list[Slot]:
    """Template slots that overlap no booked interval."""
    taken = list(booked)
    return [
        slot
        for slot in template_slots(templates, start=start, end=end, zone=zone)
        if not any(b_start < slot.end and slot.start < b_end for b_start, b_end in taken)
    ]


def slot_at(
    templates: Iterable[Template], *, hospital_id: uuid.UUID, start: datetime, zone: ZoneInfo
) -> Slot | None:
    """The template slot starting exactly at ``start`` in that hospital, if any."""
    window_end = start + timedelta(seconds=1)
    for slot in template_slots(templates, start=start, end=window_end, zone=zone):
        if slot.start == start and slot.hospital_id == hospital_id:
            return slot
    return None
