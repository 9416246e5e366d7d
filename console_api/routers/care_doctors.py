"""Doctors: search, profiles, departments, affiliations, schedules, slots, presence, dashboard."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from care import availability, doctors, portal, schedules
from care.schemas import (
    AffiliationCreate,
    AvailabilityUpdate,
    DepartmentCreate,
    DoctorCreate,
    DoctorView,
    MyScheduleCreate,
    ScheduleCreate,
    ScheduleView,
)
from console_api.care_deps import RequesterDep
from console_api.deps import CareSettingsDep, PresenceDep, SessionDep
from console_api.schemas.care_doctors import (
    AffiliationAccepted,
    AvailabilitySet,
    DashboardMetrics,
    DepartmentView,
    DoctorAttached,
    HeartbeatAnswer,
    MyDoctorProfile,
    RosterDoctor,
    ScheduleLine,
    Slot,
)
from data.base import utcnow
from data.errors import InvalidInput

router = APIRouter(tags=["care: doctors"])


@router.get("/api/v1/doctors", response_model=list[DoctorView], summary="Find a doctor")
async def search_doctors(
    db_session: SessionDep,
    presence: PresenceDep,
    city: Annotated[str | None, Query(max_length=100)] = None,
    specialty: Annotated[str | None, Query(max_length=100)] = None,
    language: Annotated[str | None, Query(max_length=32)] = None,
    available_now: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DoctorView]:
    """By city of an affiliated hospital, specialty and language; live presence from Redis."""
    return await doctors.search(
        db_session=db_session, presence=presence, city=city, specialty=specialty, language=language,
        available_now=available_now, limit=limit,
    )


@router.post("/api/v1/doctors", response_model=DoctorView, status_code=status.HTTP_201_CREATED,
             summary="Create a doctor profile (hospital admin)")
async def create_doctor(body: DoctorCreate, db_session: SessionDep, requester: RequesterDep
                        ) -> DoctorView:
    """The licence number is unique; a duplicate is a 409."""
    doctor = await doctors.create_doctor(db_session=db_session, requester=requester, body=body)
    return doctors.view(doctor, state="offline", hospitals=[])


@router.get("/api/v1/doctors/me", response_model=MyDoctorProfile,
            summary="My doctor profile, affiliations and schedule")
async def my_profile(db_session: SessionDep, presence: PresenceDep, requester: RequesterDep
                     ) -> dict[str, Any]:
    """Declared before ``{doctor_id}``; pending affiliations show ``accepted_at: null``."""
    return await portal.my_doctor_profile(db_session=db_session, presence=presence,
                                          requester=requester)


@router.get("/api/v1/doctors/{doctor_id}", response_model=DoctorView, summary="One doctor")
async def read_doctor(
    doctor_id: uuid.UUID, db_session: SessionDep, presence: PresenceDep
) -> DoctorView:
    """Public profile with affiliations and live availability."""
    return await doctors.read_doctor(db_session=db_session, presence=presence, doctor_id=doctor_id)


@router.post("/api/v1/doctors/{doctor_id}/verify", response_model=DoctorView,
             summary="Mark a doctor's licence as checked (super admin)")
async def verify_doctor(doctor_id: uuid.UUID, db_session: SessionDep, requester: RequesterDep
                        ) -> DoctorView:
    """Only a super admin verifies."""
    doctor = await doctors.verify_doctor(db_session=db_session, requester=requester,
                                         doctor_id=doctor_id)
    return doctors.view(doctor, state="offline", hospitals=[])


@router.get("/api/v1/doctors/{doctor_id}/slots", response_model=list[Slot],
            summary="Free slots of a doctor")
async def slots(
    care_settings: CareSettingsDep,
    doctor_id: uuid.UUID,
    db_session: SessionDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    hospital_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """Schedule templates minus live bookings; default the next 7 days."""
    for value, name in ((start, "from"), (end, "to")):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a timezone", field=name)
    start = start or utcnow()
    found = await doctors.open_slots(
        db_session=db_session, doctor_id=doctor_id, start=start,
        end=end or start + timedelta(days=7), hospital_id=hospital_id, settings=care_settings,
    )
    return [{"start": s.start.isoformat(), "end": s.end.isoformat(),
             "hospital_id": str(s.hospital_id)} for s in found]


@router.put("/api/v1/doctors/me/availability", response_model=AvailabilitySet,
            summary="Set my availability (doctor app)")
async def set_availability(care_settings: CareSettingsDep, body: AvailabilityUpdate,
                           db_session: SessionDep, presence: PresenceDep,
                           requester: RequesterDep) -> dict[str, Any]:
    """available / busy / offline / in_emergency; kept alive by heartbeats."""
    return await availability.announce(
        db_session=db_session, presence=presence, user_id=requester.user_id, state=body.state,
        hospital_id=body.hospital_id, settings=care_settings,
    )


@router.post("/api/v1/doctors/me/heartbeat", response_model=HeartbeatAnswer,
             summary="Doctor app heartbeat")
async def heartbeat(care_settings: CareSettingsDep, db_session: SessionDep, presence: PresenceDep,
                    requester: RequesterDep) -> dict[str, Any]:
    """Keeps the announced state alive; silence longer than the TTL means offline."""
    return await availability.beat(
        db_session=db_session, presence=presence, user_id=requester.user_id,
        settings=care_settings,
    )


@router.post("/api/v1/hospitals/{hospital_id}/departments", response_model=DepartmentView,
             status_code=status.HTTP_201_CREATED,
             summary="Open a department (hospital admin)")
async def add_department(hospital_id: uuid.UUID, body: DepartmentCreate, db_session: SessionDep,
                         requester: RequesterDep) -> dict[str, Any]:
    """Only this hospital's admin."""
    department = await doctors.add_department(
        db_session=db_session, requester=requester, hospital_id=hospital_id, name=body.name
    )
    return {"id": str(department.id), "hospital_id": str(hospital_id), "name": department.name}


@router.get("/api/v1/hospitals/{hospital_id}/departments", response_model=list[DepartmentView],
            summary="A hospital's departments")
async def list_departments(hospital_id: uuid.UUID, db_session: SessionDep) -> list[dict[str, Any]]:
    """Public."""
    rows = await doctors.list_departments(db_session=db_session, hospital_id=hospital_id)
    return [{"id": str(d.id), "hospital_id": str(hospital_id), "name": d.name} for d in rows]


@router.post("/api/v1/hospitals/{hospital_id}/doctors", response_model=DoctorAttached,
             status_code=status.HTTP_201_CREATED,
             summary="Attach a doctor to a department (hospital admin)")
async def attach_doctor(hospital_id: uuid.UUID, body: AffiliationCreate, db_session: SessionDep,
                        requester: RequesterDep) -> dict[str, Any]:
    """Idempotent: attaching twice changes nothing but ``is_primary``."""
    link = await doctors.attach_doctor(
        db_session=db_session, requester=requester, hospital_id=hospital_id, body=body
    )
    return {"doctor_id": str(link.doctor_id), "hospital_id": str(link.hospital_id),
            "department_id": str(link.department_id), "is_primary": link.is_primary,
            "accepted": link.accepted_at is not None}


@router.get("/api/v1/hospitals/{hospital_id}/doctors", response_model=list[RosterDoctor],
            summary="Doctors attached to a hospital, with their schedules (hospital admin)")
async def roster(hospital_id: uuid.UUID, db_session: SessionDep, presence: PresenceDep,
                 requester: RequesterDep) -> list[dict[str, Any]]:
    """Only this hospital's admin; pending attachments show ``accepted_at: null``."""
    return await portal.hospital_roster(db_session=db_session, presence=presence,
                                        requester=requester, hospital_id=hospital_id)


@router.post("/api/v1/doctors/me/affiliations/{hospital_id}/accept",
             response_model=AffiliationAccepted,
             summary="Accept a hospital's affiliation (the doctor)")
async def accept_affiliation(hospital_id: uuid.UUID, db_session: SessionDep,
                             requester: RequesterDep) -> dict[str, Any]:
    """Until the doctor accepts, the hospital's bookings give them no access to any chart."""
    links = await doctors.accept_affiliation(
        db_session=db_session, requester=requester, hospital_id=hospital_id
    )
    return {"hospital_id": str(hospital_id),
            "department_ids": [str(link.department_id) for link in links],
            "accepted_at": links[0].accepted_at.isoformat() if links[0].accepted_at else None}


@router.post("/api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules",
             response_model=ScheduleLine,
             status_code=status.HTTP_201_CREATED,
             summary="Add a weekly schedule line (hospital admin)")
async def add_schedule(hospital_id: uuid.UUID, doctor_id: uuid.UUID, body: ScheduleCreate,
                       db_session: SessionDep, requester: RequesterDep) -> dict[str, Any]:
    """Weekday 0 = Monday; times are local wall-clock times of the clinic."""
    line = await schedules.add_schedule(
        db_session=db_session, requester=requester, hospital_id=hospital_id,
        doctor_id=doctor_id, body=body,
    )
    return {"id": str(line.id), "doctor_id": str(doctor_id), "hospital_id": str(hospital_id),
            "weekday": line.weekday, "start_time": line.start_time.isoformat(),
            "end_time": line.end_time.isoformat(), "slot_minutes": line.slot_minutes}


@router.delete("/api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules/{schedule_id}",
               status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a weekly schedule line (hospital admin)")
async def delete_schedule(hospital_id: uuid.UUID, doctor_id: uuid.UUID, schedule_id: uuid.UUID,
                          db_session: SessionDep, requester: RequesterDep) -> None:
    """Never removes appointments already booked in the line; only its future free slots go."""
    await schedules.delete_schedule(
        db_session=db_session, requester=requester, hospital_id=hospital_id,
        doctor_id=doctor_id, schedule_id=schedule_id,
    )


@router.post("/api/v1/doctors/me/schedules", response_model=ScheduleView,
             status_code=status.HTTP_201_CREATED,
             summary="Add a line to my weekly schedule (the doctor)")
async def add_my_schedule(body: MyScheduleCreate, db_session: SessionDep,
                          requester: RequesterDep) -> ScheduleView:
    """Only at a hospital whose affiliation the doctor accepted; no overlap with other lines."""
    line = await schedules.add_my_schedule(db_session=db_session, requester=requester,
                                           body=body)
    return ScheduleView.model_validate(line, from_attributes=True)


@router.delete("/api/v1/doctors/me/schedules/{schedule_id}",
               status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a line of my weekly schedule (the doctor)")
async def delete_my_schedule(schedule_id: uuid.UUID, db_session: SessionDep,
                             requester: RequesterDep) -> None:
    """Never removes appointments already booked in the line; only its future free slots go."""
    await schedules.delete_my_schedule(db_session=db_session, requester=requester,
                                       schedule_id=schedule_id)


@router.get("/api/v1/hospitals/{hospital_id}/dashboard-metrics", response_model=DashboardMetrics,
            summary="Today's appointments, no-shows, open emergency cases, ED status")
async def dashboard(care_settings: CareSettingsDep, hospital_id: uuid.UUID,
                    db_session: SessionDep, requester: RequesterDep
                    ) -> dict[str, Any]:
    """This hospital's admins and the dispatch room."""
    return await doctors.dashboard_metrics(
        db_session=db_session, requester=requester, hospital_id=hospital_id, settings=care_settings
    )
