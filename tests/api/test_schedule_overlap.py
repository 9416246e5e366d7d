"""Two overlapping weekly lines of one doctor never both exist, even when added at the same
instant (issue 25): the exclusion constraint decides, and the loser gets a clear 409."""

from __future__ import annotations

import asyncio
import uuid
from datetime import time

import pytest
from sqlalchemy.exc import IntegrityError

from care.models import DoctorSchedule
from care.schedules import _insert_line
from care.schemas import ScheduleCreate
from data.errors import Conflict
from tests.api.test_doctor_schedules import ME, MINE, clear_week, line
from tests.support.care import make_clinic


def admin_add_url(clinic) -> str:
    return f"/api/v1/hospitals/{clinic.hospital_id}/doctors/{clinic.doctor_id}/schedules"


async def test_overlapping_adds_at_once_leave_one_line(app, client):
    clinic = await make_clinic(app, client)
    await clear_week(client, clinic)
    adds = [client.post(MINE, json=line(clinic, start_time=f"09:{m:02d}", end_time="11:00"),
                        headers=clinic.doctor.headers) for m in (0, 10)]
    adds += [client.post(admin_add_url(clinic), headers=clinic.admin.headers,
                         json={k: v for k, v in line(clinic, start_time=f"10:{m:02d}").items()
                               if k != "hospital_id"}) for m in (0, 30)]
    answers = await asyncio.gather(*adds)
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    for refused in (r for r in answers if r.status_code == 409):
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "schedule_overlap"
        assert "overlaps" in refused.json()["detail"]
    lines = (await client.get(ME, headers=clinic.doctor.headers)).json()["schedules"]
    assert len([s for s in lines if s["weekday"] == 2]) == 1


async def test_the_database_refuses_the_race_the_check_cannot_see(app, client):
    """Session A holds an uncommitted line; B's pre-check cannot see it, so only the
    constraint can refuse B: B waits on A's commit, then gets a 409, not a second line."""
    clinic = await make_clinic(app, client)
    await clear_week(client, clinic)
    doctor_id, hospital_id = uuid.UUID(clinic.doctor_id), uuid.UUID(clinic.hospital_id)
    body = ScheduleCreate(weekday=4, start_time=time(8), end_time=time(12), slot_minutes=15)
    async with app.state.session_factory() as a, app.state.session_factory() as b:
        a.add(DoctorSchedule(doctor_id=doctor_id, hospital_id=hospital_id, weekday=4,
                             start_time=time(11), end_time=time(13), slot_minutes=15))
        await a.flush()
        racer = asyncio.create_task(_insert_line(b, doctor_id, hospital_id, body))
        await asyncio.sleep(0.5)
        assert not racer.done()  # blocked on A's row by the constraint
        await a.commit()
        with pytest.raises(Conflict) as refused:
            await racer
        assert refused.value.code == "schedule_overlap"
    # Touching lines (end == start) are not an overlap; a plain insert past the check is refused.
    async with app.state.session_factory() as c:
        c.add(DoctorSchedule(doctor_id=doctor_id, hospital_id=hospital_id, weekday=4,
                             start_time=time(13), end_time=time(14), slot_minutes=15))
        await c.commit()
        c.add(DoctorSchedule(doctor_id=doctor_id, hospital_id=hospital_id, weekday=4,
                             start_time=time(12, 30), end_time=time(15), slot_minutes=15))
        with pytest.raises(IntegrityError) as clash:
            await c.commit()
        assert clash.value.orig.sqlstate == "23P01"
        assert "ex_doctor_schedules_no_overlap" in str(clash.value.orig)
