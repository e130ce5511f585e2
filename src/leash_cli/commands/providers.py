"""``leash providers``: the configured providers, their kinds, routes and endpoints, and whether
their credentials resolve -- without ever printing one.

Credentials, per provider:

==========  =====================================================================
``ok``      leash holds what it needs: an ``api_key`` (every deployment's, when the
            provider has none), or an upstream auth (Entra ID, SigV4, a service
            account) whose local check passes (``UpstreamAuth.check()``; no network)
``missing`` leash should hold credentials and does not: an ``api_key`` that expanded
            to nothing (an unset ``${VAR}``), an auth whose check fails
``client``  leash holds none: each client sends its own provider key
``none``    nothing needed (``kind: mock``)
==========  =====================================================================

Exits 1 when a provider's credentials are ``missing``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from leash_cli.config import ConfigError, LoadedConfig, ProviderConfig, load_config

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config file (default: $LEASH_CONFIG, ./leash.yaml, ...)")
]


def providers(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the configured providers: kind or preset, route, endpoint, and whether credentials resolve."""
    from rich.console import Console

    try:
        loaded = load_config(config)
    except ConfigError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e.render()}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    items = describe_providers(loaded)
    if as_json:
        print(json.dumps({"config": loaded.label, "providers": items}, indent=2))
    else:
        _table(loaded, items)
    if any(p["credentials"]["status"] == "missing" for p in items):
        raise typer.Exit(1)


def describe_providers(loaded: LoadedConfig) -> list[dict[str, Any]]:
    """One entry per provider (no secret in any of them)."""
    from leash_cli.dialects import for_api

    out = []
    for name, pc in loaded.config.providers.items():
        kind = pc.kind or name
        status, detail = credentials_of(name, pc)
        item: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "preset": pc.preset,
            "route": f"/v1/{name}/",
            "endpoint": _safe_url(pc.endpoint or ""),
            "deployments": [
                {"name": d.name, "endpoint": _safe_url(d.endpoint or pc.endpoint or ""), "weight": d.weight}
                for d in pc.deployments
            ],
            "pricing_provider": pc.pricing_provider or (None if kind == "mock" else for_api(kind).pricing_id),
            "credentials": {"status": status, "detail": detail},
        }
        if pc.deployment_models:
            item["deployment_models"] = dict(pc.deployment_models)
        out.append(item)
    return out


def credentials_of(name: str, pc: ProviderConfig) -> tuple[str, str]:
    """(status, how) of a provider's upstream credentials; see the module docstring."""
    from leash_cli.credentials import CredentialError, auth_for
    from leash_cli.dialects import for_api

    kind = pc.kind or name
    if kind == "mock":
        return "none", "answers in-process"
    try:
        auth = auth_for(name, pc)
    except CredentialError as e:
        return "missing", str(e)
    except ImportError as e:  # an optional extra not installed
        return "missing", f"cannot load its credentials: {e}"
    if auth is not None:
        why = auth.check()
        return ("missing", why) if why is not None else ("ok", auth.describe())
    header = pc.auth_header or for_api(kind).key_header
    if pc.api_key is not None:
        if pc.api_key.get_secret_value():
            return "ok", f"api_key set (sent upstream in {header})"
        return "missing", "api_key is empty (an unset ${VARIABLE}?)"
    deps = pc.deployments
    if deps and all(d.api_key is not None and d.api_key.get_secret_value() for d in deps):
        return "ok", f"each deployment's api_key set (sent upstream in {header})"
    empty = [d.name for d in deps if d.api_key is not None and not d.api_key.get_secret_value()]
    if empty:
        return "missing", f"deployment {empty[0]!r}: api_key is empty (an unset ${{VARIABLE}}?)"
    from leash_cli.presets import PRESETS

    preset = PRESETS.get(pc.preset or "")
    hint = f" (or set api_key: ${{{preset.key_env}}})" if preset is not None and preset.key_env else ""
    return "client", f"none held: clients send their own key in {header}{hint}"


def _safe_url(url: str) -> str:
    """A URL without user:password@ (a proxy-style endpoint must not print its password)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _table(loaded: LoadedConfig, items: list[dict[str, Any]]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    colour = {"ok": "green", "missing": "bold red", "client": "yellow", "none": "dim"}
    t = Table(title=f"providers in {loaded.label}", title_justify="left")
    for col in ("name", "kind", "route", "endpoint", "credentials"):
        t.add_column(col, overflow="fold")
    for p in items:
        kind = p["kind"] + (f" ({p['preset']})" if p["preset"] else "")
        endpoint = p["endpoint"]
        if p["deployments"]:
            endpoint += f" + {len(p['deployments'])} deployments"
        c = p["credentials"]
        creds = f"[{colour[c['status']]}]{c['status']}[/]: {_escape(c['detail'])}"
        t.add_row(p["name"], kind, p["route"], _escape(endpoint), creds)
    console.print(t)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
