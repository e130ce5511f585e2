"""``leash export compose``: Envoy + N leash module hosts + Redis + Prometheus as a compose project.

The history: a SQLite file on a volume the replicas share (``--store sqlite``, the default: one
machine), or a PostgreSQL service (``--store postgres``): its credentials and the audit log's
signing key in ``postgres.env`` (generated once, mode 0600, git-ignored, never overwritten), a
one-shot ``migrate`` service that brings the schema up to date before the module hosts start,
and module hosts that keep no state of their own.

Everything is rendered from ``templates/compose/`` by :func:`leash_cli.render.render_tree`
with values computed here; the user's config is copied as data (YAML dumped
by ``yaml.safe_dump``), with every literal secret (``api_key``, deployments' keys,
key-bearing ``headers`` and ``query`` values, a proxy password) replaced by a
``${VAR}`` reference; the values go to ``.env`` (mode 0600, listed in ``.gitignore``).
An export that would still write a configured secret into another file is refused.

The deployment serves traffic as its README says:

- Behind Envoy a leash key is required (``gateway.require_virtual_key`` unless the
  config says ``false``), so every routed provider holds its key on the gateway:
  a provider without ``api_key`` reads ``${NAME_API_KEY}`` from ``.env``, and the
  README's first step after ``docker compose up`` creates the first leash key in the
  deployment's store.  With ``require_virtual_key: false`` clients' own provider keys
  pass through (the export warns).
- Custom modules (``modules_dir:``) are copied into ``modules/`` and mounted.
- The exported config is loaded with leash's own loader (modules included) before
  anything is written; an export that would not start is refused.
- The image installs leash from a wheel of the running leash (``wheels/``), built by
  the export, not from the package index.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from leash_cli import __version__
from leash_cli.config import _ENV, ConfigError, LoadedConfig, expand_env, load_config, parse_config_text
from leash_cli.core.secrets import secret_bearing
from leash_cli.extproc.envoy import (
    ENVOY_TLS_DIR,
    EnvoyExportError,
    envoy_context,
    envoy_version,
    find_envoy,
    routable,
    tls_files,
)
from leash_cli.extproc.envoy import notes as envoy_notes
from leash_cli.providers import build_providers
from leash_cli.render import CREATED, UNCHANGED, UPDATED, render_tree
from leash_cli.resources import data_dir

#: Envoy image tag when no envoy binary is installed to read the version from.
DEFAULT_ENVOY_VERSION = "1.40.0"
REDIS_URL = "redis://redis:6379/0"
EXT_PROC_PORT = 50051
METRICS_PORT = 9464
#: where the module hosts find the deployment's files
MODULES_DIR = "modules"  # beside leash.yaml: ./modules -> /etc/leash/modules
DB_IN_IMAGE = "/data/leash.db"
STORES = ("sqlite", "postgres")
#: the deployment's PostgreSQL (the password comes from PGPASSWORD, in postgres.env)
DATABASE_URL = "postgresql://leash@postgres:5432/leash"
POSTGRES_IMAGE = "postgres:17-alpine"
POSTGRES_ENV = "postgres.env"
FIRST_TENANT = "default"
_VAR_SAFE = re.compile(r"[^A-Z0-9_]")


class ExportError(ValueError):
    """An export that would not run; the message says why."""


@dataclass
class ExportPlan:
    context: dict[str, str]
    leash_yaml: str
    env_vars: list[str]
    moved_secrets: list[str] = field(default_factory=list)  # providers whose literal key went to .env
    skipped: list[str] = field(default_factory=list)  # providers Envoy cannot route to (mock)
    envoy_version: str = DEFAULT_ENVOY_VERSION
    virtual_keys: bool = True  # clients send a leash key (require_virtual_key is not false)
    held_keys: dict[str, str] = field(default_factory=dict)  # provider -> env var its key is read from
    modules: dict[str, str] = field(default_factory=dict)  # relative path in the deploy folder -> text
    modules_from: Path | None = None  # the modules_dir copied
    notes: list[str] = field(default_factory=list)
    start_steps: list[str] = field(default_factory=list)  # the README's Start commands
    env_values: dict[str, str] = field(default_factory=dict)  # the literal secrets moved out: written to .env
    tls: dict[str, str] = field(default_factory=dict)  # tls/NAME.pem -> its text (Envoy's CA / client certs)


def _raw_config(loaded: LoadedConfig) -> dict[str, Any]:
    if loaded.path is not None:
        data = yaml.safe_load(Path(loaded.path).read_text(encoding="utf-8")) or {}
    else:
        data = yaml.safe_load((data_dir("configs") / "default.yaml").read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError("the config's top level must be a mapping")
    return data


def _env_refs(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.extend(m.group(1) for m in _ENV.finditer(value))
    elif isinstance(value, dict):
        for v in value.values():
            _env_refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _env_refs(v, out)


def _var(name: str, suffix: str = "_API_KEY") -> str:
    return _VAR_SAFE.sub("_", str(name).upper()) + suffix


def module_host_config(loaded: LoadedConfig, store: str = "sqlite") -> tuple[dict[str, Any], list[str], list[str]]:
    """The config the module hosts run: shared state in Redis, the history in the deployment's store
    (``--db /data/leash.db``, or the ``postgres`` service), no secret inlined.

    Returns (config, env var names it reads, providers whose literal key was moved out).
    """
    data, moved, _ = _move_secrets(_raw_config(loaded))
    data["state"] = REDIS_URL
    storage = data.get("storage")
    if isinstance(storage, dict):
        storage.pop("path", None)  # the module hosts use --db /data/leash.db (the shared volume)
        storage.pop("url", None)  # ... or the deployment's own PostgreSQL
    if store == "postgres":
        if not isinstance(storage, dict):
            storage = data["storage"] = {}
        storage["url"] = DATABASE_URL
    refs: list[str] = []
    _env_refs(data, refs)
    return data, sorted(dict.fromkeys(refs)), moved


def _literal(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not _ENV.search(value)


def _move_secrets(data: dict[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Every literal secret of the providers replaced by a ``${VAR}`` reference: ``api_key``, each
    deployment's ``api_key``, key-bearing ``headers`` and ``query`` values, a proxy URL with a
    password.  Returns (data, what was moved as config paths, env var -> the literal value)."""
    moved: list[str] = []
    values: dict[str, str] = {}

    def move(where: str, holder: dict[str, Any], field_name: Any, var: str) -> None:
        values[var] = str(holder[field_name])
        holder[field_name] = "${" + var + "}"
        moved.append(where)

    for name, pc in (data.get("providers") or {}).items():
        if not isinstance(pc, dict):
            continue
        if _literal(pc.get("api_key")):
            move(f"providers.{name}.api_key", pc, "api_key", "LEASH_" + _var(name))
        for dep in pc.get("deployments") or ():
            if isinstance(dep, dict) and _literal(dep.get("api_key")):
                dname = dep.get("name", "")
                move(
                    f"providers.{name}.deployments.{dname}.api_key",
                    dep,
                    "api_key",
                    "LEASH_" + _var(f"{name}_{dname}"),
                )
        for section in ("headers", "query"):
            d = pc.get(section)
            if not isinstance(d, dict):
                continue
            for k in list(d):
                if _literal(d[k]) and (secret_bearing(str(k)) or str(k).lower() == "authorization"):
                    move(f"providers.{name}.{section}.{k}", d, k, "LEASH_" + _var(f"{name}_{section}_{k}", ""))
        proxy = pc.get("proxy")
        if _literal(proxy) and "@" in str(proxy) and urlsplit(str(proxy)).password:
            move(f"providers.{name}.proxy", pc, "proxy", "LEASH_" + _var(name, "_PROXY"))
    return data, moved, values


def _refuse_literal_secrets(loaded: LoadedConfig, texts: dict[str, str]) -> None:
    """An export that would write a configured secret's value into a file other than .env is refused."""
    from leash_cli.core.secrets import configured_secrets

    for secret in configured_secrets(loaded.config):
        for fname, text in texts.items():
            if secret in text:
                raise ExportError(
                    f"refusing to write a literal secret into {fname} (a value the config holds as a secret: "
                    f"{secret[:3]}...); write it as a ${{VAR}} reference and set VAR in .env"
                )


def _requires_virtual_key(data: dict[str, Any]) -> bool:
    gw = data.get("gateway")
    return not (isinstance(gw, dict) and gw.get("require_virtual_key") is False)


def _hold_provider_keys(data: dict[str, Any], routed: list[str]) -> dict[str, str]:
    """Behind Envoy clients send leash keys: a routed provider without a key reads ${NAME_API_KEY}."""
    held: dict[str, str] = {}
    providers = data.get("providers")
    if not isinstance(providers, dict):
        providers = data["providers"] = {}
    for name in routed:
        pc = providers.get(name)
        if not isinstance(pc, dict):
            pc = providers[name] = {}
        key = pc.get("api_key")
        if isinstance(key, str) and key:
            refs = [m.group(1) for m in _ENV.finditer(key)]
            held[name] = refs[0] if refs else ""
            continue
        var = _var(name)
        pc["api_key"] = "${" + var + "}"
        held[name] = var
    return held


def _modules_folder(loaded: LoadedConfig, data: dict[str, Any]) -> tuple[Path | None, dict[str, str], list[str]]:
    """The custom modules to copy (relative path -> text) from `modules_dir:`; the key is rewritten."""
    md = data.get("modules_dir")
    if not md:
        return None, {}, []
    folder = Path(str(md)).expanduser()
    if not folder.is_absolute():
        folder = (loaded.path.parent if loaded.path is not None else Path.cwd()) / folder
    if not folder.is_dir():
        data.pop("modules_dir")
        return None, {}, [f"modules_dir {md!r} ({folder}) is not a folder: no custom modules exported"]
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts) or rel.name.startswith("test_"):
            continue
        try:
            files[f"{MODULES_DIR}/{rel.as_posix()}"] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ExportError(f"cannot copy the custom module {path}: {e}") from None
    data["modules_dir"] = MODULES_DIR  # beside leash.yaml, in the deploy folder and in the image
    return folder, files, []


def validate_export(leash_yaml: str, modules: dict[str, str]) -> None:
    """Load the exported config as a module host would (leash's loader, its modules); raise if it fails."""
    from leash_cli.registry import build_slots

    with tempfile.TemporaryDirectory(prefix="leash-export-") as tmp:
        root = Path(tmp)
        (root / "leash.yaml").write_text(leash_yaml, encoding="utf-8")
        for rel, text in modules.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        try:
            loaded = load_config(root / "leash.yaml")
            build_slots(loaded)
        except ConfigError as e:
            detail = "\n".join("  " + p.replace(str(root / "leash.yaml"), "leash.yaml") for p in e.problems)
            raise ExportError(f"the exported leash.yaml would not load in the module hosts:\n{detail}") from None


def _client_curl(providers: dict, names: list[str], virtual_keys: bool) -> list[str]:
    """The README's example request, to the first routed provider, with the key clients send."""

    def key(name: str) -> str:
        return "$LEASH_KEY" if virtual_keys else "$" + _var(name)

    order = sorted(names, key=lambda n: (n != "openai", providers[n].kind != "openai", n))
    if not order:
        return []
    name = order[0]
    kind = providers[name].kind
    if kind == "anthropic":
        return [
            f'curl -s localhost:8080/v1/{name}/messages -H "x-api-key: {key(name)}" \\',
            "     -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \\",
            """     -d '{"model":"claude-3-5-haiku-latest","max_tokens":64,"""
            """"messages":[{"role":"user","content":"hi"}]}'""",
        ]
    if kind == "google":
        return [
            f"curl -s localhost:8080/v1/{name}/v1beta/models/gemini-2.0-flash:generateContent "
            f'-H "x-goog-api-key: {key(name)}" \\',
            "     -H 'content-type: application/json' \\",
            """     -d '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'""",
        ]
    return [
        f'curl -s localhost:8080/v1/{name}/chat/completions -H "authorization: Bearer {key(name)}" \\',
        "     -H 'content-type: application/json' \\",
        """     -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'""",
    ]


def first_key_command(store: str = "sqlite") -> str:
    return (
        f"export LEASH_KEY=$(docker compose run --rm -T leash leash keys create --tenant {FIRST_TENANT} "
        f"--db {db_location(store)} | tail -n 1)"
    )


def db_location(store: str) -> str:
    """Where the module hosts (and commands run in their image) find the history."""
    return DATABASE_URL if store == "postgres" else DB_IN_IMAGE


def _part(name: str, context: dict[str, str]) -> str:
    from string import Template

    return Template((data_dir("templates") / "compose-parts" / name).read_text(encoding="utf-8")).substitute(context)


def store_context(store: str) -> dict[str, str]:
    """The template values that differ between the SQLite and the PostgreSQL deployment."""
    if store not in STORES:
        raise ExportError(f"unknown store {store!r}: expected one of {', '.join(STORES)}")
    values = {"database_url": DATABASE_URL, "postgres_image": POSTGRES_IMAGE, "leash_version": __version__}
    if store == "postgres":
        return {
            "db_args": "",
            "leash_env_files": f"      - .env\n      - {POSTGRES_ENV}\n",
            "data_mount": "",
            "leash_depends": "      migrate:\n        condition: service_completed_successfully\n",
            "store_services": _part("postgres-services.yaml", values),
            "store_volume": "  postgres-data: {}\n",
            "secrets_note": f" and {POSTGRES_ENV} (the database password, generated)",
            "store_line": f"PostgreSQL (history, service `postgres`, volume `postgres-data`; {POSTGRES_ENV})",
            "db_location": DATABASE_URL,
            "history_text": _part("README-postgres.md", values),
        }
    return {
        "db_args": f', "--db", "{DB_IN_IMAGE}"',
        "leash_env_files": "      - .env\n",
        "data_mount": "      - leash-data:/data\n",
        "leash_depends": "",
        "store_services": "",
        "store_volume": "  leash-data: {}\n",
        "secrets_note": "",
        "store_line": f"{DB_IN_IMAGE} (history, volume `leash-data`)",
        "db_location": DB_IN_IMAGE,
        "history_text": _part("README-sqlite.md", values),
    }


def _extras(store: str, data: dict[str, Any]) -> str:
    """The leash extras the image installs: ``postgres`` for the PostgreSQL store, ``otel`` when the
    config sends traces."""
    extras = []
    if store == "postgres":
        extras.append("postgres")
    telemetry = data.get("telemetry")
    if isinstance(telemetry, dict) and telemetry.get("otlp_endpoint"):
        extras.append("otel")
    return f"[{','.join(extras)}]" if extras else ""


def _wheel_install(wheel: str, extras: str) -> str:
    """What the Dockerfile's ``pip install`` takes: the wheel, with its extras (quoted for the shell)."""
    return f'"/tmp/wheels/{wheel}{extras}"' if extras else f"/tmp/wheels/{wheel}"


def plan(loaded: LoadedConfig, replicas: int = 2, store: str = "sqlite") -> ExportPlan:
    stored = store_context(store)
    data, _, _ = module_host_config(loaded, store)
    _, moved, env_values = _move_secrets(_raw_config(loaded))
    virtual_keys = _requires_virtual_key(data)
    # the providers as the module hosts will see them (env references expanded to nothing is fine:
    # only endpoints matter for Envoy's routes)
    cfg = parse_config_text(yaml.safe_dump(expand_env(data, {})), "leash.yaml")
    providers = build_providers(cfg)
    signed = sorted(n for n, p in providers.items() if p.kind == "bedrock")
    if signed:  # bedrock: SigV4 covers the body, which Envoy sends after leash's header mutation
        raise ExportError(
            f"provider {signed[0]!r} is kind bedrock: its requests are signed with AWS SigV4 over the body, "
            "which the Envoy deployment cannot do yet; serve it from the local gateway (`leash up`)"
        )
    skipped = sorted(set(providers) - set(routable(providers)))
    names = sorted(routable(providers))
    vertex = [n for n in names if providers[n].kind == "vertex"]
    if vertex:  # its OAuth token needs google-auth and the Google credentials inside the module host image
        raise ExportError(
            f"providers.{vertex[0]}: kind vertex cannot be exported yet (the module host image has neither "
            "google-auth nor the Google credentials); serve it with `leash up`, or leave it out of the exported config"
        )
    held = _hold_provider_keys(data, names) if virtual_keys else {}
    modules_from, modules, notes = _modules_folder(loaded, data)
    env_vars: list[str] = []
    _env_refs(data, env_vars)
    env_vars = sorted(dict.fromkeys(env_vars))
    header = (
        "# leash config of the module hosts (generated by `leash export compose` from "
        f"{loaded.label}).\n# Secrets are ${{VAR}} references to .env; limits are shared in Redis.\n"
    )
    if virtual_keys:
        header += (
            "# Clients send a leash key (`leash keys create`); the gateway holds each provider's key "
            "(api_key below, from .env).\n"
        )
    leash_yaml = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    _refuse_literal_secrets(loaded, {"leash.yaml": leash_yaml, **modules})
    validate_export(leash_yaml, modules)
    binary = find_envoy()
    version = envoy_version(binary) if binary is not None else DEFAULT_ENVOY_VERSION
    try:  # what Envoy cannot do as the gateway does is refused here, before anything is written
        ctx = envoy_context(providers, ext_proc=[("leash", EXT_PROC_PORT)], dns=True, tls_dir=ENVOY_TLS_DIR)
    except EnvoyExportError as e:
        raise ExportError(str(e)) from None
    tls = _tls_texts(providers)
    from leash_cli.extproc.wheel import wheel_name

    held_vars = {v: n for n, v in held.items() if v}
    env_lines = "".join(
        (
            f"# the key of provider {held_vars[v]!r}: the gateway sends it upstream (clients send leash keys)\n"
            if v in held_vars
            else ""
        )
        + f"{v}=\n"
        for v in env_vars
    )
    start = [
        "cp .env.example .env        # "
        + ("then fill in " + ", ".join(f"{v}=..." for v in env_vars) if env_vars else "the config reads no variables"),
        "docker compose up -d --build",
    ]
    if virtual_keys:
        start += [
            "# the first leash key (shown once): clients send it in place of a provider key",
            first_key_command(store),
        ]
    start += ["curl -s localhost:8080/health", *_client_curl(providers, names, virtual_keys)]
    if virtual_keys:
        keys_text = (
            "Clients authenticate with a **leash key** (`lk-...`), not a provider key: the gateway holds the\n"
            "provider keys (`.env`: " + (", ".join(f"`{v}`" for v in held_vars) or "none") + ")\n"
            "and `gateway.require_virtual_key` is on behind Envoy. SDKs take the leash key as their API key\n"
            "(e.g. `OPENAI_API_KEY=$LEASH_KEY OPENAI_BASE_URL=http://HOST:8080/v1/openai`).\n"
            "The first key is created in the deployment's store ("
            + ("the `postgres` service" if store == "postgres" else "`/data/leash.db` on the `leash-data` volume")
            + ")\nby the Start steps; more with `docker compose run --rm -T leash leash keys create --tenant TEAM "
            f"--db {db_location(store)}`.\n"
            "A provider left empty in `.env` cannot be used (`403 no_gateway_key`).\n"
        )
    else:
        keys_text = (
            "`gateway.require_virtual_key: false`: clients send their own provider keys, which pass through\n"
            "to the provider. Anyone who can reach port 8080 can use it with their own key; leash keys\n"
            "(`leash keys create`) work too for providers that hold a key on the gateway.\n"
        )
    if modules:
        modules_text = (
            "Custom modules: `modules/` (copied by the export from the config's `modules_dir`) is\n"
            "mounted at `/etc/leash/modules`; `leash.yaml` loads them with `modules_dir: modules`.\n"
            "Re-run the export after changing them (or edit `modules/` here, then\n"
            "`docker compose kill -s HUP leash`).\n"
        )
    else:
        modules_text = ""
    ctx.update(
        {
            "envoy_image": f"envoyproxy/envoy:v{version}",
            "leash_version": __version__,
            "wheel_name": wheel_name(),
            "replicas": str(int(replicas)),
            "ext_proc_port": str(EXT_PROC_PORT),
            "metrics_port": str(METRICS_PORT),
            "env_lines": env_lines or "# (the config reads no environment variables)\n",
            "provider_list": "".join(f"- `/v1/{n}/...` -> {providers[n].endpoint}\n" for n in names) or "- (none)\n",
            "skipped_note": (
                f"Not routed through Envoy: {', '.join(skipped)} (the offline mock has no upstream).\n"
                if skipped
                else ""
            ),
            "start_steps": "".join(f"    {line}\n" for line in start),
            "keys_text": keys_text,
            "modules_text": modules_text,
            "modules_mount": (f"      - ./{MODULES_DIR}:/etc/leash/{MODULES_DIR}:ro\n" if modules else ""),
            "envoy_tls_mount": f"      - ./tls:{ENVOY_TLS_DIR}:ro\n" if tls else "",
            "wheel_install": _wheel_install(wheel_name(), _extras(store, data)),
            **stored,
        }
    )
    notes += envoy_notes(providers)
    if tls:
        notes.append(
            f"tls/ holds the certificate files Envoy reads ({', '.join(sorted(tls))}), mounted at "
            f"{ENVOY_TLS_DIR}; keep it private when it holds a client key"
        )
    if not names:
        notes.append(
            "no provider is routed through Envoy (add one with an endpoint to the config): "
            "the deployment would serve only /health"
        )
    if not virtual_keys:
        notes.append(
            "gateway.require_virtual_key is false: clients' own provider keys pass through Envoy, "
            "and anyone who reaches port 8080 can use the gateway with their own key"
        )
    for name, var in held.items():
        if not var:
            notes.append(f"provider {name!r} has an api_key that reads no variable")
    return ExportPlan(
        ctx,
        leash_yaml,
        env_vars,
        moved,
        skipped,
        version,
        virtual_keys,
        held,
        modules,
        modules_from,
        notes,
        start,
        env_values,
        {f"tls/{n}": t for n, t in tls.items()},
    )


def _tls_texts(providers: dict) -> dict[str, str]:
    out = {}
    for name, path in tls_files(providers).items():
        try:
            out[name] = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ExportError(f"cannot copy the certificate file {path} for Envoy: {e}") from None
    return out


def _write_wheel(out_dir: Path) -> tuple[Path, str]:
    """Build the wheel of this leash into wheels/; (path, status). Older leash wheels there are removed."""
    from leash_cli.extproc.wheel import WheelError, build_wheel

    wheels = out_dir / "wheels"
    with tempfile.TemporaryDirectory(prefix="leash-wheel-") as tmp:
        try:
            built = build_wheel(Path(tmp))
        except WheelError as e:
            raise ExportError(str(e)) from None
        target = wheels / built.name
        if target.exists() and target.read_bytes() == built.read_bytes():
            status = UNCHANGED
        else:
            status = UPDATED if target.exists() else CREATED
            wheels.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, target)
    for old in wheels.glob("leash_cli-*.whl"):
        if old != target:
            old.unlink()
    return target, status


def _write_postgres_env(out_dir: Path) -> tuple[Path, str]:
    """postgres.env: the database password and the audit signing key, made once (0600) and then kept:
    the database volume was initialised with that password."""
    path = out_dir / POSTGRES_ENV
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path, UNCHANGED
    password = secrets.token_hex(24)  # hex: safe in a URL and a shell
    text = (
        "# The deployment's PostgreSQL credentials and audit signing key (generated by `leash export compose\n"
        "# --store postgres`; kept on later exports). Secret: mode 0600, git-ignored; keep it with the\n"
        "# postgres-data volume, which was initialised with this password.\n"
        "POSTGRES_USER=leash\n"
        "POSTGRES_DB=leash\n"
        f"POSTGRES_PASSWORD={password}\n"
        "# what leash (libpq) reads to connect as " + DATABASE_URL + "\n"
        f"PGPASSWORD={password}\n"
        "# signs the audit log's checkpoints on every module host (at least 16 characters)\n"
        f"LEASH_AUDIT_KEY={secrets.token_hex(32)}\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path, CREATED


def export_compose(
    loaded: LoadedConfig, out_dir: Path, *, replicas: int = 2, force: bool = False, store: str = "sqlite"
) -> tuple[ExportPlan, list[tuple[Path, str]]]:
    p = plan(loaded, replicas, store)  # raises ExportError before anything is written
    results = render_tree(
        data_dir("templates") / "compose",
        out_dir,
        p.context,
        force=force,
        extra={"leash.yaml": p.leash_yaml, **p.modules, **p.tls},
    )
    if p.env_values:
        results.append(write_env(out_dir / ".env", p.env_values))
    results.append(_write_wheel(out_dir))
    if store == "postgres":
        results.append(_write_postgres_env(out_dir))
    return p, results


def write_env(path: Path, values: dict[str, str]) -> tuple[Path, str]:
    """Set `values` in the env file (created 0600; lines already there are kept, a variable already
    set keeps its value); the folder's .gitignore lists it.  (path, status)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    have = {
        ln.split("=", 1)[0].strip(): i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")
    }
    changed = False
    for var, value in values.items():
        line = f"{var}={_env_quote(value)}"
        i = have.get(var)
        if i is None:
            lines.append(line)
            changed = True
        elif lines[i].split("=", 1)[1].strip() == "":
            lines[i] = line
            changed = True
    status = (UPDATED if path.exists() else CREATED) if changed else UNCHANGED
    if changed or not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    ignore = path.parent / ".gitignore"
    listed = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if path.name not in (ln.strip() for ln in listed):
        ignore.write_text("\n".join([*listed, path.name]) + "\n", encoding="utf-8")
    return path, status


def _env_quote(value: str) -> str:
    """A value as docker compose's env file reads it back unchanged (single quotes: no interpolation)."""
    if re.fullmatch(r"[A-Za-z0-9_./:@+=-]*", value):
        return value
    if "'" in value or "\n" in value:
        raise ExportError("a secret with a quote or a line break cannot be written to .env: set it there yourself")
    return "'" + value + "'"
