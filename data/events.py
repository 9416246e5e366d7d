"""The real-time channels, named once: outbox writers and realtime readers both import them."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """A stream of events that clients subscribe to; the value is its name on the wire."""

    CASE = "emergency.case.updated"
    UNIT_POSITION = "unit.position.updated"
    CAPACITY = "hospital.capacity.updated"
    DOCTOR_AVAILABILITY = "doctor.availability.updated"
    APPOINTMENT_QUEUE = "appointment.queue.updated"
    COVERAGE = "coverage.updated"  # fleet_coverage.service writes it; operators see it


#: Published straight to Redis by dispatch.position_ingest: no outbox rows, no database replay.
EPHEMERAL_CHANNELS = frozenset({Channel.UNIT_POSITION})
