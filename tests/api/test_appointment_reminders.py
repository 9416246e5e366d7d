"""A due appointment reminder leaves through the same SMS worker and Twilio SDK as crew links.

Here, not in tests/care, so that it shares the one Twilio stub and SMS-sending app of the run.
"""

from __future__ import annotations

import asyncio

from tests.support.care import free_slots, make_clinic, make_patient


async def test_a_reminder_due_now_is_sent_through_twilio(fleet_app, fleet_client, twilio):
    client = fleet_client
    clinic = await make_clinic(fleet_app, client)
    patient = await make_patient(fleet_app, client, name="Reminded Patient")
    slot = (await free_slots(client, clinic, days_ahead=0))[0]  # within 24 h: due at once
    r = await client.post("/api/v1/appointments", headers=patient.headers, json={
        "doctor_id": clinic.doctor_id, "hospital_id": slot["hospital_id"], "start": slot["start"]})
    assert r.status_code == 201, r.text
    for _ in range(100):
        sent = twilio.messages_to(patient.phone)
        if sent:
            break
        await asyncio.sleep(0.1)
    assert len(sent) == 1
    assert sent[0]["form"]["Body"].startswith("Lifeline: reminder of your appointment with Dr.")
