"""`lifeline users suspend|delete|reactivate|remove-role` and `lifeline audit checkpoint`.

Taking authority away works at once: refresh tokens are revoked in the database, access tokens
through the revocation list in Redis, and every worker closes the user's sockets within seconds.
"""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

console = Console()


def _change_user(change: str, email: str, role: str | None = None) -> None:
    import redis.asyncio as aioredis

    from data.db import async_session_factory, make_async_engine
    from data.errors import LifelineError
    from data.models import import_all_models
    from data.settings import get_data_settings
    from identity import admin

    import_all_models()

    async def run() -> None:
        engine = make_async_engine()
        redis = aioredis.from_url(get_data_settings().redis_url, socket_connect_timeout=3)
        try:
            async with async_session_factory(engine)() as session:
                if change == "remove-role":
                    assert role is not None  # the command always passes it
                    await admin.remove_role(
                        db_session=session, redis=redis, email=email, role=role
                    )
                else:
                    await admin.set_status(
                        db_session=session, redis=redis, email=email, status=change
                    )
        finally:
            await redis.aclose()
            await engine.dispose()

    try:
        asyncio.run(run())
    except LifelineError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(code=2) from None
    console.print(f"[green]{email}: {change}{' ' + role if role else ''}[/green]; "
                  "its tokens and sockets are revoked")


def users_suspend(email: str = typer.Argument(..., help="the account's email")) -> None:
    """Suspend an account: sign-in refused, every token and socket ended at once."""
    _change_user("suspended", email)


def users_delete(email: str = typer.Argument(..., help="the account's email")) -> None:
    """Delete an account (a tombstone stays for the audit trail); tokens and sockets end."""
    _change_user("deleted", email)


def users_reactivate(email: str = typer.Argument(..., help="the account's email")) -> None:
    """Let a suspended account sign in again (its old tokens stay dead)."""
    _change_user("active", email)


def users_remove_role(
    email: str = typer.Argument(..., help="the account's email"),
    role: str = typer.Argument(..., help="the role to take away"),
) -> None:
    """Take a role away; tokens carrying it die, the user signs in again for what remains."""
    _change_user("remove-role", email, role)


def audit_checkpoint() -> None:
    """Sign the audit chain's head with LIFELINE_IDENTITY_AUDIT_KEY; kept outside the database."""
    from data.db import make_sync_engine
    from data.models import import_all_models
    from data.settings import get_data_settings
    from identity import audit_anchor
    from identity.settings import get_identity_settings

    import_all_models()
    engine = make_sync_engine()
    data_dir = get_data_settings().data_dir
    try:
        checkpoint = audit_anchor.checkpoint(
            engine, audit_key=get_identity_settings().audit_key, data_dir=data_dir
        )
    finally:
        engine.dispose()
    if checkpoint is None:
        console.print("[yellow]the audit trail is empty: nothing to checkpoint[/yellow]")
        return
    console.print(
        f"[green]checkpoint[/green] seq {checkpoint.seq} head {checkpoint.record_hash[:16]}… "
        f"written to {audit_anchor.checkpoint_path(engine.url, data_dir=data_dir)}"
    )


def register(users_app: typer.Typer, audit_app: typer.Typer) -> None:
    """Add these commands to the `lifeline` CLI."""
    users_app.command("suspend")(users_suspend)
    users_app.command("delete")(users_delete)
    users_app.command("reactivate")(users_reactivate)
    users_app.command("remove-role")(users_remove_role)
    audit_app.command("checkpoint")(audit_checkpoint)
