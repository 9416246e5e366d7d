"""Builds the FastAPI application: lifespan resources, middleware, error handlers, routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from care import availability as care_availability
from care.settings import CareSettings, get_care_settings
from console_api import bootstrap
from console_api.access import enforce_access
from console_api.audit_trail import AuditTrail
from console_api.body_limit import BodySizeLimit
from console_api.client_address import ForwardedFor
from console_api.hardening import SecurityHeaders, install_log_redaction
from console_api.observability import install_observability
from console_api.problems import install_problem_handlers
from console_api.routers import (
    audit,
    auth,
    call_taking,
    care_appointments,
    care_doctors,
    care_records,
    case_location,
    coverage,
    crew,
    diversion_policy,
    emergency,
    fhir,
    geocode,
    health,
    hospital_have,
    hospital_services,
    hospital_side,
    hospitals,
    maps,
    pages,
    patient_signup,
    realtime,
    routing,
    sms,
    telemetry,
    units,
)
from console_api.write_retry import RetryOnContention
from data import key_purge
from data.db import async_session_factory, make_async_engine, make_sync_engine
from data.durability import ensure_durable, ensure_least_privilege, retry_unreachable
from data.models import import_all_models
from data.redis_client import redis_from_url
from data.settings import DataSettings, get_data_settings
from dispatch import alerts
from dispatch.destinations import Destinations
from dispatch.service_changes import expire_services
from dispatch.settings import DispatchSettings, get_dispatch_settings
from fleet_coverage import live as coverage_live
from fleet_coverage.dispatch_cost import DispatchCost
from fleet_coverage.service import CoverageBook
from fleet_coverage.settings import CoverageSettings, get_coverage_settings
from identity import audit_anchor, vault
from identity.audit import AuditWriter
from identity.settings import IdentitySettings, get_identity_settings
from messaging.sender import run_sender
from messaging.settings import MessagingSettings, get_messaging_settings
from messaging.transport import make_transport
from realtime import runtime as realtime_runtime
from realtime.settings import RealtimeSettings, get_realtime_settings

log = logging.getLogger("lifeline.app")


async def keep_routing_in_step(app: FastAPI, interval_s: float) -> None:
    """Apply closures and hospital changes made by other workers (within ``interval_s``)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(app.state.destinations.sync, app.state.sync_engine)
        except Exception:  # keep serving on the last good state
            log.exception("routing sync failed; retrying")


async def sweep_alerts(app: FastAPI, interval_s: float = 30.0) -> None:
    """Raise handover-delay alerts as their thresholds pass."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with app.state.session_factory() as session:
                await alerts.sweep_handover_alerts(
                    db_session=session, settings=app.state.dispatch_settings
                )
        except Exception:
            log.exception("alert sweep failed; retrying")


def audit_checkpoint_now(app: FastAPI) -> None:
    """Sign the audit chain's head if it moved (never fails the caller)."""
    try:
        audit_anchor.checkpoint(
            app.state.sync_engine,
            audit_key=app.state.identity_settings.audit_key,
            data_dir=app.state.data_dir,
            only_if_advanced=True,
        )
    except Exception:  # a missed checkpoint is logged; the next one covers it
        log.exception("audit checkpoint failed")


async def checkpoint_audit(app: FastAPI, interval_s: float) -> None:
    """Periodically anchor the audit chain outside the database (see identity.audit_anchor)."""
    while True:
        await asyncio.sleep(interval_s)
        await asyncio.to_thread(audit_checkpoint_now, app)


async def sweep_services(app: FastAPI) -> None:
    """Revert hospital service statuses at their end time (and re-rank the cases they touch)."""
    while True:
        await asyncio.sleep(app.state.dispatch_settings.service_sweep_seconds)
        try:
            async with app.state.session_factory() as session:
                await expire_services(
                    db_session=session,
                    destinations=app.state.destinations,
                    settings=app.state.dispatch_settings,
                )
        except Exception:
            log.exception("service expiry sweep failed; retrying")


def create_app(
    *,
    data_settings: DataSettings | None = None,
    identity_settings: IdentitySettings | None = None,
    messaging_settings: MessagingSettings | None = None,
    dispatch_settings: DispatchSettings | None = None,
    care_settings: CareSettings | None = None,
    realtime_settings: RealtimeSettings | None = None,
    coverage_settings: CoverageSettings | None = None,
) -> FastAPI:
    """A new app; each instance owns its engine and Redis client (bound to its event loop).

    The composition root: settings not given are read here (once per process) and handed to
    the domain explicitly; nothing below reads them on its own.
    """
    data_settings = data_settings or get_data_settings()
    identity_settings = identity_settings or get_identity_settings()
    messaging_settings = messaging_settings or get_messaging_settings()
    dispatch_settings = dispatch_settings or get_dispatch_settings()
    care_settings = care_settings or get_care_settings()
    realtime_settings = realtime_settings or get_realtime_settings()
    coverage_settings = coverage_settings or get_coverage_settings()
    import_all_models()
    install_log_redaction()
    vault.keyring()  # fail at start-up, not at the first sealed field, when the KEK is missing

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(data_settings, as_app=True)
        await ensure_durable(engine, wait_s=data_settings.startup_wait_seconds)
        await ensure_least_privilege(engine, production=identity_settings.env == "production")
        app.state.engine = engine
        app.state.session_factory = async_session_factory(engine)
        read_engine = engine  # reads that may be stale go to a standby when one is configured
        if data_settings.database_read_url:
            read_engine = make_async_engine(data_settings, url=data_settings.database_read_url)
        app.state.read_session_factory = async_session_factory(read_engine)
        app.state.audit_writer = AuditWriter(app.state.session_factory)
        app.state.redis = redis_from_url(
            data_settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        app.state.identity_settings = identity_settings
        app.state.adapters = bootstrap.adapters(
            redis=app.state.redis,
            realtime_settings=realtime_settings,
            care_settings=care_settings,
            dispatch_settings=dispatch_settings,
        )
        app.state.position_ingest = bootstrap.position_ingest(
            live=app.state.adapters.live_positions,
            session_factory=app.state.session_factory,
            dispatch_settings=dispatch_settings,
        )
        app.state.sync_engine = make_sync_engine(data_settings, as_app=True)
        app.state.destinations = await retry_unreachable(
            lambda: asyncio.to_thread(
                Destinations.load,
                app.state.sync_engine,
                settings=dispatch_settings,
                data_dir=data_settings.data_dir,
                only=dispatch_settings.served_regions,
            ),
            wait_s=data_settings.startup_wait_seconds,
            what="database (road networks)",
        )
        sync_task = asyncio.create_task(
            keep_routing_in_step(app, dispatch_settings.routing_sync_seconds)
        )
        app.state.messaging_settings = messaging_settings
        app.state.coverage_book = CoverageBook(app.state.destinations)
        app.state.dispatch_cost = DispatchCost(  # case reads' port
            app.state.coverage_book, settings=coverage_settings
        )
        background = [
            asyncio.create_task(coverage_live.watch(
                app.state.session_factory, app.state.adapters.live_positions,
                app.state.coverage_book, settings=coverage_settings,
            ), name="coverage-watch"),
            sync_task,
            asyncio.create_task(app.state.position_ingest.run(), name="position-ingest"),
            asyncio.create_task(sweep_alerts(app)),
            # Idempotency keys live 24 h; one worker at a time purges them (advisory lock).
            asyncio.create_task(
                key_purge.purge_on_schedule(data_settings.database_url), name="key-purge"
            ),
            asyncio.create_task(
                checkpoint_audit(app, identity_settings.audit_checkpoint_seconds)
            ),
            asyncio.create_task(sweep_services(app)),
            # A doctor whose heartbeats stopped is stored and announced as offline.
            asyncio.create_task(
                care_availability.sweep_presence(
                    app.state.session_factory, app.state.adapters.presence, settings=care_settings
                )
            ),
        ]
        if messaging_settings.sender_enabled:
            sender = run_sender(
                app.state.session_factory,
                make_transport(messaging_settings),
                messaging_settings,
                on_failure=lambda session, message: alerts.sms_failed(
                    db_session=session, message=message
                ),
            )
            background.append(asyncio.create_task(sender))
        await realtime_runtime.start(
            app, data_settings=data_settings, settings=realtime_settings
        )
        # Open crew-link sockets end with their dispatch.
        app.state.socket_authority.capabilities_alive = bootstrap.crew_links_alive(
            app.state.session_factory
        )
        # What start-up built lives as long as the worker: keep it out of full collections,
        # which otherwise stall every socket of the worker for 100 ms and more.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await realtime_runtime.stop(app)
            await app.state.audit_writer.close()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(audit_checkpoint_now, app)  # the head at shutdown
            await app.state.redis.aclose()
            await engine.dispose()
            await read_engine.dispose()
            app.state.sync_engine.dispose()

    app = FastAPI(
        title="Lifeline",
        version="0.1.0",
        summary="Emergency medical dispatch and geo-routing",
        lifespan=lifespan,
        # /docs is served by console_api.routers.pages from local assets (no CDN); ReDoc has
        # no offline package here, so it is off.
        docs_url=None,
        redoc_url=None,
        # Every route is looked up in console_api.access.ROUTE_ACCESS; unlisted ones refuse all.
        dependencies=[Depends(enforce_access)],
    )
    app.state.identity_settings = identity_settings
    app.state.dispatch_settings = dispatch_settings
    app.state.care_settings = care_settings
    app.state.realtime_settings = realtime_settings
    app.state.coverage_settings = coverage_settings
    app.state.data_dir = data_settings.data_dir  # graph caches, audit checkpoints
    # Innermost: a request PostgreSQL aborted for contention runs again (audited once).
    app.add_middleware(RetryOnContention)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(AuditTrail)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=identity_settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                       "X-Case-Token", "X-Crew-Token"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: request id, access log and latency cover everything above.
    install_observability(app)
    # Outside even that: every layer sees the real client address (trusted proxies only).
    app.add_middleware(ForwardedFor)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(patient_signup.router)
    app.include_router(emergency.router)
    app.include_router(case_location.router)
    app.include_router(hospital_have.router)  # before /hospitals/{hospital_id}
    app.include_router(hospitals.router)
    app.include_router(hospital_side.router)
    app.include_router(hospital_services.router)
    app.include_router(diversion_policy.router)
    app.include_router(routing.router)
    app.include_router(units.router)
    app.include_router(coverage.router)
    app.include_router(crew.router)
    app.include_router(sms.router)
    app.include_router(realtime.router)
    app.include_router(telemetry.router)
    app.include_router(audit.router)
    app.include_router(maps.router)
    app.include_router(geocode.router)
    app.include_router(call_taking.router)
    app.include_router(pages.router)
    pages.mount_static(app)
    app.include_router(care_doctors.router)
    app.include_router(care_appointments.router)
    app.include_router(care_records.router)
    app.include_router(fhir.router)
    return app
