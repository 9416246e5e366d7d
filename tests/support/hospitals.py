"""Helpers for the hospital tests: the demo facilities by name, admins signed in for them."""

from __future__ import annotations

import pytest_asyncio
from sqlalchemy import select

from facilities.models import Hospital
from tests.conftest import sign_in

CENTRAL = "DEMO Central University Hospital (demo data)"
HEART = "DEMO Kruununhaka Heart Centre (demo data)"
KLUUVI = "DEMO Kluuvi Emergency Hospital (demo data)"
CASES = "/api/v1/emergency/cases"


async def hospital_id(app, name: str):
    async with app.state.session_factory() as session:
        return await session.scalar(select(Hospital.id).where(Hospital.name == name))


@pytest_asyncio.fixture(loop_scope="session")
async def central_admin(app, client):
    """An admin of the demo Central University Hospital (the only thrombectomy centre)."""
    return await sign_in(app, client, "hospital_admin", hospital_id=await hospital_id(app, CENTRAL))


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_operator(app, client):
    """A fresh operator per test: access tokens last 15 minutes, and on a loaded machine the
    whole suite takes longer than that (the session-wide operator's token then expires)."""
    return await sign_in(app, client, "emergency_operator")
