"""The `lifeline` command: database, server and user administration."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

app = typer.Typer(help="Lifeline emergency dispatch", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="User accounts", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

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


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, envvar="PORT", help="TCP port"),
    workers: int = typer.Option(1, min=1, help="worker processes"),
) -> None:
    """Serve the API and the web pages."""
    import uvicorn

    uvicorn.run(
        "console_api.main:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@users_app.command("create")
def users_create(
    email: str = typer.Option(..., help="sign-in email"),
    password: str = typer.Option(..., help="at least 12 characters"),
    role: list[str] = typer.Option(..., help="repeat for several roles"),
    hospital_id: str | None = typer.Option(None, help="required for hospital_admin"),
    phone: str | None = typer.Option(None, help="E.164 phone number"),
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


if __name__ == "__main__":
    app()
