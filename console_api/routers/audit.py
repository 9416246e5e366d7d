"""The audit trail of one patient, for super admins; reading it is itself audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from console_api.audit_trail import note_audit
from console_api.deps import SessionDep
from identity import audit

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditRow(BaseModel):
    """One link of the chain."""

    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    patient_id: uuid.UUID | None
    purpose: str | None
    outcome: str
    ip: str | None
    priority: bool
    details: dict[str, Any]
    previous_hash: str
    record_hash: str


@router.get("/audit", response_model=list[AuditRow], summary="Who touched a patient's data")
async def patient_audit(
    request: Request,
    db_session: SessionDep,
    patient_id: Annotated[uuid.UUID, Query(description="the patient")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
) -> list[AuditRow]:
    """Newest first; page with ``before_seq``. Access is per the route table (super admin)."""
    note_audit(request, patient_id=patient_id)
    rows = await audit.for_patient(
        db_session=db_session, patient_id=patient_id, limit=limit, before_seq=before_seq
    )
    return [
        AuditRow.model_validate({**row.__dict__, "ip": str(row.ip) if row.ip else None})
        for row in rows
    ]
