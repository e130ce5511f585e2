"""`leash policy test`: replay recorded traffic through another config's pipeline (thin over leash_cli.dryrun)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from leash_cli.commands.options import since_option

policy_app = typer.Typer(help="Policy changes, tried on recorded traffic before they go live.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

_LABELS = {
    "newly_blocked": "newly blocked",
    "newly_rate_limited": "newly rate-limited",
    "newly_redacted": "newly redacted",
    "newly_allowed": "newly allowed",
}


def _fail(msg: str) -> typer.Exit:
    err.print(f"[red]error:[/] {msg}", highlight=False)
    return typer.Exit(2)


@policy_app.command("test")
def test(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="the config to try (its modules, tenants and pricing)")
    ],
    db: Annotated[
        Path | None,
        typer.Option("--db", help="history database (default: the new config's storage.path, else ~/.leash/leash.db)"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="replay exchanges from this long ago (e.g. 24h, 7d) or this ISO time on"),
    ] = None,
    last: Annotated[int | None, typer.Option("--last", min=1, help="replay only the newest N exchanges")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="replay only this tenant's exchanges")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    examples: Annotated[int, typer.Option("--examples", min=0, max=3, help="example request ids per rule (table)")] = 3,
) -> None:
    """Replay recorded exchanges through the pipeline of --config without calling any provider, and report
    what would change: per module and rule, exchanges newly blocked, rate-limited, redacted or allowed, with
    example request ids and the finding that decides each; cost saved or spent.  Exit 0 nothing changes,
    1 something would, 2 error."""
    from leash_cli.config import ConfigError, load_config
    from leash_cli.paths import resolve_db_path
    from leash_cli.store.backend import StoreError
    from leash_cli.store.factory import open_store

    if fmt not in ("table", "json"):
        raise _fail("--format must be table or json")
    if not config.is_file():
        raise _fail(f"no config file at {config}")
    try:
        loaded = load_config(config)
    except ConfigError as e:
        raise _fail(e.render()) from None
    since_iso = since_option(since, err)
    path = resolve_db_path(str(db) if db else None, loaded)
    try:
        reader = open_store(path).open_reader()
    except StoreError as e:
        raise _fail(str(e)) from None
    if not hasattr(reader, "replay_rows"):
        reader.close()
        raise _fail(f"the store at {path} cannot replay its history yet (its reader has no replay_rows)")
    try:
        total = reader.count_replay(since_iso, tenant, last)
        try:
            result = _run(reader, loaded, since_iso, tenant, last, total, fmt == "table")
        except ConfigError as e:
            raise _fail(e.render()) from None
        except (ValueError, TypeError, ImportError) as e:
            raise _fail(f"cannot build the pipeline of {config}: {e}") from None
    finally:
        reader.close()
    if fmt == "json":
        out = result.as_dict()
        out["config"] = str(config)
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _table(result, examples)
    raise typer.Exit(1 if result.changed else 0)


def _run(
    reader: Any, loaded: Any, since: str | None, tenant: str | None, last: int | None, total: int, show: bool
) -> Any:
    from leash_cli.dryrun import replay

    if not show or total < 2000 or not err.is_terminal:
        return replay(reader, loaded, since=since, tenant=tenant, last=last)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("replay", total=total)
        return replay(
            reader, loaded, since=since, tenant=tenant, last=last, progress=lambda n: bar.update(task, completed=n)
        )


def _table(r: Any, examples: int) -> None:
    console.print(
        f"replayed {r.total} exchanges in {r.seconds:.2f} s ({r.rate:,.0f}/s): {r.judged} judged, "
        f"{r.unchanged} unchanged, {r.changed} would change",
        highlight=False,
    )
    for why, n in sorted(r.not_judged.items()):
        console.print(f"  not judged: {n} — {why}", highlight=False)
    if r.response_not_judged:
        console.print(
            f"  judged on the request only: {r.response_not_judged} — response not stored whole "
            "(response-side modules not run)",
            highlight=False,
        )
    if r.changed:
        t = Table(show_lines=False)
        for col in ("change", "module", "rule", "exchanges", "cost USD", "examples (request id: finding)"):
            t.add_column(col, overflow="fold")
        for rc in sorted(r.rules.values(), key=lambda x: (-x.count, x.change, x.module, x.rule)):
            ex = "\n".join(f"{e.request_id}: {e.finding}" for e in rc.examples[:examples])
            t.add_row(_LABELS[rc.change], rc.module, rc.rule, str(rc.count), f"{rc.cost_usd:.4f}", ex)
        console.print(t)
        parts = [f"{n} {_LABELS[k]}" for k, n in r.changes.items() if n]
        console.print("would change: " + ", ".join(parts), highlight=False)
    console.print(
        f"cost saved: ${r.cost_saved_usd:.4f} (recorded cost of exchanges now refused); "
        f"cost spent: ${r.cost_spent_usd:.4f} (estimated for exchanges now let through"
        + (f"; {r.spent_unpriced} without a price to estimate from" if r.spent_unpriced else "")
        + ")",
        highlight=False,
    )
    console.print("[green]no decision would change[/]" if not r.changed else "[yellow]decisions would change[/]")
