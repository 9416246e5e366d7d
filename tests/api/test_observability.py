"""Metrics, request ids, JSON logs and the liveness/readiness split, against the real app."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from console_api.observability import WEBSOCKETS, Observe, logging_config
from tests.conftest import bounded, sign_in, sos_body


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus exposition, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def remote_client(app):
    """A client whose requests come from a non-loopback address."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 40000))
    return bounded(httpx.AsyncClient(transport=transport, base_url="http://lifeline.test"))


async def test_liveness_and_readiness(client):
    live = await client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["database"] == body["redis"] == "ok"
    assert body["routing"].endswith("region(s) loaded")
    legacy = await client.get("/health")
    assert legacy.status_code == 200 and legacy.json()["status"] == "ok"


async def test_request_id_is_echoed_when_valid_and_generated_otherwise(client):
    given = "abc-123:req.7_x"
    r = await client.get("/health/live", headers={"X-Request-Id": given})
    assert r.headers["x-request-id"] == given
    generated = (await client.get("/health/live")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    for hostile in ["x" * 129, "has space", "new\nline", "quote\"", "ünï"]:
        r = await client.get("/health/live", headers={"X-Request-Id": hostile.encode("utf-8")})
        assert r.headers["x-request-id"] != hostile
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    # Errors carry it too.
    r = await client.get("/no/such/route", headers={"X-Request-Id": "trace-404"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "trace-404"


async def test_metrics_count_sos_intake_by_route_template(client, operator):
    before = samples((await client.get("/metrics")).text)
    key = str(uuid.uuid4())
    body = sos_body()
    headers = {"Idempotency-Key": key}
    first = await client.post("/api/v1/emergency/cases", json=body, headers=headers)
    again = await client.post("/api/v1/emergency/cases", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    case_id = first.json()["id"]
    read = await client.get(f"/api/v1/emergency/cases/{case_id}", headers=operator.headers)
    assert read.status_code == 200
    bad = await client.post("/api/v1/emergency/cases", json={"lat": 999})
    assert bad.status_code == 422

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def delta(name, **labels):
        k = (name, frozenset(labels.items()))
        return after.get(k, 0) - before.get(k, 0)

    assert delta("lifeline_sos_intake_total", outcome="created") == 1
    assert delta("lifeline_sos_intake_total", outcome="replayed") == 1
    assert delta("lifeline_sos_intake_total", outcome="rejected") == 1
    assert delta(
        "lifeline_http_request_duration_seconds_count",
        method="GET", route="/api/v1/emergency/cases/{case_id}", status="200",
    ) == 1
    # The raw path (with the case id) never becomes a label.
    assert case_id not in response.text
    assert after[("lifeline_cases", frozenset({("status", "raised")}))] >= 1
    assert ("lifeline_outbox_unpublished_events", frozenset()) in after
    assert after[("lifeline_outbox_lag_seconds", frozenset())] >= 0
    assert after[("lifeline_routing_query_seconds_count", frozenset({("query", "etas")}))] >= 1


async def test_metrics_from_elsewhere_need_metrics_read(app, client):
    patient = await sign_in(app, client, "patient")
    admin = await sign_in(app, client, "super_admin")
    async with remote_client(app) as remote:
        anonymous = await remote.get("/metrics")
        assert anonymous.status_code == 403
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.json()["code"] == "metrics_forbidden"
        assert (await remote.get("/metrics", headers=patient.headers)).status_code == 403
        assert (await remote.get("/metrics", headers=admin.headers)).status_code == 200
    # A forwarded request is not local, even when the proxy itself is on loopback.
    r = await client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"})
    assert r.status_code == 403


async def test_websocket_connections_are_gauged_while_open():
    seen = []

    async def socket_app(scope, receive, send):
        seen.append(WEBSOCKETS._value.get())

    before = WEBSOCKETS._value.get()
    await Observe(socket_app)({"type": "websocket", "headers": []}, None, None)
    assert seen == [before + 1]
    assert WEBSOCKETS._value.get() == before


async def test_logs_are_json_lines_with_the_request_id(client):
    config = dict(logging_config()["formatters"]["json"])
    formatter = config.pop("()")(**config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("lifeline.http")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        await client.get("/health/live", headers={"X-Request-Id": "log-me-1"})
        structlog.get_logger("lifeline.test").info("outside a request")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if line.get("request_id") == "log-me-1")
    assert request_line["event"] == "request"
    assert request_line["route"] == "/health/live"
    assert request_line["status"] == 200
    assert request_line["level"] == "info"
    assert "timestamp" in request_line


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
async def test_operational_endpoints_are_documented(client, path):
    assert path in (await client.get("/openapi.json")).json()["paths"]


def test_tokens_in_urls_never_reach_the_logs():
    from console_api.observability import redact_tokens

    event = {"event": '127.0.0.1:5 - "WebSocket /ws?token=eyJhbGciOi.abc.def&x=1" [accepted]'}
    assert redact_tokens(None, "info", event)["event"] == (
        '127.0.0.1:5 - "WebSocket /ws?token=[redacted]&x=1" [accepted]'
    )
    event = {"event": "GET /api/v1/realtime/sse?channel=c&token=abc HTTP/1.1"}
    assert "abc" not in redact_tokens(None, "info", event)["event"]


def test_live_gauges_of_dead_workers_are_dropped(tmp_path):
    from console_api.observability import forget_dead_workers

    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True)
    dead, alive = exited.stdout.strip(), os.getpid()
    for name in (f"gauge_livesum_{dead}.db", f"gauge_livesum_{alive}.db", f"counter_{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    # Counters of a dead worker still count; its open-socket gauge does not.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"gauge_livesum_{alive}.db", f"counter_{dead}.db"]
    )
