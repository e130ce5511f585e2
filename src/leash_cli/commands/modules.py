"""``leash module``: list, show, try and scaffold policy modules.

Thin over ``leash_cli.registry`` (what can be loaded), ``leash_cli.testing``
(running one module on a sample) and ``leash_cli.scaffold`` (``new``); wired
into the main app with ``app.add_typer(modules.module_app, name="module")``.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from leash_cli.config import ConfigError, LoadedConfig, load_config

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_core import ErrorDetails

module_app = typer.Typer(
    help="Policy modules: list what is installed, show settings, try one on a prompt, write a new one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", help="config file (default: $LEASH_CONFIG, ./leash.yaml, ...)")
]
ModulesDirOpt = Annotated[
    Optional[Path], typer.Option("--modules-dir", help="folder of module files (default: modules_dir of the config)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


class Stage(str, Enum):
    policy = "policy"
    inspect = "inspect"
    transform = "transform"
    sink = "sink"


def _out():
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _fail(message: str, code: int = 2) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _load(config: Path | None) -> LoadedConfig:
    try:
        return load_config(config)
    except ConfigError as e:
        raise _fail(e.render()) from None


def _registry(loaded: LoadedConfig, modules_dir: Path | None) -> dict:
    from leash_cli.registry import discover

    if modules_dir is not None:
        return discover(modules_dir)
    return discover(loaded.config.modules_dir, base=loaded.path.parent if loaded.path else None)


def _find(reg: dict, name: str) -> Any:
    info = reg.get(name)
    if info is None:
        import difflib

        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise _fail(f"no module named {name!r}{hint}; `leash module list` shows them all "
                    f"(a file module needs --modules-dir or modules_dir: in the config)")
    if info.error:
        raise _fail(f"module {name!r} cannot be loaded: {info.error}")
    return info


# -- list ---------------------------------------------------------------------------------
def _enabled(loaded: LoadedConfig, name: str) -> str:
    cfg = loaded.config
    mc = cfg.modules.get(name)
    tenants = [t for t, tc in cfg.tenants.items() if tc.policies and name in tc.policies]
    if mc is not None and mc.enabled:
        return "yes" + (" (shadow)" if mc.mode == "shadow" else "")
    if tenants:
        return "tenants: " + ", ".join(tenants)
    if mc is not None:
        return "no"
    return "-"


@module_app.command("list")
def list_modules(config: ConfigOpt = None, modules_dir: ModulesDirOpt = None, as_json: JsonOpt = False) -> None:
    """Built-in, installed (entry-point) and folder modules, with their stages and load errors."""
    from rich.markup import escape
    from rich.table import Table

    loaded = _load(config)
    reg = _registry(loaded, modules_dir)
    rows = []
    for info in reg.values():
        rows.append({"name": info.name, "source": info.source, "origin": info.origin, "version": info.version,
                     "stages": info.stages, "enabled": _enabled(loaded, info.name),
                     "description": info.description, "error": info.error})
    for name in loaded.config.modules:  # configured but found nowhere
        if name not in reg:
            rows.append({"name": name, "source": "-", "origin": "", "version": "", "stages": [],
                         "enabled": _enabled(loaded, name), "description": "",
                         "error": "not found: no built-in, installed package or file by that name"})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    out = _out()
    table = Table(title=f"modules ({loaded.label})", title_justify="left")
    for col in ("name", "stages", "version", "source", "enabled", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(escape(r["name"]), ", ".join(r["stages"]), escape(r["version"]), r["source"], r["enabled"],
                      "[red]cannot be loaded (see below)[/]" if r["error"] else escape(r["description"]))
    out.print(table)
    broken = [r for r in rows if r["error"]]
    if broken:
        out.print("[bold red]load errors:[/]")
        for r in broken:
            out.print(f"  {escape(r['name'])}: {escape(r['error'])}", soft_wrap=True)
            if r["enabled"] != "-":
                out.print(f"    enabled in the config: the gateway will not start until it is fixed or set to "
                          f"`enabled: false` under modules.{escape(r['name'])}", soft_wrap=True)


# -- show ---------------------------------------------------------------------------------
def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_name(a) for a in args)}]" if args else name
    if ann is type(None):
        return "null"
    if isinstance(ann, type):
        return ann.__name__
    return str(ann).replace("typing.", "")


def _default(field: Any) -> Any:
    if field.is_required():
        return ...
    if field.default_factory is not None:
        try:
            return field.default_factory()
        except Exception:
            return "(computed)"
    return field.default


def settings_rows(model: Any) -> list[dict[str, Any]]:
    rows = []
    for fname, field in model.model_fields.items():
        d = _default(field)
        rows.append({"name": field.alias or fname, "type": _type_name(field.annotation),
                     "required": d is ..., "default": None if d is ... else _jsonable(d),
                     "description": field.description or ""})
    return rows


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        if hasattr(v, "get_secret_value"):
            return "****"
        return str(v)


@module_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="module name, as under `modules:`")],
    config: ConfigOpt = None,
    modules_dir: ModulesDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the settings' JSON schema")] = False,
) -> None:
    """A module's settings: type, default and description of each, and how to enable it."""
    import inspect as _inspect

    import yaml
    from rich.markup import escape
    from rich.table import Table

    loaded = _load(config)
    info = _find(_registry(loaded, modules_dir), name)
    model = info.settings_model
    if as_json:
        print(json.dumps({"name": info.name, "version": info.version, "source": info.source,
                          "origin": info.origin, "stages": info.stages,
                          "settings_schema": model.model_json_schema()}, indent=2, default=str))
        return
    out = _out()
    out.print(f"[bold]{escape(info.name)}[/] {escape(info.version)}  [dim]{info.source}: {escape(info.origin)}[/]")
    doc = _inspect.getdoc(info.cls) or info.description
    if doc:
        out.print(escape(doc), soft_wrap=True)
    out.print(f"stages: {', '.join(info.stages)}")
    rows = settings_rows(model)
    if not rows:
        out.print("settings: none")
    else:
        table = Table(title="settings (under modules." + escape(info.name) + ".config)", title_justify="left")
        for col in ("setting", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        for r in rows:
            default = "[bold](required)[/]" if r["required"] else escape(json.dumps(r["default"]))
            table.add_row(escape(r["name"]), escape(r["type"]), default, escape(r["description"]))
        out.print(table)
    entry: dict[str, object] = {"enabled": True}
    if rows:
        entry["config"] = {r["name"]: ("<required>" if r["required"] else r["default"]) for r in rows}
    example: dict[str, object] = {"modules": {info.name: entry}}
    if info.source == "file":
        example = {"modules_dir": str(Path(info.origin).parent), **example}
    out.print("enable it in leash.yaml:")
    out.print(escape(yaml.safe_dump(example, sort_keys=False, default_flow_style=None)), soft_wrap=True)


# -- check --------------------------------------------------------------------------------
def _parse_sets(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        cur = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@module_app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="module name, as under `modules:`")],
    text: Annotated[str, typer.Option("--text", "-t", help="the prompt to try")],
    provider: Annotated[str, typer.Option(help="request shape: openai, anthropic, google or mock")] = "openai",
    model: Annotated[Optional[str], typer.Option(help="model of the sample request")] = None,
    system: Annotated[Optional[str], typer.Option(help="a system prompt to add")] = None,
    sets: Annotated[Optional[list[str]], typer.Option(
        "--set", help="a setting, key=value (value read as YAML: --set deny='[a, b]'); repeatable")] = None,
    stage: Annotated[Optional[Stage], typer.Option(help="run only this stage")] = None,
    config: ConfigOpt = None,
    modules_dir: ModulesDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one module on a sample prompt and print its decision (exit 1 when it blocks).

    Settings come from the module's entry in the config, then --set.
    """
    from pydantic import ValidationError

    from leash_cli import testing
    from leash_cli.registry import ModuleContext, instantiate

    loaded = _load(config)
    info = _find(_registry(loaded, modules_dir), name)
    mc = loaded.config.modules.get(name)
    settings = _merge(mc.config if mc else {}, _parse_sets(sets or []))
    try:
        module = instantiate(info, settings, ModuleContext(name=name, config=loaded.config,
                                                          state=_memory_state()))
    except ValidationError as e:
        problems = "; ".join(_setting_error(err, info.settings_model) for err in e.errors())
        raise _fail(f"invalid settings for {name!r}: {problems} (see `leash module show {name}`)") from None
    except Exception as e:
        raise _fail(f"module {name!r} failed to start: {type(e).__name__}: {e}") from None
    if stage is not None and stage.value not in info.stages:
        raise _fail(f"module {name!r} has no {stage.value} stage (it has: {', '.join(info.stages)})")
    try:
        ex = testing.make_exchange(provider, text, model=model, system=system)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--provider") from None
    before = ex.prompt_text
    decision = testing.run_module(module, ex, stage=stage.value if stage else None,
                                  on_error=mc.on_error if mc else None, timeout=mc.timeout if mc else None)
    result = describe_decision(decision, ex, before)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_result(result)
    if result["action"] == "block":
        raise typer.Exit(1)


def _setting_error(err: ErrorDetails, model: type[BaseModel]) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(settings)"
    if err["type"] == "extra_forbidden":
        import difflib

        fields = list(model.model_fields)
        close = difflib.get_close_matches(str(err["loc"][-1]), fields, n=1)
        return f"{where}: unknown setting" + (f" (did you mean '{close[0]}'?)" if close else
                                              f" (settings: {', '.join(fields) or 'none'})")
    return f"{where}: {err['msg']}"


def _memory_state() -> Any:
    from leash_cli.state import MemoryState

    return MemoryState()


def describe_decision(decision: Any, ex: Any, before: str) -> dict[str, Any]:
    """The outcome of a check as plain data."""
    action = "allow" if decision is None else decision.action
    out: dict[str, Any] = {"action": action, "verdict": ex.verdict}
    if decision is not None and decision.action == "block":
        out.update(status=decision.status, code=decision.code, message=decision.message)
    if ex.verdict == "redacted" or (decision is not None and decision.action == "redact"):
        import orjson

        from leash_cli.messages import request_texts

        ex.commit_body()

        out["text"] = "\n".join(t.text for t in request_texts(ex.api, orjson.loads(ex.request_body)))
        out["changed"] = out["text"] != before
    if decision is not None and decision.annotations:
        out["annotations"] = decision.annotations
    out["violations"] = [{"module": v.module, "type": v.type, "action": v.action, "severity": v.severity,
                          "field": v.field, "detail": v.detail} for v in ex.violations]
    errors = ex.annotations.get("module_errors")
    if errors:
        out["module_errors"] = errors
    return out


def _print_result(r: dict[str, Any]) -> None:
    from rich.markup import escape

    out = _out()
    if r["action"] == "block":
        out.print(f"[bold red]block[/] {r['status']} {escape(r['code'])}: {escape(r['message'])}", soft_wrap=True)
    elif "text" in r:
        out.print("[bold yellow]redact[/]: the request now reads:")
        for line in r["text"].splitlines() or [""]:
            out.print(f"  {escape(line)}", soft_wrap=True)
    elif r["action"] == "annotate":
        out.print("[bold green]allow[/] (annotated)")
    else:
        out.print("[bold green]allow[/]")
    if r.get("annotations"):
        for k, v in r["annotations"].items():
            out.print(f"  annotation {escape(str(k))} = {escape(json.dumps(v, default=str))}", soft_wrap=True)
    for name, what in (r.get("module_errors") or {}).items():
        out.print(f"  [yellow]module {escape(name)} failed and was skipped (on_error: allow):[/] {escape(what)}",
                  soft_wrap=True)
    if r["violations"]:
        out.print("violations:")
        for v in r["violations"]:
            where = f" at {v['field']}" if v["field"] else ""
            out.print(f"  - {escape(v['type'])} ({escape(v['action'])}, {escape(v['severity'])}){escape(where)}: "
                      f"{escape(v['detail'])}", soft_wrap=True)


# -- new ----------------------------------------------------------------------------------
@module_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="module name: lowercase letters, digits and dashes, e.g. my-policy")],
    directory: Annotated[Optional[Path], typer.Option(
        "--dir", help="modules folder (default ./modules); with --package, where the package folder goes (default .)")
    ] = None,
    stage: Annotated[Stage, typer.Option(
        help="policy blocks, inspect annotates, transform redacts, sink logs")] = Stage.policy,
    package: Annotated[bool, typer.Option("--package", help="a pip-installable package with an entry point")] = False,
    tests_dir: Annotated[Optional[Path], typer.Option(
        "--tests-dir", help="where the test goes (default: a tests/ folder beside the modules folder)")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
    enable: Annotated[bool, typer.Option("--enable", help="also enable it in the config (see `leash module enable`)")]
    = False,
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", help="the config --enable edits (default ./leash.yaml)")] = None,
) -> None:
    """Write a working module and its tests (they pass as generated: run `pytest`)."""
    from rich.markup import escape

    from leash_cli import scaffold

    try:
        names = scaffold.names_for(name)
    except scaffold.ScaffoldError as e:
        raise typer.BadParameter(str(e), param_hint="NAME") from None
    if package and tests_dir is not None:
        raise typer.BadParameter("a package keeps its tests in its own tests/ folder", param_hint="--tests-dir")
    if package and enable:
        raise typer.BadParameter("a package is enabled once installed: pip install it, then "
                                 "`leash module enable NAME`", param_hint="--enable")
    try:
        written = scaffold.new_module(name, stage=stage.value, directory=directory, package=package,
                                      tests_dir=tests_dir, force=force)
    except scaffold.ScaffoldError as e:
        raise _fail(str(e), 1) from None
    out = _out()
    cwd = Path.cwd()
    for p in written:
        out.print(f"wrote {escape(_rel(p, cwd))}")
    test_deps = escape(_test_deps_hint())
    if package:
        root = _rel(written[0].parent, cwd)
        out.print(f"\nnext:\n{test_deps}"
                  f"  cd {escape(root)} && python -m pytest    # the tests pass as generated\n"
                  f"  pip install {escape(root)}     # registers it (entry point leash.modules)\n"
                  f"  leash module check {names.name} --text 'project nightingale?'\n"
                  f"then enable it in leash.yaml (keeping your providers and modules):\n"
                  f"  leash module enable {names.name}", soft_wrap=True)
        return
    mod_dir = written[0].parent
    shown_dir = _rel(mod_dir, cwd)
    target = config or Path("leash.yaml")
    out.print(f"\nnext:\n{test_deps}"
              f"  python -m pytest {escape(_rel(written[1], cwd))}   # the tests pass as generated\n"
              f"  leash module check {names.name} --modules-dir {escape(shown_dir)} --text 'project nightingale?'",
              soft_wrap=True)
    if enable:
        _enable(target, names.name, mod_dir)
        return
    out.print(f"then enable it in {escape(str(target))}: this merges it into the file, keeping its "
              f"providers and modules, and checks that the result loads:\n"
              f"  leash module enable {names.name} --modules-dir {escape(shown_dir)}"
              + (f" --config {escape(str(config))}" if config else "") + "\n"
              f"or by hand, in that file: `modules_dir: {escape(_modules_dir_for(target, mod_dir))}` at the top "
              f"level, and under its `modules:` section (beside secrets-detector and the others):\n"
              f"    {names.name}:\n      enabled: true\n"
              f"(on its own those lines are not a config: it would have no providers and no security modules)",
              soft_wrap=True)


@module_app.command("enable")
def enable_cmd(
    name: Annotated[str, typer.Argument(help="the module to enable (built-in, installed or in --modules-dir)")],
    modules_dir: ModulesDirOpt = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", help="the config to edit (default ./leash.yaml; created from the starter if missing)")]
    = None,
) -> None:
    """Enable a module in a config file, keeping its comments, providers and other modules; the result must load."""
    _enable(config or Path("leash.yaml"), name, modules_dir)


def _modules_dir_for(config: Path, mod_dir: Path) -> str:
    """`modules_dir:` as the config's loader resolves it: relative to the config file's folder."""
    import os

    return os.path.relpath(mod_dir.resolve(), config.resolve().parent).replace(os.sep, "/")


def _enable(config: Path, name: str, mod_dir: Path | None) -> None:
    from rich.markup import escape

    from leash_cli import scaffold

    try:
        text, changes = scaffold.enable_in_config(config, name,
                                                  _modules_dir_for(config, mod_dir) if mod_dir else None)
    except scaffold.ScaffoldError as e:
        raise _fail(str(e), 1) from None
    out = _out()
    if not changes:
        out.print(f"{escape(name)} is already enabled in {escape(str(config))}")
        return
    config.write_text(text, encoding="utf-8")
    for c in changes:
        out.print(f"{escape(str(config))}: {escape(c)}")
    out.print(f"check it: leash config validate {escape(str(config))}")


def _test_deps_hint() -> str:
    import importlib.util

    if importlib.util.find_spec("pytest") is not None:
        return ("  # the tests need pytest (installed here); elsewhere: pip install pytest, "
                "or pip install -e \".[test]\" in a leash checkout\n")
    return ("  pip install pytest    # the tests need it (not installed here); in a leash checkout: "
            "pip install -e \".[test]\"\n")


def _rel(p: Path, base: Path) -> str:
    try:
        return str(p.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(p)
