"""`leash db`: the history database's schema, and moving a SQLite history into PostgreSQL.

- ``leash db migrate`` creates the schema or brings it up to date (``leash up``
  does the same at start); for SQLite and PostgreSQL alike.
- ``leash db migrate-sqlite PATH`` copies an existing SQLite history (requests,
  violations, audit log, virtual keys) into the PostgreSQL database of
  ``storage.url`` / ``$LEASH_DATABASE_URL`` / ``--url``.  Idempotent: run it
  again and nothing is copied twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

db_app = typer.Typer(help="The history database: migrations, and moving a SQLite history into PostgreSQL.",
                     no_args_is_help=True)

UrlOpt = Annotated[Optional[str], typer.Option(
    "--url", "--db", help="the database: a postgresql:// URL or a SQLite file (default: storage.url, "
                          "$LEASH_DATABASE_URL, storage.path, $LEASH_HOME/leash.db)")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="config file (for storage.url / storage.path)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _location(url: str | None, config: Path | None) -> Path | str:
    from leash_cli.config import ConfigError, load_config
    from leash_cli.paths import resolve_db_path

    loaded = None
    if url is None:
        try:
            loaded = load_config(config)
        except ConfigError as e:
            if config is not None:
                _fail(e.render(), 2)
    return resolve_db_path(url, loaded)


def _show(location: Path | str) -> str:
    from leash_cli.store.pg_url import redact_url

    return redact_url(location) if isinstance(location, str) else str(location)


@db_app.command("migrate")
def migrate(url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Create the history's schema or bring it up to date."""
    from leash_cli.store import StoreError, open_store

    location = _location(url, config)
    store = open_store(location)
    applied: list[str] | None = None
    try:
        report = getattr(store, "migrate_report", None)
        if report is not None:
            applied = report()
        else:
            store.migrate()
    except StoreError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps({"database": _show(location), "applied": applied}))
    elif applied:
        typer.echo(f"{_show(location)}: applied {', '.join(applied)}")
    else:
        typer.echo(f"{_show(location)}: schema up to date")


@db_app.command("migrate-sqlite")
def migrate_sqlite(
    path: Annotated[Path, typer.Argument(help="the SQLite history to copy (e.g. ~/.leash/leash.db)")],
    url: UrlOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy a SQLite history into the PostgreSQL database (safe to run again: nothing is copied twice)."""
    from leash_cli.store import StoreError, open_store
    from leash_cli.store.pg_url import is_postgres_url

    location = _location(url, config)
    if not is_postgres_url(location):
        _fail("migrate-sqlite copies into PostgreSQL: set storage.url or $LEASH_DATABASE_URL, or pass "
              "--url postgresql://user@host:5432/leash")
    from leash_cli.store.postgres import PostgresStore, copy_from_sqlite

    store = open_store(location)
    assert isinstance(store, PostgresStore)
    src = path.expanduser()
    counts: dict[str, Any]
    try:
        counts = copy_from_sqlite(store, src)
    except StoreError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps({"from": str(src), "to": _show(location), **counts}))
        return
    typer.echo(f"copied {src} into {_show(location)}: {counts['requests']} requests "
               f"({counts['requests_skipped']} already there), {counts['violations']} violations, "
               f"{counts['audit_log']} audit events, {counts['virtual_keys']} virtual keys")
