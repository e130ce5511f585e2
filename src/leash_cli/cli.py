"""The ``leash`` command line: thin over the library.

Each command parses its arguments and calls into the package; front ends with
heavy imports (the TUI, the gRPC host) are imported only when their command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leash_cli import __version__
from leash_cli.config import ConfigError, LoadedConfig, load_config

app = typer.Typer(
    name="leash",
    help="leash: a local-first security gateway for OpenAI, Anthropic and Google model APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Validate and show the gateway config.", no_args_is_help=True)
app.add_typer(config_app, name="config")

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: $LEASH_CONFIG, ./leash.yaml, ...)")
]


def _load(path: Path | None) -> LoadedConfig:
    try:
        return load_config(path)
    except ConfigError as e:
        err.print(f"[bold red]error:[/] {e.render()}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"leash {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    pass


@app.command()
def up(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind (default 8080; 0 picks a free one)")] = None,
    db: Annotated[Path | None, typer.Option(help="history database (default ~/.leash/leash.db)")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="do not write the history")] = False,
    reload: Annotated[bool, typer.Option("--reload", help="reload the config when its file changes")] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json")] = None,
) -> None:
    """Run the gateway."""
    from leash_cli.logconfig import setup_logging
    from leash_cli.server import build_gateway, run

    loaded = _load(config)
    gw_cfg = loaded.config.gateway
    setup_logging(log_format or gw_cfg.log_format, gw_cfg.log_level)
    overrides = {"host": host} if host else {}
    host = host or gw_cfg.host
    port = gw_cfg.port if port is None else port
    try:
        gateway = build_gateway(loaded, db_path=db, record=not no_record, overrides=overrides)
    except Exception as e:  # a store or module problem, said plainly
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    run(gateway, host, port, config_path=config, db_path=db, watch=reload, console=console)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the config")] = Path("leash.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented starter config."""
    from leash_cli.resources import data_dir

    if path.exists() and not force:
        err.print(f"[red]error:[/] {path} exists; use --force to overwrite it")
        raise typer.Exit(1)
    text = (data_dir("configs") / "starter.yaml").read_text()
    path.write_text(text)
    console.print(f"wrote {path} — start with: leash up --config {path}")


ConfigPathArg = Annotated[
    Path | None, typer.Argument(metavar="[PATH]", help="config file (default: the one `leash up` would use)")
]


def _one_config(path: Path | None, config: Path | None) -> Path | None:
    """`leash config validate|show [PATH] [-c/--config PATH]`: either form, not two different files."""
    if path is not None and config is not None and path != config:
        err.print(
            f"[bold red]error:[/] two config files given ({path} and --config {config}); pass one",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return path if path is not None else config


#: the modules that look at what is sent: without one of them enabled nothing is protected
SECURITY_MODULES = ("secrets-detector", "pii-detector", "prompt-injection", "content-filter")


def config_warnings(loaded: LoadedConfig, slots: list) -> list[str]:
    """What makes a valid config useless or unprotected: no providers, no security module."""
    cfg = loaded.config
    out = []
    if not cfg.providers:
        out.append(
            "no providers: every request gets 404 unknown_provider (add a `providers:` section; "
            "`leash init` writes one)"
        )
    if not any(s.name in SECURITY_MODULES or hasattr(s.module, "scan") for s in slots):
        out.append(
            "no security modules enabled: prompts are not checked for secrets, personal data or injection "
            "(`leash init`'s starter enables secrets-detector, pii-detector and prompt-injection)"
        )
    return out


@config_app.command("validate")
def config_validate(
    path: ConfigPathArg = None,
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 when there are warnings")] = False,
) -> None:
    """Check a config file and its modules; exit 2 with the file, key and line of each problem."""
    from leash_cli.registry import build_slots

    loaded = _load(_one_config(path, config))
    cfg = loaded.config
    try:
        slots, _ = build_slots(loaded)
    except ConfigError as e:
        err.print(f"[bold red]error:[/] {e.render()}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    warnings = config_warnings(loaded, slots)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    console.print(
        f"[green]ok[/] {loaded.label}: {len(cfg.providers)} providers, {len(cfg.modules)} modules, "
        f"{len(cfg.tenants)} tenants" + (f" ({len(warnings)} warning{'s' * (len(warnings) > 1)})" if warnings else "")
    )
    if warnings and strict:
        raise typer.Exit(1)


@config_app.command("show")
def config_show(
    path: ConfigPathArg = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of YAML")] = False,
) -> None:
    """Print the resolved config with secrets masked."""
    import json

    import yaml

    from leash_cli.config import mask_secrets

    loaded = _load(_one_config(path, config))
    data = loaded.config.model_dump(mode="python", exclude_none=True)
    for p, pc in loaded.config.providers.items():
        if pc.api_key is not None and pc.api_key.get_secret_value():
            from leash_cli.config import mask

            data["providers"][p]["api_key"] = mask(pc.api_key.get_secret_value())
        else:
            data["providers"][p].pop("api_key", None)
    data = mask_secrets(data)
    console.print(f"# {loaded.label}", highlight=False)
    if as_json:
        console.print_json(json.dumps(data, default=str))
    else:
        console.print(yaml.safe_dump(data, sort_keys=False), highlight=False, markup=False)


@app.command()
def tui(
    db: Annotated[Path | None, typer.Option(help="history database (default ~/.leash/leash.db)")] = None,
    url: Annotated[str | None, typer.Option(help="running gateway, for health and replay (http://host:port)")] = None,
    config: ConfigOpt = None,
    key: Annotated[str | None, typer.Option(help="key sent with replays (default $LEASH_REPLAY_KEY)")] = None,
) -> None:
    """Watch traffic, cost and violations live in the terminal."""
    from leash_cli.paths import resolve_db_path
    from leash_cli.tui import run_tui

    cfg = None
    if config is not None or db is None:
        try:
            cfg = load_config(config).config
        except ConfigError:
            cfg = None
    if url is None and cfg is not None:
        url = f"http://{cfg.gateway.host}:{cfg.gateway.port}"
    raise typer.Exit(run_tui(resolve_db_path(str(db) if db else None, cfg), url, config=cfg, key=key))


def _register_optional() -> None:
    """Command groups that live in their own modules (commands/*.py)."""
    import importlib

    def load(name: str):
        try:
            return importlib.import_module(f"leash_cli.commands.{name}")
        except ImportError as e:  # only a part still being built may be missing
            if e.name != f"leash_cli.commands.{name}":
                raise
            return None

    if config_reference := load("config_reference"):
        config_app.command("reference")(config_reference.reference)
    if history := load("history"):
        app.add_typer(history.logs_app, name="logs")
        app.command("stats")(history.stats)
    if keys := load("keys"):
        app.add_typer(keys.keys_app, name="keys")
    if db := load("db"):
        app.add_typer(db.db_app, name="db")
    if modules := load("modules"):
        app.add_typer(modules.module_app, name="module")
    if scan := load("scan"):
        app.command("scan")(scan.scan)
    if audit := load("audit"):
        app.add_typer(audit.audit_app, name="audit")
    if policy := load("policy"):
        app.add_typer(policy.policy_app, name="policy")
    if providers := load("providers"):
        app.command("providers")(providers.providers)
    if extproc := load("extproc"):
        app.command("ext-proc")(extproc.ext_proc)
        app.add_typer(extproc.export_app, name="export")


_register_optional()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
