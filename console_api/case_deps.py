"""The case a caller may read, loaded and authorised once for every route that reads a case.

After Netflix Dispatch's ``CurrentIncident``: a route takes ``case: ReadableCase`` and never
repeats the rule. The rule itself is :func:`identity.authz.case_read_grant`, which the live
fan-out (:func:`realtime.authz.can_read_case`) applies to every case event too.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from console_api.audit_trail import note_audit
from console_api.deps import IdentitySettingsDep, OptionalClaims, SessionDep, actor_of
from data.errors import Forbidden, NotFound, Unauthenticated
from dispatch import alerts
from dispatch import service as case_service
from dispatch.case_tokens import verify_case_token
from dispatch.models import EmergencyCase
from identity import authz
from identity import service as identity_service

CaseTokenHeader = Annotated[
    str | None,
    Header(alias="X-Case-Token", description="the anonymous reporter's token for this one case"),
]
BreakGlassHeader = Annotated[
    str | None,
    Header(alias="X-Break-Glass-Reason", max_length=500,
           description="operators and doctors: why you open a case outside your rules"),
]


def check_case_token(case_id: uuid.UUID, case_token: str | None, secret: str) -> None:
    """The anonymous reporter may read only the case their token was issued for."""
    if case_token is None:
        raise Unauthenticated(
            "send a bearer token, or the case's X-Case-Token", code="missing_token"
        )
    if not verify_case_token(case_id, case_token, secret=secret):
        raise Forbidden("this case token is not valid for this case", code="invalid_case_token")


async def _authorised_case(
    *,
    request: Request,
    db_session: SessionDep,
    case_id: uuid.UUID,
    secret: str,
    claims: OptionalClaims,
    case_token: str | None,
    break_glass_reason: str | None,
) -> EmergencyCase:
    """The token is checked before the database is asked; a denial looks like no case."""
    if claims is None:
        check_case_token(case_id, case_token, secret)
    case = await case_service.get_case(db_session=db_session, case_id=case_id)
    if claims is None:
        return case
    facts = authz.CaseFacts(
        created_by=case.created_by,
        patient_user_id=await identity_service.patient_user_id(
            db_session=db_session, patient_id=case.patient_id
        ),
        destination_hospital_id=case.destination_hospital_id,
    )
    grant = authz.case_read_grant(
        roles=claims.roles, user_id=claims.user_id, hospital_id=claims.hospital_id, case=facts,
        break_glass_reason=break_glass_reason,
    )
    note_audit(request, patient_id=case.patient_id, grant=grant.value, reason=break_glass_reason)
    if grant is authz.Grant.DENIED:
        request.state.denied = "object_forbidden"
        raise NotFound("no such case", code="case_not_found")
    if grant is authz.Grant.BREAK_GLASS:
        await alerts.break_glass_opened(
            db_session=db_session, case=case, actor=actor_of(claims).label
        )
    return case


async def readable_case(
    case_id: uuid.UUID,
    request: Request,
    db_session: SessionDep,
    settings: IdentitySettingsDep,
    claims: OptionalClaims,
    x_case_token: CaseTokenHeader = None,
    break_glass: BreakGlassHeader = None,
) -> EmergencyCase:
    """Operators any case; hospital staff cases bound to their hospital; a patient their own;
    the anonymous reporter the case of their token; operators and doctors by breaking glass."""
    return await _authorised_case(
        request=request, db_session=db_session, case_id=case_id, secret=settings.secret_key,
        claims=claims, case_token=x_case_token, break_glass_reason=break_glass,
    )


async def reportable_case(
    case_id: uuid.UUID,
    request: Request,
    db_session: SessionDep,
    settings: IdentitySettingsDep,
    claims: OptionalClaims,
    x_case_token: CaseTokenHeader = None,
) -> EmergencyCase:
    """Who may add to a case what its phone reports: whoever may read it under the standing
    rules. Breaking glass opens a case to read, never to write."""
    return await readable_case(
        case_id, request, db_session, settings, claims, x_case_token, break_glass=None
    )


ReadableCase = Annotated[EmergencyCase, Depends(readable_case)]
ReportableCase = Annotated[EmergencyCase, Depends(reportable_case)]
