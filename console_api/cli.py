"""The `lifeline` command: database, server and user administration (region data: cli_regions)."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

from console_api.cli_regions import coverage_app, eta_app, facilities_app, region_app

app = typer.Typer(help="Lifeline emergency dispatch", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="User accounts", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail", no_args_is_help=True)
keys_app = typer.Typer(help="Field-encryption keys", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(region_app, name="region")
app.add_typer(facilities_app, name="facilities")
app.add_typer(eta_app, name="eta")
app.add_typer(coverage_app, name="coverage")

console = Console()


def _role_help() -> str:
    from identity.roles import Role

    return "repeat for several roles: " + ", ".join(r.value for r in Role)


ROLE_HELP = _role_help()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the schema to REVISION (default: head)."""
    from data.migrate import upgrade

    upgrade(revision=revision)
    console.print(f"[green]database at {revision}[/green]")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument("-1")) -> None:
    """Step the schema back to REVISION."""
    from data.migrate import downgrade

    downgrade(revision=revision)
    console.print(f"[yellow]database at {revision}[/yellow]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, envvar="PORT", help="TCP port"),
    workers: int = typer.Option(1, min=1, help="worker processes"),
) -> None:
    """Serve the API and the web pages (JSON logs; metrics aggregated over the workers)."""
    import os
    import tempfile

    import uvicorn

    from console_api.server_limits import get_server_limits
    from realtime.settings import get_realtime_settings

    # Links sent out (crew SMS, Twilio callbacks) point where this server was started, unless
    # LIFELINE_PUBLIC_BASE_URL says otherwise (behind a proxy, on a public name).
    os.environ.setdefault("LIFELINE_PUBLIC_BASE_URL", default_public_base_url(host, port))
    limits = get_server_limits()
    with tempfile.TemporaryDirectory(prefix="lifeline-metrics-") as metrics_dir:
        if workers > 1:
            # Each worker writes its samples here; any worker's /metrics sums them all.
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        from console_api.observability import logging_config

        uvicorn.run(
            "console_api.main:app",
            host=host,
            port=port,
            workers=workers,
            # X-Forwarded-For is read by the app itself, from LIFELINE_IDENTITY_TRUSTED_PROXIES only
            # (uvicorn's own default would believe any loopback client).
            proxy_headers=False,
            log_level="info",
            log_config=logging_config(),
            # Off by default: compressed frames differ per connection, so each event would be
            # deflated once per subscriber instead of framed once (see README, real time).
            ws_per_message_deflate=get_realtime_settings().ws_deflate,
            # Slow-loris: a request must arrive whole within LIFELINE_WEB_REQUEST_TIMEOUT_SECONDS.
            http="console_api.server_limits:DeadlineHttpProtocol",
            timeout_keep_alive=limits.keep_alive_seconds,
            ws_max_size=limits.ws_max_message_bytes,
            # A worker starting on a loaded machine can take >5 s (uvicorn's default) to import
            # the app and load road networks; killed and restarted, it never comes up. 30 s still
            # replaces a truly hung worker quickly.
            timeout_worker_healthcheck=30,
        )


def default_public_base_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` as served; a wildcard bind names this machine instead."""
    import socket

    # Names the wildcard address; binds nothing.
    if host in ("0.0.0.0", "::", ""):  # nosec B104
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., help="sign-in email"),
    password: str = typer.Option(..., help="at least 12 characters"),
    # typer reads the option declaration from the default; it is never mutated.
    role: list[str] = typer.Option(..., help=ROLE_HELP),  # noqa: B008
    hospital_id: str | None = typer.Option(None, help="required for hospital_admin"),
    phone: str | None = typer.Option(None, help="E.164 phone number"),
    totp_secret: str | None = typer.Option(
        None, help="base32 TOTP secret: enrols the second factor (required to sign in as staff)"
    ),
) -> None:
    """Provision a user (staff or patient)."""
    from data.db import async_session_factory, make_async_engine
    from data.errors import LifelineError
    from data.models import import_all_models
    from identity import service as identity_service
    from identity.roles import Role

    valid = [r.value for r in Role]
    unknown = [r for r in role if r not in valid]
    if unknown:
        console.print(
            f"[red]error:[/red] unknown role {', '.join(map(repr, unknown))}; "
            f"valid roles: {', '.join(valid)}"
        )
        raise typer.Exit(code=2)
    import_all_models()

    async def run() -> uuid.UUID:
        engine = make_async_engine()
        try:
            async with async_session_factory(engine)() as session:
                user = await identity_service.create_user(
                    db_session=session,
                    email=email,
                    password=password,
                    roles=role,
                    hospital_id=uuid.UUID(hospital_id) if hospital_id else None,
                    phone=phone,
                    totp_secret=totp_secret,
                )
                return user.id
        finally:
            await engine.dispose()

    try:
        user_id = asyncio.run(run())
    except (LifelineError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console.print(f"[green]created user {user_id}[/green] ({', '.join(role)})")
    from identity.roles import is_staff

    if is_staff(set(role)) and not totp_secret:
        console.print(
            "[yellow]staff sign in with a TOTP code: enrol at /api/v1/auth/mfa/enrol, "
            "or pass --totp-secret[/yellow]"
        )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain and compare it with the signed checkpoints; exit 1 naming the first
    tampered row, or the truncation or rewrite a checkpoint caught."""
    from data.db import make_sync_engine
    from data.models import import_all_models
    from data.settings import get_data_settings
    from identity import audit, audit_anchor
    from identity.settings import get_identity_settings

    import_all_models()
    engine = make_sync_engine()
    data_dir, audit_key = get_data_settings().data_dir, get_identity_settings().audit_key
    try:
        with engine.connect() as conn:
            verdict = audit.verify(conn)
            checkpoints = audit_anchor.read_checkpoints(engine.url, data_dir=data_dir)
            findings = audit_anchor.check(
                conn, checkpoints, audit_key=audit_key, data_dir=data_dir
            )
    finally:
        engine.dispose()
    if not verdict.ok:
        console.print(
            f"[red]audit chain broken at seq {verdict.first_bad_seq}[/red]: {verdict.problem}"
        )
    for finding in findings:
        console.print(f"[red]audit trail {finding.kind} at seq {finding.seq}[/red]: "
                      f"{finding.detail}")
    if not verdict.ok or findings:
        raise typer.Exit(code=1)
    anchored = (f", anchored by {len(checkpoints)} signed checkpoints up to seq "
                f"{checkpoints[-1].seq}") if checkpoints else ", no checkpoint yet"
    console.print(f"[green]audit chain intact[/green]: {verdict.rows:,} rows{anchored}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key (and TOTP secret) under the first KEK of LIFELINE_IDENTITY_KEK(_FILE).

    Put the new KEK first and keep the old one after it until this has finished; values are not
    re-encrypted and the service keeps running throughout.
    """
    from data.db import make_sync_engine
    from data.models import import_all_models
    from identity import mfa, sealing, vault

    import_all_models()
    engine = make_sync_engine()
    try:
        with engine.connect() as conn:
            keys = sealing.rotate(conn)
            secrets = mfa.rotate_secrets(conn)
    except vault.VaultError as exc:
        console.print(f"[red]rotation stopped:[/red] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    console.print(
        f"[green]re-wrapped {keys} data keys and {secrets} TOTP secrets under KEK "
        f"{vault.keyring().active_id}[/green]"
    )


@app.command()
def relay() -> None:
    """Relay the outbox to Redis streams standalone (stands by while another relay is active)."""
    import logging

    from data.redis_client import redis_from_url
    from data.settings import get_data_settings
    from realtime.relay import Relay
    from realtime.settings import get_realtime_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data_settings = get_data_settings()

    async def run() -> None:
        redis = redis_from_url(
            data_settings.redis_url, socket_timeout=3, socket_connect_timeout=2
        )
        try:
            await Relay(
                database_url=data_settings.app_database_url,
                redis=redis,
                settings=get_realtime_settings(),
            ).run()
        finally:
            await redis.aclose()

    console.print("[green]relay running[/green] (Ctrl-C to stop)")
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        console.print("[yellow]relay stopped[/yellow]")


from console_api import cli_authority  # noqa: E402 - its commands join the groups above

cli_authority.register(users_app, audit_app)

if __name__ == "__main__":
    app()
