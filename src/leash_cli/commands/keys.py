"""`leash keys`: create, list and revoke leash virtual keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

keys_app = typer.Typer(help="Leash virtual keys: one per app or team, mapped to a tenant.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[Path | None, typer.Option("--db", help="history database (default ~/.leash/leash.db)")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="config file (for storage.path)")]


def _db(db: Path | None, config: Path | None) -> Path | str:
    from leash_cli.config import ConfigError, load_config
    from leash_cli.paths import resolve_db_path

    loaded = None
    if db is None:
        try:
            loaded = load_config(config)
        except ConfigError as e:
            if config is not None:
                err.print(f"[red]error:[/] {e.render()}", highlight=False)
                raise typer.Exit(2) from None
    return resolve_db_path(str(db) if db else None, loaded)


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="the tenant this key belongs to")],
    expires: Annotated[str | None, typer.Option(help="lifetime, e.g. 30d, 12h")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="what the key is for")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create a key.  It is shown once: store it where the app keeps its provider key."""
    from leash_cli.config import parse_duration
    from leash_cli.keys import create_key

    if not tenant.strip() or len(tenant) > 128:
        raise typer.BadParameter("a tenant name of 1 to 128 characters", param_hint="--tenant")
    try:
        ttl = parse_duration(expires) if expires else None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--expires") from None
    key, vk = create_key(_db(db, config), tenant, expires_in=ttl, description=description)
    if as_json:
        typer.echo(json.dumps({"key": key, "id": vk.id, "tenant": vk.tenant, "expires_at": vk.expires_at}))
        return
    console.print(
        f"created key [bold]{vk.id}[/] for tenant [bold]{tenant}[/]"
        + (f", expires {vk.expires_at}" if vk.expires_at else "")
    )
    console.print("This is the only time the key is shown:")
    typer.echo(key)


@keys_app.command("list")
def list_(
    db: DbOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List keys (ids and prefixes only: keys themselves are never stored)."""
    from leash_cli.keys import list_keys

    keys = list_keys(_db(db, config))
    if as_json:
        typer.echo(
            json.dumps(
                [k.__dict__ if hasattr(k, "__dict__") else {f: getattr(k, f) for f in k.__slots__} for k in keys]
            )
        )
        return
    t = Table("id", "prefix", "tenant", "created", "expires", "revoked", "description")
    for k in keys:
        t.add_row(
            k.id,
            k.prefix + "…",
            k.tenant,
            k.created_at,
            k.expires_at or "never",
            k.revoked_at or "",
            k.description or "",
        )
    console.print(t)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key id (from `leash keys list`)")],
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a key; running gateways refuse it within a second."""
    from leash_cli.keys import revoke_key

    if not revoke_key(_db(db, config), key_id):
        err.print(f"[red]error:[/] no active key with id {key_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
