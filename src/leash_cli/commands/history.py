"""``leash logs`` and ``leash stats``: the history on the command line.

Thin over the store's reader (:class:`leash_cli.store.backend.HistoryReader`); wired into the main app with::

    app.add_typer(history.logs_app, name="logs")
    app.command("stats")(history.stats)
"""

from __future__ import annotations

import csv
import sys
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypedDict

import orjson
import typer

from leash_cli import money
from leash_cli.paths import resolve_db_path
from leash_cli.store.backend import HistoryReader, StoreError
from leash_cli.store.factory import label, open_store
from leash_cli.store.filters import FilterError
from leash_cli.store.queries import parse_since
from leash_cli.store.schema import REQUEST_COLUMNS

if TYPE_CHECKING:
    from rich.console import JustifyMethod

logs_app = typer.Typer(
    help="The history: every exchange leash has proxied (bare `leash logs` lists the newest).",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="history database (default: storage.path from the config, else $LEASH_HOME/leash.db)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="config whose storage.path to use (default: the usual search)")
]


# -- helpers ------------------------------------------------------------------------------


class _Filters(TypedDict):
    """The column filters of ``leash logs`` (None: no filter), passed on as keywords to the reader."""

    provider: str | None
    model: str | None
    tenant: str | None
    status: str | None
    outcome: str | None
    expr: str | None


def _console():
    """Rich console for tables; when piped, wide enough that nothing is cut."""
    from rich.console import Console

    wide = None if sys.stdout.isatty() else 200
    return Console(highlight=False, width=wide)


def _say(message: str, err: bool = False) -> None:
    """A plain message (never wrapped or styled: paths stay copyable)."""
    typer.echo(message, err=err)


def _db_path(explicit: Path | None, ctx: typer.Context | None = None, config: Path | None = None) -> Path | str:
    """--db, else storage.path of the config (--config or the usual search), else $LEASH_HOME/leash.db."""
    if ctx is not None:
        explicit = explicit or ctx.meta.get("leash_logs_db")
        config = config or ctx.meta.get("leash_logs_config")
    if explicit is not None:
        return resolve_db_path(str(explicit))
    from leash_cli.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as e:
        if config is not None:  # asked for explicitly: say why it cannot be used
            _fail(e.render())
        cfg = None  # a broken ./leash.yaml must not hide the history
    except Exception:
        cfg = None
    return resolve_db_path(None, cfg)


def _tenant_names(config: Path | None) -> dict[str, str]:
    """Tenants' display names (``tenants.<id>.name``) from the config, if one loads."""
    from leash_cli.config import load_config

    try:
        cfg = load_config(config)
    except Exception:  # names are a nicety: a config that does not load shows the ids
        return {}
    return {tid: t.name for tid, t in cfg.config.tenants.items() if t.name}


def _open(path: Path | str, ctx: typer.Context) -> HistoryReader:
    """The history's reader, or exit 0 with a friendly message when there is none yet.  The reader is
    closed when the command ends (its PostgreSQL connection pool too: a command run in-process, as by a
    test or an embedding tool, leaves no pool for the garbage collector to stop)."""
    store = open_store(path)
    if not store.exists():
        _say(f"no history yet at {label(path, store)} — run leash up", err=True)
        raise typer.Exit(0)
    try:
        reader = store.open_reader()
    except StoreError as e:
        _fail(str(e))
    ctx.call_on_close(reader.close)
    return reader


def _fail(message: str, code: int = 1) -> NoReturn:
    _say(f"error: {message}", err=True)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def _local_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        import datetime as dt

        t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
        return t.strftime("%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _fmt_hit_ratio(hits: int, misses: int) -> str:
    """response-cache hits of the requests it looked up, e.g. ``12 (40%)``."""
    looked = hits + misses
    return f"{hits:,} ({hits / looked:.0%})" if looked else "-"


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:.2f}s"
    return f"{v:.1f}ms" if v < 10 else f"{v:.0f}ms"


def _fmt_int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _fmt_cost(v: float | None) -> str:
    """A stored cost: six decimals below a cent, four from there (more when the amount needs them)."""
    if v is None:
        return "unpriced"
    return money.usd(v, decimals=6 if abs(v) < 0.01 else 4)


def _status_text(row: dict) -> str:
    status = row.get("status")
    outcome = row.get("outcome") or ""
    s = str(status) if status is not None else "-"
    if outcome and outcome != "ok":
        s += f" {outcome}"
    verdict = row.get("verdict")
    if verdict and verdict not in ("allowed", "blocked") and outcome != "blocked":
        s += f" ({verdict})"
    return s


def _table(rows: list[dict], show_header: bool = True):
    from rich.table import Table

    t = Table(show_header=show_header, header_style="bold", box=None, pad_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("time", "left"),
        ("id", "left"),
        ("tenant", "left"),
        ("provider", "left"),
        ("model", "left"),
        ("status", "left"),
        ("latency", "right"),
        ("in", "right"),
        ("out", "right"),
        ("cost", "right"),
    )
    for name, justify in columns:
        t.add_column(name, justify=justify, no_wrap=name in ("time", "id", "latency", "cost"))
    for r in rows:
        style = None
        if r.get("outcome") == "blocked":
            style = "yellow"
        elif r.get("outcome") not in (None, "ok"):
            style = "red"
        t.add_row(
            _local_time(r.get("started_at")),
            (r.get("id") or "")[:12],
            r.get("tenant") or "",
            r.get("provider") or "",
            r.get("model") or "",
            _status_text(r),
            _fmt_ms(r.get("latency_ms")),
            _fmt_int(r.get("input_tokens")),
            _fmt_int(r.get("output_tokens")),
            _fmt_cost(r.get("cost_usd")),
            style=style,
        )
    return t


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# -- leash logs ------------------------------------------------------------------------------


@logs_app.callback(invoke_without_command=True)
def logs(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="how many exchanges to list")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new exchanges as they arrive")] = False,
    provider: Annotated[str | None, typer.Option("--provider", help="only this provider")] = None,
    model: Annotated[str | None, typer.Option("--model", help="only this model")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="only this tenant")] = None,
    status: Annotated[str | None, typer.Option("--status", help="only this HTTP status (429, 5xx…)")] = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="only this outcome: ok, upstream_error, blocked, error, client_cancelled"),
    ] = None,
    query: Annotated[
        str | None, typer.Option("-q", "--query", help="full-text search of prompts and completions")
    ] = None,
    expr: Annotated[
        str | None,
        typer.Option(
            "--filter", "-F", help="a filter expression, as in the TUI: '~p openai & ~s 5xx', '~v', '~c >0.01'"
        ),
    ] = None,
    json_: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List recent exchanges (oldest of them first, like a log)."""
    if ctx.invoked_subcommand is not None:
        ctx.meta["leash_logs_db"] = db
        ctx.meta["leash_logs_config"] = config
        return
    path = _db_path(db, config=config)
    database = _open(path, ctx)
    filters = _Filters(provider=provider, model=model, tenant=tenant, status=status, outcome=outcome, expr=expr)
    try:
        rows = database.list_requests(count, query=query, **filters)
    except FilterError as e:
        _fail(f"bad filter: {e.message}\n  {e.text}\n  {' ' * e.pos}^", code=2)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    except Exception as e:  # an FTS syntax problem or a locked file, said plainly
        _fail(f"cannot read {path}: {e}")
    rows.reverse()
    if json_:
        if not follow:
            _print_json([_public(r) for r in rows])
        else:
            for r in rows:
                sys.stdout.write(orjson.dumps(_public(r)).decode() + "\n")
    elif rows or not follow:
        console = _console()
        if not rows:
            _say("no exchanges match" if any(filters.values()) or query else f"no exchanges yet in {path}")
        else:
            console.print(_table(rows))
    if not follow:
        return
    last = max((r["_rowid"] for r in rows), default=None)
    if last is None:
        last = database.max_rowid()
    try:
        while True:
            time.sleep(1.0)
            new = database.new_requests(last, query=query, **filters)
            if not new:
                continue
            last = new[-1]["_rowid"]
            if json_:
                for r in new:
                    sys.stdout.write(orjson.dumps(_public(r)).decode() + "\n")
                sys.stdout.flush()
            else:
                _console().print(_table(new, show_header=False))
    except KeyboardInterrupt:
        return


@logs_app.command("path")
def path_cmd(ctx: typer.Context, db: DbOption = None) -> None:
    """Print the history database path."""
    typer.echo(str(_db_path(db, ctx)))


@logs_app.command("show")
def show(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(metavar="ID", help="request id (x-leash-request-id) or a unique prefix")],
    json_: JsonOption = False,
    db: DbOption = None,
) -> None:
    """One exchange in full: headers, bodies, violations, timings, cost breakdown."""
    path = _db_path(db, ctx)
    if not open_store(path).exists():
        _say(f"no history yet at {path} — run leash up", err=True)
        raise typer.Exit(1)
    database = _open(path, ctx)
    try:
        row = database.get_request(request_id)
    except ValueError as e:
        _fail(str(e))
    if row is None:
        _fail(f"no exchange {request_id!r} in {path}")
    if json_:
        _print_json(row)
        return
    _render_exchange(row)


def _render_exchange(row: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = _console()
    c.print(f"[bold]{escape(row['id'])}[/bold]  {escape(row.get('started_at') or '')}")
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    pairs = [
        (
            "request",
            f"{row.get('method') or ''} {row.get('provider') or ''}/{row.get('path') or ''}"
            + (f"?{row['query']}" if row.get("query") else ""),
        ),
        ("tenant", row.get("tenant")),
        ("key", row.get("key_id")),
        ("client", row.get("client")),
        ("model", row.get("model")),
        (
            "status",
            f"{row.get('status')} {row.get('outcome')}  verdict: {row.get('verdict')}"
            + ("  (stream)" if row.get("stream") else ""),
        ),
        ("error", row.get("error")),
        (
            "latency",
            f"{_fmt_ms(row.get('latency_ms'))}  upstream {_fmt_ms(row.get('upstream_ms'))}  "
            f"overhead {_fmt_ms(row.get('overhead_ms'))}  ttft {_fmt_ms(row.get('ttft_ms'))}",
        ),
        (
            "tokens",
            f"in {_fmt_int(row.get('input_tokens'))} (cached {_fmt_int(row.get('cached_input_tokens'))}, "
            f"cache write {_fmt_int(row.get('cache_write_tokens'))})  out {_fmt_int(row.get('output_tokens'))} "
            f"(reasoning {_fmt_int(row.get('reasoning_tokens'))})",
        ),
        ("cost", _fmt_cost(row.get("cost_usd"))),
    ]
    for k, v in pairs:
        if v not in (None, ""):
            summary.add_row(k, escape(str(v)))
    c.print(summary)

    detail = row.get("cost_detail")
    if isinstance(detail, dict) and isinstance(detail.get("usd"), dict):
        t = Table(title=f"cost ({detail.get('source')}: {detail.get('model')})", box=None, title_justify="left")
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("part", "left"),
            ("tokens", "right"),
            ("$/M", "right"),
            ("USD", "right"),
        )
        for col, j in columns:
            t.add_column(col, justify=j)
        prices = detail.get("prices_per_million") or {}
        tokens = detail.get("tokens") or {}
        for part, usd in detail["usd"].items():
            t.add_row(part, _fmt_int(tokens.get(part)), f"{prices.get(part, 0):g}", money.amount(usd, decimals=8))
        c.print(t)
    timings = row.get("module_timings")
    if isinstance(timings, dict) and timings:
        t = Table(title="modules", box=None, title_justify="left")
        t.add_column("module")
        t.add_column("ms", justify="right")
        for k, v in timings.items():
            t.add_row(escape(str(k)), f"{v:.3f}" if isinstance(v, (int, float)) else str(v))
        c.print(t)
    if row.get("violations"):
        t = Table(title="violations", box=None, title_justify="left")
        for col in ("module", "type", "action", "severity", "field", "span", "detail"):
            t.add_column(col)
        for v in row["violations"]:
            span = f"{v['start']}-{v['end']}" if v.get("start") is not None else ""
            t.add_row(
                *(escape(str(v.get(k) or "")) for k in ("module", "type", "action", "severity", "field")),
                span,
                escape(str(v.get("detail") or "")),
            )
        c.print(t)
    for title, key in (("request headers", "request_headers"), ("response headers", "response_headers")):
        h = row.get(key)
        if isinstance(h, dict) and h:
            c.print(f"\n[bold]{title}[/bold]")
            for k, v in h.items():
                c.print(f"  {escape(k)}: {escape(str(v))}")
    for title, key, flag in (
        ("request body", "request_body", "request_body_truncated"),
        ("response body", "response_body", "response_body_truncated"),
        ("completion text", "response_text", None),
    ):
        body = row.get(key)
        if body:
            note = " (truncated)" if flag and row.get(flag) else ""
            c.print(f"\n[bold]{title}{note}[/bold]")
            c.print(body, markup=False, highlight=False)


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


@logs_app.command("export")
def export(
    ctx: typer.Context,
    format: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv")] = ExportFormat.jsonl,
    since: Annotated[str | None, typer.Option("--since", help="24h, 7d… or an ISO time (UTC)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    db: DbOption = None,
) -> None:
    """Export every column of the exchanges (oldest first)."""
    try:
        since_iso = parse_since(since)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--since") from None
    path = _db_path(db, ctx)
    database = _open(path, ctx)
    fh = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115 -- closed below unless stdout
    n = 0
    try:
        if format == ExportFormat.csv:
            w = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS), extrasaction="ignore")
            w.writeheader()
            for row in database.export_rows(since_iso, parse_json=False):
                w.writerow(row)
                n += 1
        else:
            for row in database.export_rows(since_iso):
                fh.write(orjson.dumps(row).decode() + "\n")
                n += 1
    finally:
        if out:
            fh.close()
    if out:
        _say(f"exported {n} exchanges to {out}", err=True)


@logs_app.command("vacuum")
def vacuum_cmd(ctx: typer.Context, db: DbOption = None) -> None:
    """Compact the database (VACUUM) and note it in the audit log."""
    path = _db_path(db, ctx)
    store = open_store(path)
    if not store.exists():
        _say(f"no history yet at {path} — run leash up", err=True)
        raise typer.Exit(0)
    try:
        before, after = store.vacuum()
    except StoreError as e:
        _fail(str(e))
    except Exception as e:
        _fail(f"cannot vacuum {path}: {e}")
    typer.echo(f"vacuumed {path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


@logs_app.command("backup")
def backup_cmd(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(metavar="PATH", help="new file for the copy")],
    db: DbOption = None,
) -> None:
    """Write a consistent copy of the database to PATH (VACUUM INTO)."""
    path = _db_path(db, ctx)
    _open(path, ctx)  # (there is a history to copy; the reader closes with the command)
    try:
        size = open_store(path).backup(dest)
    except StoreError as e:
        _fail(str(e))
    except Exception as e:
        _fail(f"cannot back up {path} to {dest}: {e}")
    typer.echo(f"backed up {path} to {dest} ({size / 1e6:.1f} MB)")


# -- leash stats ----------------------------------------------------------------------------


class StatsBy(str, Enum):
    provider = "provider"
    model = "model"
    tenant = "tenant"
    day = "day"


def stats(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="window: 24h, 7d… or an ISO time (UTC)")] = "24h",
    by: Annotated[StatsBy | None, typer.Option("--by", help="group by provider, model, tenant or day")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Requests, errors, tokens, cost and latency over a time window."""
    try:
        since_iso = parse_since(since)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--since") from None
    path = _db_path(db, config=config)
    database = _open(path, ctx)
    try:
        rows = database.stats(since_iso, by.value if by else None)
        if by is not None and by.value == "tenant":
            names = _tenant_names(config)
            for r in rows:
                r["name"] = names.get(r["group"])
    except Exception as e:
        _fail(f"cannot read {path}: {e}")
    if json_:
        _print_json({"since": since_iso, "by": by.value if by else None, "groups": rows})
        return
    console = _console()
    if not rows:
        _say(f"no exchanges since {since_iso}")
        return
    from rich.table import Table

    t = Table(title=f"since {_local_time(since_iso)} ({since})", title_justify="left", box=None, header_style="bold")
    cols: list[tuple[str, JustifyMethod]] = [
        ("requests", "right"),
        ("errors", "right"),
        ("blocked", "right"),
        ("tokens in", "right"),
        ("tokens out", "right"),
        ("cost", "right"),
        ("p50", "right"),
        ("p95", "right"),
        ("overhead p50", "right"),
        ("overhead p95", "right"),
    ]
    cached = any(r.get("cache_hits") or r.get("cache_misses") for r in rows)  # response-cache is on
    if cached:
        cols.insert(6, ("cache hits", "right"))
    if by:
        t.add_column(by.value)
    for name, j in cols:
        t.add_column(name, justify=j)
    for r in rows:
        cost = "unpriced" if r["cost_usd"] is None else _fmt_cost(r["cost_usd"])
        if r["cost_usd"] is not None and r.get("unpriced"):
            cost += f" (+{r['unpriced']} unpriced)"
        cells = [
            _fmt_int(r["requests"]),
            _fmt_int(r["errors"]),
            _fmt_int(r["blocked"]),
            _fmt_int(r["input_tokens"]),
            _fmt_int(r["output_tokens"]),
            cost,
            _fmt_ms(r["p50_latency_ms"]),
            _fmt_ms(r["p95_latency_ms"]),
            _fmt_ms(r["p50_overhead_ms"]),
            _fmt_ms(r["p95_overhead_ms"]),
        ]
        if cached:
            cells.insert(6, _fmt_hit_ratio(r.get("cache_hits") or 0, r.get("cache_misses") or 0))
        if by:
            group = str(r["group"]) if r["group"] is not None else "(none)"
            cells.insert(0, f"{group} ({r['name']})" if r.get("name") else group)
        t.add_row(*cells)
    console.print(t)
