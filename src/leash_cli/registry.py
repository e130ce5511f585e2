"""The module registry: built-ins, the ``leash.modules`` entry points and a
modules folder (``modules_dir:``), all loaded the same way.

A module is a plain class:

    class NoSwearing:
        name = "no-swearing"          # the config key
        version = "1.0"
        description = "Blocks prompts that swear."

        class Settings(BaseModel):     # optional; unknown keys are rejected
            model_config = ConfigDict(extra="forbid")
            words: list[str] = []

        def __init__(self, settings, context=None): ...
        def policy(self, ex): ...       # and/or inspect, transform, on_response, on_chunk, sink

Stage methods may be sync or async.  ``context`` (optional second argument)
gives the shared state, the pricer and the config.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from leash_cli.config import Config, ConfigError, LoadedConfig, line_for
from leash_cli.pipeline import STAGES, Condition, Slot

ENTRY_POINT_GROUP = "leash.modules"

#: name -> "module:Class" of the built-in modules
BUILTINS: dict[str, str] = {
    "rate-limiter": "leash_cli.modules.rate_limiter:RateLimiter",
    "cost-tracker": "leash_cli.modules.cost_tracker:CostTracker",
    "content-filter": "leash_cli.modules.content_filter:ContentFilter",
    "model-policy": "leash_cli.modules.model_policy:ModelPolicy",
    "logger": "leash_cli.modules.logger:Logger",
    "pii-detector": "leash_cli.modules.pii_detector:PiiDetector",
    "secrets-detector": "leash_cli.modules.secrets_detector:SecretsDetector",
    "prompt-injection": "leash_cli.modules.prompt_injection:PromptInjection",
    "response-cache": "leash_cli.modules.response_cache:ResponseCache",
}


class EmptySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ModuleInfo:
    name: str
    source: str  # builtin | entry-point | file
    origin: str  # dotted path, distribution name or file path
    cls: type | None = None
    version: str = ""
    description: str = ""
    error: str | None = None  # why it could not be loaded: "file:line: reason"

    @property
    def stages(self) -> list[str]:
        if self.cls is None:
            return []
        return [s for s in STAGES if callable(getattr(self.cls, s, None))]

    @property
    def settings_model(self) -> type[BaseModel]:
        return getattr(self.cls, "Settings", None) or EmptySettings


@dataclass
class ModuleContext:
    """What a module may use besides its settings."""

    name: str
    config: Config
    state: Any = None
    pricer: Any = None
    recorder: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def discover(
    modules_dir: str | Path | None = None, *, base: Path | None = None, entry_points: bool = True
) -> dict[str, ModuleInfo]:
    """Every module leash can load, by name (later sources do not shadow built-ins)."""
    found: dict[str, ModuleInfo] = {}
    for name, target in BUILTINS.items():
        mod_name, _, cls_name = target.partition(":")
        info = ModuleInfo(name, "builtin", target)
        try:
            info.cls = getattr(importlib.import_module(mod_name), cls_name)
            _describe(info)
        except Exception as e:  # pragma: no cover - a broken install
            info.error = _where(e, mod_name)
        found[name] = info
    if entry_points and not getattr(sys, "_leash_no_entry_points", False):
        for ep in _module_entry_points():
            dist = getattr(getattr(ep, "dist", None), "name", None) or ep.value
            info = ModuleInfo(ep.name, "entry-point", f"{dist} ({ep.value})")
            try:
                obj = ep.load()
                info.cls = obj
                info.name = str(getattr(obj, "name", ep.name))
                _describe(info)
            except Exception as e:
                info.error = _where(e, ep.value)
            _add(found, info)
    if modules_dir:
        folder = Path(modules_dir).expanduser()
        if base is not None and not folder.is_absolute():
            folder = base / folder
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if path.name.startswith(("_", "test_")):
                    continue
                for info in _load_file(path):
                    _add(found, info)
    return found


#: the last answer of :func:`_module_entry_points`, with the import path state it was read for
_entry_points_read: tuple[tuple[tuple[str, int], ...], tuple[importlib.metadata.EntryPoint, ...]] | None = None


def _module_entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The ``leash.modules`` entry points, read again only when the import path changed: reading them
    opens every installed distribution's metadata (~40 ms), and every pipeline build (each reload)
    asks.  Installing, upgrading or removing a distribution adds or removes a folder in a ``sys.path``
    entry, which changes that entry's modification time (as ``importlib.metadata`` itself relies on),
    so the next reload finds what was installed meanwhile."""
    global _entry_points_read
    state = tuple((entry, _mtime_ns(entry)) for entry in sys.path)
    if _entry_points_read is None or _entry_points_read[0] != state:
        _entry_points_read = (state, tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)))
    return _entry_points_read[1]


def _mtime_ns(entry: str) -> int:
    try:
        return Path(entry or ".").stat().st_mtime_ns
    except OSError:
        return -1


def _add(found: dict[str, ModuleInfo], info: ModuleInfo) -> None:
    prev = found.get(info.name)
    if prev is not None and prev.source == "builtin":
        info.error = f"the name {info.name!r} is taken by a built-in module"
        info.name = f"{info.name} ({info.origin})"
    found[info.name] = info


def describe(info: ModuleInfo) -> None:
    """Fill in a loaded module's version and description; raises if it is not a module."""
    _describe(info)


def load_file(path: Path) -> list[ModuleInfo]:
    """The modules defined in one ``.py`` file, as ``modules_dir:`` loads them."""
    return _load_file(Path(path))


def _describe(info: ModuleInfo) -> None:
    cls = info.cls
    if not isinstance(cls, type):
        raise TypeError(f"{info.origin} is not a class")
    info.version = str(getattr(cls, "version", "") or _dist_version(cls) or "")
    doc = getattr(cls, "description", None) or (inspect.getdoc(cls) or "").split("\n")[0]
    info.description = doc
    if not any(callable(getattr(cls, s, None)) for s in STAGES):
        raise TypeError(f"{cls.__name__} has none of the stage methods {', '.join(STAGES)}")


def _dist_version(cls: type) -> str | None:
    top = cls.__module__.split(".")[0]
    try:
        return importlib.metadata.version(top.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return None


def _load_file(path: Path) -> list[ModuleInfo]:
    mod_name = f"leash_modules_dir.{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"no loader for {path.name}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        spec.loader.exec_module(mod)
    except BaseException as e:  # report anything, even SystemExit from a module
        sys.modules.pop(mod_name, None)
        return [ModuleInfo(path.stem.replace("_", "-"), "file", str(path), error=_where(e, str(path)))]
    out = []
    for obj in vars(mod).values():
        if isinstance(obj, type) and obj.__module__ == mod_name and isinstance(name := getattr(obj, "name", None), str):
            info = ModuleInfo(name, "file", str(path), cls=obj)
            try:
                _describe(info)
            except Exception as e:
                info.error = f"{path}: {e}"
            out.append(info)
    if not out:
        out.append(
            ModuleInfo(
                path.stem.replace("_", "-"),
                "file",
                str(path),
                error=f"{path}: no class with a `name` attribute and a stage method",
            )
        )
    return out


def _where(e: BaseException, origin: str) -> str:
    """'file:line: reason' for an import failure."""
    if isinstance(e, SyntaxError):
        return f"{e.filename}:{e.lineno}: SyntaxError: {e.msg}"
    frames = traceback.extract_tb(e.__traceback__)
    frame = None
    for f in frames:
        if origin.endswith(".py") and Path(f.filename) == Path(origin):
            frame = f
    if frame is None and frames:
        frame = frames[-1]
    where = f"{frame.filename}:{frame.lineno}: " if frame else f"{origin}: "
    return f"{where}{type(e).__name__}: {e}"


# -- building pipelines -------------------------------------------------------------
def instantiate(info: ModuleInfo, settings: dict[str, Any], context: ModuleContext) -> Any:
    """Validate `settings` against the module's model and build the module."""
    if info.cls is None:
        raise RuntimeError(info.error or f"module {info.name!r} could not be loaded")
    model = info.settings_model
    parsed = model.model_validate(settings or {})
    cls = info.cls
    try:
        params = [
            p
            for p in inspect.signature(cls).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) >= 2:
        return cls(parsed, context)
    if len(params) == 1:
        return cls(parsed)
    obj = cls()
    obj.settings = parsed
    return obj


def build_slots(
    loaded: LoadedConfig,
    *,
    state: Any = None,
    pricer: Any = None,
    recorder: Any = None,
    registry: dict[str, ModuleInfo] | None = None,
) -> tuple[list[Slot], dict[str, list[Slot]]]:
    """(slots for every tenant, slots per tenant with a `policies:` list).

    Raises ConfigError naming the file, the key and the line of any problem:
    an unknown module, invalid settings, or an enabled module that fails to load.
    """
    cfg = loaded.config
    base = loaded.path.parent if loaded.path else None
    reg = registry if registry is not None else discover(cfg.modules_dir, base=base)
    problems: list[str] = []
    built: dict[str, Slot] = {}

    def make(name: str, where: tuple) -> Slot | None:
        if name in built:
            return built[name]
        info = reg.get(name)
        if info is None:
            import difflib

            close = difflib.get_close_matches(name, list(reg), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(reg))})"
            broken = [i for i in reg.values() if i.error and i.source != "builtin"]
            if broken:
                hint += "; these modules failed to load: " + "; ".join(f"{i.name}: {i.error}" for i in broken)
            problems.append(_at(loaded, where, f"unknown module {name!r}{hint}"))
            return None
        if info.error:
            problems.append(
                _at(
                    loaded,
                    where,
                    f"module {name!r} cannot be loaded: {info.error}. "
                    f"Fix it, or disable it with `enabled: false` under modules.{name}",
                )
            )
            return None
        mc = cfg.modules.get(name)
        settings = mc.config if mc else {}
        ctx = ModuleContext(name=name, config=cfg, state=state, pricer=pricer, recorder=recorder)
        try:
            module = instantiate(info, settings, ctx)
        except ValidationError as e:
            for err in e.errors():
                loc = ("modules", name, "config", *err["loc"]) if mc else where
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    import difflib

                    fields = list(info.settings_model.model_fields)
                    close = difflib.get_close_matches(str(err["loc"][-1]), fields, n=1)
                    msg = "unknown setting" + (
                        f" (did you mean '{close[0]}'?)" if close else f" (settings: {', '.join(fields) or 'none'})"
                    )
                problems.append(_at(loaded, loc, msg))
            return None
        except Exception as e:
            problems.append(_at(loaded, where, f"module {name!r} failed to start: {type(e).__name__}: {e}"))
            return None
        conds: tuple[Condition, ...] = ()
        if mc:
            try:
                conds = tuple(Condition.compile(c.field, c.operator, c.value) for c in mc.conditions)
            except Exception as e:
                problems.append(_at(loaded, ("modules", name, "conditions"), f"bad condition: {e}"))
        slot = Slot.of(
            name,
            module,
            priority=mc.priority if mc else None,
            mode=mc.mode if mc else "enforce",
            on_error=mc.on_error if mc else None,
            timeout=mc.timeout if mc else None,
            conditions=conds,
            offload=mc.offload if mc else None,
        )
        built[name] = slot
        return slot

    everyone = []
    for name, mc in cfg.modules.items():
        if mc.enabled:
            s = make(name, ("modules", name))
            if s is not None:
                everyone.append(s)
    per_tenant: dict[str, list[Slot]] = {}
    for tname, tc in cfg.tenants.items():
        if tc.policies is None:
            continue
        lst = []
        for i, name in enumerate(tc.policies):
            s = make(name, ("tenants", tname, "policies", i))
            if s is not None:
                lst.append(s)
        per_tenant[tname] = lst
    if problems:
        raise ConfigError(loaded.label, problems)
    import logging

    for info in reg.values():
        if info.error and info.name not in built:
            logging.getLogger("leash.registry").warning(
                "module %s (not enabled) cannot be loaded: %s", info.name, info.error
            )
    return everyone, per_tenant


def _at(loaded: LoadedConfig, loc: tuple, msg: str) -> str:
    line = line_for(loaded, loc)
    if "config" in loc:  # settings may be written inline, without `config:`
        inline = line_for(loaded, tuple(p for p in loc if p != "config"))
        if inline and (line is None or inline > line):
            line = inline
    dotted = ".".join(str(p) for p in loc)
    return f"{f'line {line}: ' if line else ''}{dotted}: {msg}"


def make_pipeline(
    loaded: LoadedConfig,
    *,
    recorder: Any = None,
    metrics: Any = None,
    pricer: Any = None,
    state: Any = None,
    registry: dict[str, ModuleInfo] | None = None,
):
    """The pipeline for a config: its modules, the tenants' own rules, and the sinks."""
    from leash_cli.modules.tenant import TenantRules
    from leash_cli.pipeline import Pipeline
    from leash_cli.state import MemoryState

    state = state if state is not None else MemoryState()
    cfg = loaded.config
    slots, tenant_slots = build_slots(loaded, state=state, pricer=pricer, recorder=recorder, registry=registry)
    hooks = []
    rules = TenantRules(cfg.tenants, state, pricer, recorder)
    if rules.tenants:
        hooks.append(Slot.of(rules.name, rules, on_error="block"))
    return Pipeline(
        slots,
        tenant_slots=tenant_slots,
        recorder=recorder,
        metrics=metrics,
        pricer=pricer,
        state=state,
        keep_events=cfg.storage.bodies == "full",
        hooks=hooks,
    )
