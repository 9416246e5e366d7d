"""The probes take their resources as dependencies and still answer before start-up built them."""

from __future__ import annotations

import httpx

from console_api.app import create_app


async def test_probes_answer_503_not_500_while_nothing_is_built():
    """No lifespan has run: no engine, no Redis client, no road networks (issue 22.4)."""
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifeline.test") as client:
        health = await client.get("/health")
        ready = await client.get("/health/ready")
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "database": "unreachable",
                             "redis": "unreachable"}
    assert ready.status_code == 503
    assert ready.json()["routing"] == "not loaded" and ready.json()["status"] == "not_ready"
