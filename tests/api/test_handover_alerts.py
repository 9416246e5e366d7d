"""Handover delays (README: alerts at 15 and 45 minutes at hospital without handover)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from data.base import utcnow
from dispatch import alerts
from dispatch.models import EmergencyDispatch
from dispatch.settings import get_dispatch_settings
from tests.api.test_dispatch_end_to_end import (
    CASES,
    crew_token_from,
    raise_and_triage,
    wait_for,
)
from tests.conftest import add_unit, random_phone


async def at_hospital_since(fleet_app, case_id: str, minutes: float) -> None:
    """Move the unit's arrival at hospital into the past (the clock is the database's row)."""
    async with fleet_app.state.session_factory() as session:
        await session.execute(
            update(EmergencyDispatch)
            .where(EmergencyDispatch.case_id == uuid.UUID(case_id))
            .values(at_hospital_at=utcnow() - timedelta(minutes=minutes))
        )
        await session.commit()


async def sweep(fleet_app) -> int:
    async with fleet_app.state.session_factory() as session:
        return await alerts.sweep_handover_alerts(
            db_session=session, settings=fleet_app.state.dispatch_settings
        )


async def handover_alerts(client, headers, case_id: str) -> list[dict]:
    view = (await client.get(f"{CASES}/{case_id}", headers=headers)).json()
    return [a for a in view["alerts"] if a["kind"] == "handover_delay"]


async def test_a_unit_waiting_at_hospital_raises_amber_then_red_then_stops(
    fleet_app, fleet_client, dispatcher, twilio
):
    client, h = fleet_client, dispatcher.headers
    settings = get_dispatch_settings()
    assert (settings.handover_amber_minutes, settings.handover_red_minutes) == (15, 45)
    phone = random_phone()
    unit = await add_unit(client, h, phones=[phone])
    case = await raise_and_triage(client, h)
    r = await client.post(f"{CASES}/{case['id']}/dispatch", json={"unit_id": unit["id"]},
                          headers=h)
    assert r.status_code == 200, r.text
    token = crew_token_from((await wait_for(lambda: twilio.messages_to(phone)))[0]["form"]["Body"])
    for status in ("en_route", "on_scene", "transporting", "at_hospital"):
        r = await client.post(f"/api/v1/crew/{token}/status", json={"status": status})
        assert r.status_code == 200, r.text

    await at_hospital_since(fleet_app, case["id"], 14)
    await sweep(fleet_app)
    assert await handover_alerts(client, h, case["id"]) == []

    await at_hospital_since(fleet_app, case["id"], 16)
    assert await sweep(fleet_app) >= 1
    [amber] = await handover_alerts(client, h, case["id"])
    assert amber["level"] == "amber" and "waiting 16 min at hospital" in amber["message"]
    view = (await client.get(f"{CASES}/{case['id']}", headers=h)).json()
    assert view["dispatch"]["handover_alert"] == "amber"
    await sweep(fleet_app)
    assert len(await handover_alerts(client, h, case["id"])) == 1  # not raised twice

    await at_hospital_since(fleet_app, case["id"], 46)
    await sweep(fleet_app)
    levels = [a["level"] for a in await handover_alerts(client, h, case["id"])]
    assert levels.count("red") == 1 and "waiting 46 min" in str(
        await handover_alerts(client, h, case["id"])
    )

    done = await client.post(f"/api/v1/crew/{token}/status", json={"status": "handover_complete"})
    assert done.status_code == 200 and done.json()["case_status"] == "closed"
    before = await handover_alerts(client, h, case["id"])
    await sweep(fleet_app)
    assert await handover_alerts(client, h, case["id"]) == before
