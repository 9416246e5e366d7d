"""Schemathesis on /openapi.json, in-process, as every role: no 5xx, no response off its schema.

The app under fuzz is a second instance whose lifespan schemathesis runs on its own event loop
(the shared ``app`` fixture's engine belongs to pytest's loop). Users are provisioned through the
shared app's session (same database) and sign in through the fuzzed app itself.
"""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from facilities.models import RegionDiversionPolicy
from identity.roles import Role
from tests.conftest import PASSWORD
from tests.support.restore import restoring

ROLES = ["anonymous", *[role.value for role in Role]]
#: Streams that never end on their own: covered by the real-time tests, not by a fuzzer.
NOT_FUZZED = {"/api/v1/realtime/sse"}
EXAMPLES = 30


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _settings_rows_as_they_were(app):
    """The fuzzer may set the demo region's diversion policy (as super_admin, to any legal value):
    put it back, so the tests after it (in any order) find the region as it was."""
    async with restoring(app.state.session_factory, RegionDiversionPolicy, "helsinki"):
        yield


@pytest.fixture(scope="session")
def fuzz_app(data_settings, identity_settings):
    """A second app on the test database; schemathesis starts and stops its lifespan."""
    from console_api.app import create_app
    from messaging.settings import MessagingSettings

    # Scoped to the fuzzed app: the fuzzer sends thousands of requests as a handful of users,
    # far past the 600 a minute a real user may send (that limit is tested in tests/security);
    # its 429s would hide the answers the fuzzer is checking.
    unlimited = identity_settings.model_copy(update={"api_per_minute": 1_000_000})
    return create_app(
        data_settings=data_settings,
        identity_settings=unlimited,
        # Like the shared app: the fleet tests' app sends the SMS, this one must not steal them.
        messaging_settings=MessagingSettings(LIFELINE_SMS_SENDER=False),
    )


@pytest.fixture(scope="session")
def fuzz_schema(fuzz_app):
    """The app's own OpenAPI document."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fuzz_users(app) -> dict[str, tuple[str, str | None]]:
    """One account per role (a hospital admin gets a real hospital): (email, TOTP secret)."""
    import pyotp
    from sqlalchemy import select

    from facilities.models import Hospital
    from identity import service as identity_service
    from identity.roles import is_staff

    emails = {}
    async with app.state.session_factory() as session:
        hospital_id = (await session.scalars(select(Hospital.id).limit(1))).first()
        for role in ROLES[1:]:
            email = f"fuzz-{role}-{uuid.uuid4().hex[:6]}@lifeline.test"
            secret = pyotp.random_base32(length=32) if is_staff({role}) else None
            await identity_service.create_user(
                db_session=session,
                email=email,
                password=PASSWORD,
                roles=[role],
                hospital_id=hospital_id if role == Role.HOSPITAL_ADMIN else None,
                totp_secret=secret,
            )
            emails[role] = (email, secret)
    return emails


@pytest.fixture(scope="session")
def role_headers(fuzz_app, fuzz_schema, fuzz_users) -> dict[str, dict[str, str]]:
    """Bearer headers per role, obtained by signing in through the fuzzed app."""
    from schemathesis.python import asgi

    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with asgi.get_client(fuzz_app) as http:
        for role, (email, secret) in fuzz_users.items():
            body = {"email": email, "password": PASSWORD}
            if secret:
                import pyotp

                body["totp"] = pyotp.TOTP(secret).now()
            r = http.post(f"http://{asgi.HOST}/api/v1/auth/login", json=body)
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return headers


def fuzz_operation(operation, mode, role_headers) -> list[str]:
    """Run one operation's generated requests; return the failures (shrunk by hypothesis)."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(ROLES))
    def run(case, role):
        if case.path == "/api/v1/realtime/events" and isinstance(case.query, dict):
            case.query["timeout"] = 0  # a long-poll must not hold the fuzzer for a minute
        case.call_and_validate(
            headers=role_headers[role],
            checks=[not_a_server_error, response_schema_conformance],
        )

    try:
        run()
    except Unsatisfiable:
        pass  # nothing of this operation can be made invalid (no parameters, no body)
    except Exception as exc:  # noqa: BLE001 - collected, reported together below
        failures.append(f"{operation.label} [{mode}]: {type(exc).__name__}: {exc}")
    return failures


@pytest.mark.timeout(600)
def test_api_never_fails_or_breaks_its_schema(fuzz_schema, role_headers):
    failures: list[str] = []
    operations = 0
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        if operation.path in NOT_FUZZED:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz_operation(operation, mode, role_headers)
    assert operations >= 35
    assert not failures, "\n\n".join(failures)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ["emergency_operator", "super_admin"])
def test_stateful_sequences_never_fail(fuzz_schema, role_headers, role):
    """Sequences along the links schemathesis infers (create a unit, then read/move it; ...)."""
    machine = fuzz_schema.as_state_machine()
    headers = role_headers[role]
    failures: list[str] = []  # kept even when a replay later turns the session "flaky"

    class AsRole(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            if case.path == "/api/v1/realtime/events" and isinstance(case.query, dict):
                case.query["timeout"] = 0
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )
            except Exception as exc:
                failures.append(f"{case.method} {case.path}: {type(exc).__name__}: {exc}")
                raise

    runs = settings(
        max_examples=15,
        stateful_step_count=6,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # As schemathesis's own runner does: a replay that sees the database changed by an earlier
    # scenario is reported as flaky generation, not as a failure; start a fresh session then.
    completed = False
    for _ in range(4):
        try:
            AsRole.run(settings=runs)
            completed = True
            break
        except FlakyStrategyDefinition:
            continue
    assert not failures, "\n".join(dict.fromkeys(failures))
    assert completed, "no stateful session completed without the database changing under a replay"
