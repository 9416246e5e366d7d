"""Resolve a signed-in user to the patient and doctor rows the access rules need."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care.access import Requester
from care.models import Doctor
from identity.models import Patient


async def resolve(
    *,
    db_session: AsyncSession,
    user_id: uuid.UUID,
    roles: frozenset[str],
    hospital_id: uuid.UUID | None,
) -> Requester:
    """The caller with their own patient id and doctor id (either may be None)."""
    patient_id = await db_session.scalar(select(Patient.id).where(Patient.user_id == user_id))
    doctor_id = await db_session.scalar(select(Doctor.id).where(Doctor.user_id == user_id))
    return Requester(
        user_id=user_id,
        roles=roles,
        hospital_id=hospital_id,
        patient_id=patient_id,
        doctor_id=doctor_id,
    )
