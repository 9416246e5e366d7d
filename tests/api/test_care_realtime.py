"""Care events reach subscribers through the outbox relay, filtered by the existing authz rules."""

from __future__ import annotations

import asyncio

from tests.support.care import free_slots, make_patient

EVENTS = "/api/v1/realtime/events"


async def wait_for(client, headers, channel, predicate, *, hospital_id=None, within_s=15.0):
    """Long-poll ``channel`` from the start until an event matching ``predicate`` arrives."""
    after, loop = 0, asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        params = {"channel": channel, "after": after, "timeout": 2}
        if hospital_id:
            params["hospital_id"] = hospital_id
        r = await client.get(EVENTS, params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        for event in page["events"]:
            if predicate(event["data"]):
                return event
        after = page["last_seq"]
    raise AssertionError(f"no matching event on {channel} within {within_s} s")


async def test_availability_and_queue_events_reach_the_hospital_admin(app, client, clinic):
    admin = clinic.admin.headers
    r = await client.put("/api/v1/doctors/me/availability", headers=clinic.doctor.headers,
                         json={"state": "available", "hospital_id": clinic.hospital_id})
    assert r.status_code == 200
    event = await wait_for(client, admin, "doctor.availability.updated",
                           lambda d: d["doctor_id"] == clinic.doctor_id,
                           hospital_id=clinic.hospital_id)
    assert event["data"]["state"] == "available"

    patient = await make_patient(app, client)
    slot = (await free_slots(client, clinic, days_ahead=0))[0]
    made = await client.post("/api/v1/appointments", headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"], "start": slot["start"]})
    appointment_id = made.json()["id"]
    r = await client.post(f"/api/v1/appointments/{appointment_id}/check-in", headers=admin)
    assert r.status_code == 200
    event = await wait_for(client, admin, "appointment.queue.updated",
                           lambda d: d["appointment_id"] == appointment_id)
    assert event["data"]["queue"] == [appointment_id]
    # Patients follow queue lengths (their app's live position, issue 25), never whose
    # appointments are in a queue: no appointment ids, no status.
    seen = await wait_for(client, patient.headers, "appointment.queue.updated",
                          lambda d: d["doctor_id"] == clinic.doctor_id)
    assert seen["data"] == {"doctor_id": clinic.doctor_id, "hospital_id": clinic.hospital_id,
                            "date": event["data"]["date"], "queue_length": 1}
