"""`leash audit`: verify the tamper-evident audit chain and export it for a SIEM (thin over store.chain)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from leash_cli.commands.options import since_option

if TYPE_CHECKING:
    from leash_cli.store.chain import ChainSource

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify the chain, export it with its proofs.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="history database: a SQLite file or a postgresql:// URL (default ~/.leash/leash.db)"),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (storage.path, storage.audit_key_file)")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="only rows from this long ago on (e.g. 24h, 7d) or an ISO time")
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="the audit key (default: $LEASH_AUDIT_KEY, storage.audit_key_file, $LEASH_HOME/audit.key)"
    ),
]


def _open(db: Path | None, config: Path | None) -> tuple[ChainSource, str | None]:
    """(the chain source, the configured key file)."""
    from leash_cli.config import ConfigError, load_config
    from leash_cli.paths import resolve_db_path
    from leash_cli.store.backend import StoreError
    from leash_cli.store.factory import open_store

    loaded = None
    try:
        loaded = load_config(config) if (config is not None or db is None) else None
    except ConfigError as e:
        if config is not None:
            err.print(f"[red]error:[/] {e.render()}", highlight=False)
            raise typer.Exit(2) from None
    path = resolve_db_path(str(db) if db else None, loaded)
    try:
        store = open_store(path)
        if not hasattr(store, "open_chain"):
            err.print(f"[red]error:[/] the store at {path} keeps no audit chain yet", highlight=False)
            raise typer.Exit(2)
        src = store.open_chain()
    except StoreError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    return src, (loaded.config.storage.audit_key_file if loaded is not None else None)


@audit_app.command("verify")
def verify(
    db: DbOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = None,
    key_file: KeyOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Walk the audit chain: report every row edited, deleted or inserted, removed chain entries, forged or
    removed checkpoints, and a tail cut after the last checkpoint.  Exit 0 intact, 1 tampered, 2 error."""
    from leash_cli.store.chain import KeyError_, load_key
    from leash_cli.store.chain import verify as verify_chain

    if fmt not in ("table", "json"):
        err.print("[red]error:[/] --format must be table or json")
        raise typer.Exit(2)
    src, cfg_key = _open(db, config)
    try:
        key = load_key(key_file or cfg_key, create=False)
    except KeyError_ as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    try:
        rep = verify_chain(src, key, since_option(since, err))
    finally:
        src.close()
    if fmt == "json":
        sys.stdout.write(json.dumps(rep.as_dict(), indent=2) + "\n")
    else:
        cp = rep.last_checkpoint
        console.print(
            f"checked {rep.entries} chain entries and {rep.rows} rows"
            + (f"; {rep.pre_chain} older rows predate the chain" if rep.pre_chain else ""),
            highlight=False,
        )
        for t in rep.tombstones:
            console.print(
                f"retention removed the first {t.removed} entries of the {t.chain} chain "
                f"(up to entry {t.upto_seq}, {t.updated_at})",
                highlight=False,
            )
        if any(w.writer for w in rep.writers):  # PostgreSQL: each writer's chains, signed on their own
            for w in rep.writers:
                wcp = w.last_checkpoint
                console.print(
                    f"writer {w.writer}: {w.entries} entries, "
                    + ("no checkpoint" if wcp is None else f"last checkpoint {wcp.id} ({wcp.reason}, {wcp.created_at})")
                    + f", {w.unsigned_tail} not signed yet",
                    highlight=False,
                )
        if cp is None:
            console.print("no checkpoint yet: nothing is signed", highlight=False)
        else:
            console.print(
                f"last checkpoint {cp.id} ({cp.reason}, {cp.created_at}); "
                f"{rep.unsigned_tail} entries after it are not signed yet",
                highlight=False,
            )
        for f in rep.findings:
            console.print(f"[red]{f.problem.upper()}[/] {f.detail}", highlight=False)
        console.print(
            "[green]audit chain intact[/]" if rep.ok else f"[red]audit chain TAMPERED: {len(rep.findings)} findings[/]"
        )
    raise typer.Exit(0 if rep.ok else 1)


@audit_app.command("export")
def export(
    db: DbOpt = None,
    config: ConfigOpt = None,
    since: SinceOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one record per line)")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write here instead of stdout")] = None,
) -> None:
    """Write the chain with its proofs (row, row hash, previous hash, hash; checkpoints with their MACs;
    retention tombstones) as JSON lines for a SIEM."""
    from leash_cli.store.chain import export_records

    if fmt != "jsonl":
        err.print("[red]error:[/] --format must be jsonl")
        raise typer.Exit(2)
    src, _ = _open(db, config)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    n = 0
    try:
        for rec in export_records(src, since_option(since, err)):
            out.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
            n += 1
    finally:
        src.close()
        if output:
            out.close()
    if output:
        err.print(f"wrote {n} records to {output}", highlight=False)
