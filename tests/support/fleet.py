"""An app wired to a Twilio stub (through the real twilio SDK), for the fleet and SMS tests."""

from __future__ import annotations

import pytest
import pytest_asyncio

from console_api.app import create_app
from messaging.settings import MessagingSettings
from tests.conftest import in_process_client, running, sign_in
from tests.support.twilio_stub import TwilioStub

AUTH_TOKEN = "stub-auth-token-0123456789"
PUBLIC = "https://lifeline.example.org"


@pytest.fixture(scope="session")
def twilio():
    with TwilioStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def messaging_settings(twilio) -> MessagingSettings:
    """A Twilio account, as a deployment that sends SMS configures it, aimed at the local stub.

    The public URL is set because the webhook tests sign requests for it (as Twilio would for a
    server behind a proxy); retries and polling keep the defaults `make run` has.
    """
    return MessagingSettings(
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM="+15005550006",
        LIFELINE_SMS_TWILIO_API_BASE=twilio.url,
        LIFELINE_PUBLIC_BASE_URL=PUBLIC,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fleet_app(data_settings, identity_settings, messaging_settings):
    application = create_app(
        data_settings=data_settings,
        identity_settings=identity_settings,
        messaging_settings=messaging_settings,
    )
    async with running(application):
        yield application


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fleet_client(fleet_app):
    async with in_process_client(fleet_app) as http:
        yield http


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dispatcher(fleet_app, fleet_client):
    return await sign_in(fleet_app, fleet_client, "emergency_operator")
