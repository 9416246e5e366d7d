"""The route table: every endpoint names who may call it, and an unlisted endpoint refuses everyone.

To register a new route add ONE line to :data:`ROUTE_ACCESS`, keyed ``"METHOD /path/{param}"``
exactly as the path appears in the OpenAPI schema. The value is either

* an action of :data:`identity.roles.PERMISSIONS` (``"case.read"``): a bearer token whose roles
  allow it (staff tokens must also carry a passed second factor), or
* ``open_(why)``: no role check here, because the route is public or is authorised by a
  capability (crew link, case token, Twilio signature) or an object rule inside its handler, or
* ``signed_in()``: any valid bearer token.

``audit="case"`` (the object type) writes an audit row for every call, allowed or not; use it
for every route that reads or changes a case, a patient record or other personal data. Denials
(401/403) are audited on every route.

Add ``or_capability=True`` to an action when the anonymous holder of a capability token may also
call the route (the handler checks the token). Object-level rules (own hospital, own case) are in
the handlers (a case read: :data:`console_api.case_deps.ReadableCase`);
:mod:`tests.api.test_authorisation_matrix` fails for any route missing here.

This table is the ONE declaration of a route's roles: :func:`enforce_access` applies it app-wide
before any handler runs, so a handler takes ``CurrentClaims`` (who is calling) and never repeats
the action, and the matrix test derives what each principal may call from it alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from console_api.limits import check_api_rate
from data.errors import Forbidden, Unauthenticated
from identity import revocation
from identity.roles import PERMISSIONS, allowed, is_staff
from identity.tokens import AccessClaims, verify_access_token

log = logging.getLogger("lifeline.access")


@dataclass(frozen=True)
class Access:
    """Who may call one route."""

    action: str | None = None
    signed_in: bool = False
    or_capability: bool = False
    why_open: str = ""
    audit: str | None = None

    @property
    def is_open(self) -> bool:
        """No token needed at all (public, or a capability checked in the handler)."""
        return self.action is None and not self.signed_in

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in PERMISSIONS:
            raise ValueError(f"unknown action {self.action!r}: add it to identity.roles")


def needs(action: str, *, or_capability: bool = False, audit: str | None = None) -> Access:
    """A bearer whose roles allow ``action`` (or, if allowed, a capability token)."""
    return Access(action=action, or_capability=or_capability, audit=audit)


def signed_in(*, audit: str | None = None) -> Access:
    """Any valid bearer token; the handler shows only the caller's own data."""
    return Access(signed_in=True, audit=audit)


def open_(why: str, *, audit: str | None = None) -> Access:
    """No role check: public, or authorised in the handler as ``why`` says."""
    return Access(why_open=why, audit=audit)


ROUTE_ACCESS: dict[str, Access] = {
    "GET /health": open_("liveness probe"),
    "GET /health/live": open_("liveness probe"),
    "GET /health/ready": open_("readiness probe"),
    "GET /metrics": open_("loopback scrapers, or metrics.read, checked in the handler"),
    "POST /api/v1/auth/login": open_("credentials + TOTP, rate limited", audit="session"),
    "POST /api/v1/auth/register": open_(
        "anyone may become a patient; throttled like sign-in", audit="session"
    ),
    "POST /api/v1/auth/refresh": open_("refresh token in the body", audit="session"),
    "POST /api/v1/auth/logout": open_("refresh token in the body", audit="session"),
    "POST /api/v1/auth/mfa/enrol": open_("password in the body", audit="session"),
    "POST /api/v1/auth/mfa/activate": open_("password + first code in the body", audit="session"),
    "GET /api/v1/users/me": signed_in(audit="user"),
    "POST /api/v1/emergency/cases": open_("SOS never refused; abuse flagged", audit="case"),
    "GET /api/v1/emergency/cases": needs("case.list", audit="case"),
    "GET /api/v1/emergency/cases/{case_id}": needs("case.read", or_capability=True, audit="case"),
    "GET /api/v1/emergency/cases/{case_id}/routes": needs(
        "case.read", or_capability=True, audit="case"
    ),
    "POST /api/v1/emergency/cases/{case_id}/triage": needs("case.triage", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/dispatch": needs("case.dispatch", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/arrive": needs("case.arrive", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/close": needs("case.close", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/cancel": needs("case.cancel", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/acknowledge": needs("case.acknowledge", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/redirect": needs("case.redirect", audit="case"),
    "GET /api/v1/hospitals": open_("public directory of hospitals"),
    "GET /api/v1/hospitals/{hospital_id}": open_("public directory of hospitals"),
    "PUT /api/v1/hospitals/{hospital_id}/capacity": needs("hospital.capacity"),
    "GET /api/v1/hospitals/{hospital_id}/services": open_("public directory of hospitals"),
    "GET /api/v1/hospitals/have": open_("public directory of hospitals, as EDXL-HAVE"),
    "POST /api/v1/hospitals/have": needs("hospital.capacity"),
    "GET /api/v1/regions/{region}/diversion-policy": signed_in(),
    "PUT /api/v1/regions/{region}/diversion-policy": needs("policy.manage"),
    "PUT /api/v1/hospitals/{hospital_id}/services/{capability}": needs("hospital.capacity"),
    "GET /api/v1/hospitals/{hospital_id}/incoming": needs("hospital.incoming", audit="case"),
    "GET /api/v1/metrics/response-times": needs("metrics.read"),
    "GET /api/v1/routing/route": open_("public road routing"),
    "GET /api/v1/routing/isochrone": needs("unit.read"),
    "POST /api/v1/routing/closures": needs("road.close"),
    "GET /api/v1/routing/closures": open_("closures are public road information"),
    "DELETE /api/v1/routing/closures/{closure_id}": needs("road.close"),
    "POST /api/v1/units": needs("unit.manage"),
    "GET /api/v1/units": needs("unit.read"),
    "GET /api/v1/units/{unit_id}": needs("unit.read"),
    "POST /api/v1/units/{unit_id}/status": needs("unit.manage"),
    "POST /api/v1/units/{unit_id}/position": needs("unit.position", or_capability=True),
    "POST /api/v1/units/{unit_id}/move-up": needs("unit.manage", audit="unit"),
    "GET /api/v1/coverage": needs("coverage.read"),
    "GET /api/v1/coverage/regions": needs("coverage.read"),
    "GET /api/v1/coverage/move-ups": needs("coverage.read"),
    "GET /api/v1/coverage/posts": needs("coverage.read"),
    "POST /api/v1/coverage/posts": needs("unit.manage", audit="post"),
    "GET /api/v1/coverage/dispatch-cost": needs("coverage.read", audit="case"),
    "GET /api/v1/crew/{token}": open_("crew link token in the path", audit="case"),
    "POST /api/v1/crew/{token}/status": open_("crew link token in the path", audit="case"),
    "POST /api/v1/sms/inbound": open_("Twilio signature checked in the handler", audit="case"),
    "POST /api/v1/sms/status": open_("Twilio signature checked in the handler"),
    "GET /api/v1/sms/outbox": needs("sms.read", audit="sms"),
    "GET /api/v1/realtime/events": open_("channel rules of realtime.authz", audit="case"),
    "GET /api/v1/realtime/sse": open_("channel rules of realtime.authz", audit="case"),
    "WS /ws/telemetry": open_("the token or crew token authenticates; unit.position or one unit"),
    "WS /ws": open_("the first message authenticates; channel rules of realtime.authz"),
    "GET /api/v1/audit": needs("audit.read", audit="audit"),
    # Care (issue 8): public directory reads; everything else signed in, with the object rules
    # of care.access in the handlers (own records, treatment relationship or break-glass, own
    # hospital).
    "GET /api/v1/doctors": open_("public directory of doctors"),
    "GET /api/v1/doctors/{doctor_id}": open_("public directory of doctors"),
    "GET /api/v1/doctors/{doctor_id}/slots": open_("free slots are public; bookings are not"),
    "GET /api/v1/hospitals/{hospital_id}/departments": open_("public directory of hospitals"),
    "POST /api/v1/doctors": needs("doctor.manage", audit="doctor"),
    "POST /api/v1/doctors/{doctor_id}/verify": needs("doctor.verify", audit="doctor"),
    "GET /api/v1/doctors/me": needs("doctor.self"),
    "PUT /api/v1/doctors/me/availability": needs("doctor.self"),
    "POST /api/v1/doctors/me/heartbeat": needs("doctor.self"),
    "POST /api/v1/doctors/me/affiliations/{hospital_id}/accept": needs(
        "doctor.self", audit="doctor"
    ),
    "POST /api/v1/hospitals/{hospital_id}/departments": needs("doctor.manage"),
    "GET /api/v1/hospitals/{hospital_id}/doctors": needs("doctor.manage"),
    "POST /api/v1/hospitals/{hospital_id}/doctors": needs("doctor.manage", audit="doctor"),
    # Who may be booked when: every change is audited, by the admin or by the doctor.
    "POST /api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules": needs(
        "doctor.manage", audit="doctor"
    ),
    "DELETE /api/v1/hospitals/{hospital_id}/doctors/{doctor_id}/schedules/{schedule_id}": needs(
        "doctor.manage", audit="doctor"
    ),
    "POST /api/v1/doctors/me/schedules": needs("doctor.self", audit="doctor"),
    "DELETE /api/v1/doctors/me/schedules/{schedule_id}": needs("doctor.self", audit="doctor"),
    "GET /api/v1/hospitals/{hospital_id}/dashboard-metrics": needs(
        "hospital.dashboard"
    ),
    "POST /api/v1/appointments": signed_in(audit="appointment"),
    "GET /api/v1/appointments/mine": signed_in(audit="appointment"),
    "GET /api/v1/appointments/day": signed_in(audit="appointment"),
    "POST /api/v1/appointments/waitlist": signed_in(audit="appointment"),
    "GET /api/v1/appointments/waitlist": signed_in(audit="appointment"),
    "POST /api/v1/appointments/waitlist/{entry_id}/accept": signed_in(audit="appointment"),
    "GET /api/v1/appointments/{appointment_id}": signed_in(audit="appointment"),
    "GET /api/v1/appointments/{appointment_id}/queue": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/confirm": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/cancel": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/check-in": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/no-show": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/start": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/complete": signed_in(audit="appointment"),
    "POST /api/v1/appointments/{appointment_id}/reschedule": signed_in(audit="appointment"),
    "GET /api/v1/patients/me/profile": needs("patient.self", audit="patient"),
    "PUT /api/v1/patients/me/profile": needs("patient.self", audit="patient"),
    "GET /api/v1/patients/me/records": needs("patient.self", audit="patient"),
    "POST /api/v1/patients/me/emergency-contacts": needs("patient.self", audit="patient"),
    "DELETE /api/v1/patients/me/emergency-contacts/{contact_id}": needs(
        "patient.self", audit="patient"
    ),
    "POST /api/v1/patients/me/allergies": needs("patient.self", audit="patient"),
    "POST /api/v1/patients/me/conditions": needs("patient.self", audit="patient"),
    "GET /api/v1/patients/{patient_id}/records": signed_in(audit="patient"),
    "POST /api/v1/patients/{patient_id}/records": signed_in(audit="patient"),
    "GET /api/v1/patients/{patient_id}/access-log": needs(
        "patient.access_log", audit="patient"
    ),
    "GET /api/v1/emergency/cases/{case_id}/patient-summary": signed_in(audit="patient"),
    "GET /api/v1/crew/{token}/patient-summary": open_(
        "crew link token in the path", audit="patient"
    ),
    "GET /fhir/metadata": open_("FHIR CapabilityStatement is public"),
    "GET /fhir/{resource}": signed_in(audit="patient"),
    "GET /fhir/{resource}/{resource_id}": signed_in(audit="patient"),
    # Web pages: static shells; every call they make is authorised on its own route.
    "GET /": open_("redirect to the console page"),
    "GET /console": open_("page shell; signs in through the API"),
    "GET /hospital": open_("page shell; signs in through the API"),
    "GET /doctor": open_("page shell; signs in through the API"),
    "GET /sos": open_("page shell; the SOS itself is POST /api/v1/emergency/cases"),
    "GET /sos.webmanifest": open_("PWA manifest"),
    "GET /sos-sw.js": open_("PWA service worker"),
    "GET /patient": open_("page shell; signs in through the API"),
    "GET /crew/{token}": open_("page shell; the crew link token is checked by the crew API"),
    "GET /api/v1/map/roads": open_("public road geometry for the map"),
    "GET /api/v1/map/streets": open_("public street names (OSM) for the map"),
    "GET /api/v1/map/hospitals": open_("public hospital names and places (OSM) for the map"),
    "GET /api/v1/geocode": open_("public OSM addresses and places, the same for everyone"),
    "GET /api/v1/geocode/reverse": open_("public OSM addresses and places"),
    "GET /api/v1/regions": open_("public region bounds, so pages open on the right city"),
    "POST /api/v1/emergency/cases/{case_id}/link": needs("case.triage", audit="case"),
    "POST /api/v1/emergency/cases/{case_id}/duplicate/dismiss": needs(
        "case.triage", audit="case"
    ),
    "GET /favicon.ico": open_("browser icon"),
    "GET /docs": open_("API documentation page (assets served locally)"),
    "POST /api/v1/emergency/cases/{case_id}/location": needs(
        "case.read", or_capability=True, audit="case"
    ),
    "POST /api/v1/emergency/cases/{case_id}/location/{report_id}/confirm": needs(
        "case.triage", audit="case"
    ),
    "POST /api/v1/emergency/cases/{case_id}/location/{report_id}/dismiss": needs(
        "case.triage", audit="case"
    ),
}


def route_key(connection: HTTPConnection) -> str | None:
    """``"METHOD /template"`` of the matched route, the key of :data:`ROUTE_ACCESS`."""
    route = connection.scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path is None:
        return None
    method = "WS" if connection.scope["type"] == "websocket" else connection.scope["method"]
    return f"{'GET' if method == 'HEAD' else method} {path}"


def bearer_claims(connection: HTTPConnection) -> AccessClaims | None:
    """Verified claims of an ``Authorization: Bearer`` header, None without one."""
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", code="invalid_token")
    return verify_access_token(token.strip(), settings=connection.app.state.identity_settings)


def require_second_factor(claims: AccessClaims) -> None:
    """Staff tokens act only with a passed second factor, on every channel (HTTP, WS, SSE)."""
    if is_staff(claims.roles) and not claims.mfa:
        raise Forbidden("staff must sign in with a second factor", code="mfa_required")


async def ensure_not_revoked(connection: HTTPConnection, claims: AccessClaims) -> None:
    """401 for a token of a suspended/deleted user, a removed role or a signed-out session."""
    redis = getattr(connection.app.state, "redis", None)
    if redis is not None and await revocation.is_revoked(redis, claims):
        raise Unauthenticated("this token has been revoked", code="token_revoked")


async def live_claims(connection: HTTPConnection, token: str) -> AccessClaims:
    """A token given outside the Authorization header (socket, SSE): the same checks as HTTP."""
    claims = verify_access_token(token, settings=connection.app.state.identity_settings)
    require_second_factor(claims)
    await ensure_not_revoked(connection, claims)
    return claims


def check(access: Access | None, claims: AccessClaims | None, key: str | None) -> None:
    """Raise unless ``claims`` pass ``access``; an unregistered route refuses everyone."""
    if access is None:
        log.error("route %s has no entry in console_api.access.ROUTE_ACCESS", key)
        raise Forbidden("this endpoint is not open to anyone yet", code="route_not_registered")
    if claims is not None:
        require_second_factor(claims)
    if access.action is None and not access.signed_in:
        return
    if claims is None:
        if access.or_capability:
            return  # the handler checks the capability token and fails closed
        raise Unauthenticated("a bearer token is required", code="missing_token")
    if access.action is not None and not allowed(set(claims.roles), access.action):
        raise Forbidden(f"your roles may not perform {access.action}", code="role_forbidden")


#: An emergency is never refused for its credentials: a bearer token that does not verify here
#: (garbage, expired, staff without a second factor) makes the caller anonymous, and the case is
#: flagged ``unverified_caller``.
NEVER_REFUSED = "POST /api/v1/emergency/cases"


async def enforce_access(request: HTTPConnection) -> None:
    """The app-wide dependency: look the route up in :data:`ROUTE_ACCESS` and apply it."""
    key = route_key(request)
    access = ROUTE_ACCESS.get(key) if key else None
    request.state.claims = None  # until the token verifies (a denial is audited with its actor)
    try:
        claims = bearer_claims(request)
        if claims is not None:
            await ensure_not_revoked(request, claims)
        request.state.claims = claims
        check(access, claims, key)
    except (Forbidden, Unauthenticated) as exc:
        if key == NEVER_REFUSED:
            request.state.claims = None
            request.state.unverified_caller = exc.code
            return
        if exc.code == "token_revoked" and access is not None and access.is_open:
            # An open route is never refused for a revoked token: the caller is served as
            # anonymous, with none of the revoked account's authority.
            request.state.claims = claims = None
            check(access, claims, key)
        else:
            request.state.denied = exc.code
            raise
    await check_api_rate(request, key, str(claims.user_id) if claims else None)
