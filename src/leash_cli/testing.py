"""Helpers for testing a leash module in a few lines.

    from leash_cli.testing import make_exchange, run_module, assert_blocked, assert_allowed

    def test_blocks_the_secret_project():
        ex = make_exchange("anthropic", "tell me about project nightingale")
        assert_blocked(run_module(MyPolicy, ex, {"deny": ["nightingale"]}), status=403)

    def test_allows_the_rest():
        assert_allowed(run_module(MyPolicy, make_exchange(prompt="hello")))

- :func:`make_exchange` builds an :class:`~leash_cli.exchange.Exchange` whose
  body is a real request of the provider's schema (OpenAI, Anthropic, Gemini),
  so ``ex.texts()`` and ``ex.prompt_text`` work as they do in the gateway.
- :func:`run_module` runs a module's request stages through a real
  :class:`~leash_cli.pipeline.Pipeline` (fail closed, shadow mode, time budget
  and all) and returns the decision that took effect; :func:`run_pipeline`
  runs several modules and returns the :class:`~leash_cli.pipeline.Block`.
- :func:`serve` runs a whole gateway on 127.0.0.1:0 for an end-to-end check.
- :func:`load_module` loads a module file the way ``modules_dir:`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from leash_cli.decision import Decision
from leash_cli.dialects import for_api
from leash_cli.exchange import Exchange
from leash_cli.pipeline import STAGES, Block, Pipeline, Slot

__all__ = [
    "make_exchange",
    "run_module",
    "arun_module",
    "run_pipeline",
    "build_module",
    "load_module",
    "serve",
    "assert_blocked",
    "assert_allowed",
    "assert_redacted",
]

DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "google": "gemini-2.0-flash",
    "vertex": "gemini-2.0-flash",
    "mock": "mock-1",
}
_APIS = {"openai": "openai", "anthropic": "anthropic", "google": "google", "mock": "openai", "vertex": "vertex"}


# -- exchanges ------------------------------------------------------------------------------
def make_exchange(
    provider: str = "openai",
    prompt: str = "Hello!",
    *,
    model: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    system: str | None = None,
    tenant: str = "default",
    stream: bool = False,
    body: Any = None,
    path: str | None = None,
    headers: dict[str, str] | None = None,
    key_id: str | None = None,
) -> Exchange:
    """An exchange as the gateway would build it for a request to `provider`.

    `provider` is a provider kind (``openai``, ``anthropic``, ``google``, ``vertex``
    (Gemini on Vertex) or ``mock``, which speaks OpenAI).  The body is built in that provider's own
    request schema from `prompt` (the last user message), `messages` (earlier
    turns as ``{"role": "user"|"assistant", "content": "..."}``) and `system`;
    pass `body` to use an exact body of your own instead.
    """
    if provider not in _APIS:
        raise ValueError(f"unknown provider {provider!r}: use one of {', '.join(_APIS)}")
    api = _APIS[provider]
    model = model or DEFAULT_MODELS[provider]
    turns = [*(messages or []), {"role": "user", "content": prompt}] if prompt is not None else list(messages or [])
    default_path, query, default_body = for_api(api).build_request(model, turns, system, stream)
    if body is None:
        body = default_body
    if path is None:
        path = default_path
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Exchange(
        id="test-" + os.urandom(6).hex(),
        provider=provider,
        kind=provider,
        api=api,
        method="POST",
        path=path,
        query=query,
        tenant=tenant,
        key_id=key_id,
        request_headers={"content-type": "application/json", **(headers or {})},
        request_body=raw,
        model=model,
        stream=stream,
    )


# -- modules ---------------------------------------------------------------------------------
def build_module(
    module_or_cls: Any, settings: dict[str, Any] | Any = None, *, name: str | None = None, config: Any = None
) -> Any:
    """An instance of a module: a class is built from `settings` exactly as the gateway does
    (validated against its ``Settings`` model, so unknown keys fail); an instance is returned as is."""
    if not isinstance(module_or_cls, type):
        if settings is not None:
            raise TypeError("settings are for a module class; this module is already built")
        return module_or_cls
    from leash_cli.config import Config
    from leash_cli.registry import ModuleContext, ModuleInfo, instantiate
    from leash_cli.state import MemoryState

    cls = module_or_cls
    mod_name = name or str(getattr(cls, "name", cls.__name__))
    if settings is not None and not isinstance(settings, dict):  # an already-built Settings instance
        settings = settings.model_dump()
    info = ModuleInfo(mod_name, "test", f"{cls.__module__}.{cls.__qualname__}", cls=cls)
    ctx = ModuleContext(name=mod_name, config=config or Config(), state=MemoryState())
    return instantiate(info, settings or {}, ctx)


def load_module(path: str | os.PathLike, name: str | None = None) -> type:
    """The module class in a file, loaded the way ``modules_dir:`` loads it.

    Raises ImportError with the file, line and reason when the file does not load.
    """
    from leash_cli.registry import _load_file

    infos = _load_file(Path(path).resolve())
    for info in infos:
        if name is None or info.name == name:
            if info.error or info.cls is None:
                raise ImportError(f"module {info.name!r} cannot be loaded: {info.error}")
            return info.cls
    raise ImportError(f"{path}: no module named {name!r} (found: {', '.join(i.name for i in infos)})")


def _slot(
    module: Any,
    *,
    name: str | None = None,
    mode: str = "enforce",
    on_error: str | None = None,
    timeout: float | None = None,
    stage: str | None = None,
    captured: list | None = None,
) -> Slot:
    slot = Slot.of(
        name or str(getattr(module, "name", type(module).__name__)),
        module,
        mode=mode,
        on_error=on_error,
        timeout=timeout,
    )
    if stage is not None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
        if stage not in slot.stages:
            raise ValueError(f"module {slot.name!r} has no {stage!r} stage (it has: {', '.join(slot.stages)})")
        slot.stages = {stage: slot.stages[stage]}
    if captured is not None:
        slot.stages = {s: _capturing(fn, is_async, captured) for s, (fn, is_async) in slot.stages.items()}
    return slot


def _capturing(fn: Any, is_async: bool, out: list) -> tuple[Any, bool]:
    """Wrap a stage method to keep the decisions it returns (the pipeline only keeps their effect)."""
    if is_async:

        async def wrapped_async(ex: Exchange, *args: Any) -> Any:
            d = await fn(ex, *args)
            if d is not None:
                out.append(d)
            return d

        return wrapped_async, True

    def wrapped(ex: Exchange, *args: Any) -> Any:
        d = fn(ex, *args)
        if d is not None:
            out.append(d)
        return d

    return wrapped, False


async def arun_module(
    module_or_cls: Any,
    ex: Exchange,
    settings: dict[str, Any] | None = None,
    stage: str | None = None,
    *,
    mode: str = "enforce",
    on_error: str | None = None,
    timeout: float | None = None,
) -> Decision | None:
    """The async form of :func:`run_module` (use it inside a running event loop)."""
    module = build_module(module_or_cls, settings)
    decisions: list[Decision] = []
    slot = _slot(module, mode=mode, on_error=on_error, timeout=timeout, stage=stage, captured=decisions)
    pipe = Pipeline([slot])
    blocked = await pipe.request(ex)  # also notes the slot in ex.modules for the sink
    if blocked is None and "sink" in slot.stages:
        await pipe.sink(ex)
    if blocked is not None:
        for d in reversed(decisions):
            if d.action == "block":
                return d
        # the module failed and the pipeline failed closed
        return Decision(
            "block",
            status=blocked.status,
            code=blocked.code,
            message=blocked.message,
            headers=dict(blocked.headers),
            violations=[v for v in ex.violations if v.module == slot.name],
        )
    for d in reversed(decisions):
        if d.action == "block" or (d.action == "redact" and mode == "shadow"):
            continue  # shadow mode: recorded in ex.violations, not enforced
        if d.action != "allow" or d.violations or d.annotations:
            return d
    return None


def run_module(
    module_or_cls: Any,
    ex: Exchange,
    settings: dict[str, Any] | None = None,
    stage: str | None = None,
    *,
    mode: str = "enforce",
    on_error: str | None = None,
    timeout: float | None = None,
) -> Decision | None:
    """Run one module's request stages on `ex` through a real pipeline.

    `module_or_cls` is a module class (built from `settings`, validated like the
    gateway does) or an instance.  The request stages run in the gateway's
    order (inspect, policy, transform), then the module's ``sink`` if it has
    one and nothing blocked; `stage` runs only that one stage.

    Returns the decision that took effect: the block (a module that raised or
    overran its budget blocks too, as ``module_error`` with status 503, unless
    ``on_error="allow"``), else the last redact or annotate, else None (allow).
    A body whose text the dialect will not read raises ``BodyUnreadable`` (the
    gateway answers it 400) whatever the mode.
    In ``mode="shadow"`` a block is not enforced: it returns None and the
    would-be block is in ``ex.violations`` (``shadow_block``) and ``ex.verdict``.
    """
    return _run_sync(arun_module(module_or_cls, ex, settings, stage, mode=mode, on_error=on_error, timeout=timeout))


def run_pipeline(modules: list[Any], ex: Exchange) -> Block | None:
    """Run several modules' request stages on `ex`; the Block that ended it, or None.

    Each item is a module instance, a module class (default settings), a
    ``(class, settings)`` pair or a :class:`~leash_cli.pipeline.Slot`.
    """
    slots = []
    for m in modules:
        if isinstance(m, Slot):
            slots.append(m)
        elif isinstance(m, tuple):
            slots.append(_slot(build_module(m[0], m[1])))
        else:
            slots.append(_slot(build_module(m)))

    async def go() -> Block | None:
        return await Pipeline(slots).request(ex)

    return _run_sync(go())


def _run_sync(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # called from inside an event loop (an async test): run on a loop of our own
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # handed back to the caller
            box["error"] = e

    t = threading.Thread(target=target, name="leash-testing")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- assertions ------------------------------------------------------------------------------
def _describe(result: Any) -> str:
    if result is None:
        return "allowed (None)"
    if isinstance(result, Block):
        return f"block {result.status} {result.code}: {result.message}"
    if isinstance(result, Decision):
        if result.action == "block":
            return f"block {result.status} {result.code}: {result.message}"
        return f"{result.action} (violations: {[v.type for v in result.violations]})"
    return repr(result)


def assert_blocked(
    result: Decision | Block | None, code: str | None = None, status: int | None = None, message: str | None = None
) -> Decision | Block:
    """`result` (from run_module or run_pipeline) is a block, with this code, status and message part."""
    blocked = isinstance(result, Block) or (isinstance(result, Decision) and result.action == "block")
    assert blocked, f"expected the request to be blocked, but it was {_describe(result)}"
    assert result is not None
    if code is not None:
        assert result.code == code, f"expected code {code!r}, got {_describe(result)}"
    if status is not None:
        assert result.status == status, f"expected status {status}, got {_describe(result)}"
    if message is not None:
        assert message in result.message, f"expected {message!r} in the message, got {_describe(result)}"
    return result


def assert_allowed(result: Decision | Block | None) -> None:
    """`result` lets the request through (None, allow, annotate or redact)."""
    blocked = isinstance(result, Block) or (isinstance(result, Decision) and result.action == "block")
    assert not blocked, f"expected the request to be allowed, but it was {_describe(result)}"


def assert_redacted(ex: Exchange, contains: str | None = None, *, absent: str | None = None) -> None:
    """`ex`'s request was rewritten: its text now `contains` this and no longer holds `absent`."""
    assert ex.verdict == "redacted", f"expected a redacted request, but its verdict is {ex.verdict!r}"
    ex.commit_body()
    text = Exchange(
        id=ex.id,
        provider=ex.provider,
        kind=ex.kind,
        api=ex.api,
        method=ex.method,
        path=ex.path,
        request_body=ex.request_body,
    ).prompt_text  # what is actually sent upstream
    if contains is not None:
        assert contains in text, f"expected {contains!r} in the request text, got {text!r}"
    if absent is not None:
        assert absent not in text, f"expected {absent!r} to be gone from the request text, got {text!r}"


# -- a whole gateway -------------------------------------------------------------------------
@contextlib.contextmanager
def serve(
    config: dict[str, Any] | None = None,
    *,
    modules: list[type] | None = None,
    db_path: str | os.PathLike[str] | None = None,
    record: bool = False,
) -> Iterator[str]:
    """Run a gateway with this config on 127.0.0.1:0; yields its base URL.

    ``with serve({"modules": {"my-policy": {}}}, modules=[MyPolicy]) as url:``
    then ``httpx.post(f"{url}/v1/mock/chat/completions", json=...)``.  A
    ``mock`` provider is added when the config has no ``providers:``.
    `modules` are module classes made available as if installed (for a
    package you have not installed).  A relative ``modules_dir`` is taken from
    the current directory.  Nothing is written to your history unless `record`.
    """
    import yaml

    from leash_cli.config import LoadedConfig, parse_config_text
    from leash_cli.server import GatewayThread, build_gateway

    cfg = dict(config or {})
    cfg.setdefault("providers", {"mock": {"kind": "mock"}})
    if cfg.get("modules_dir"):
        cfg["modules_dir"] = str(Path(cfg["modules_dir"]).expanduser().resolve())
    with tempfile.TemporaryDirectory(prefix="leash-test-") as tmp:
        path = Path(tmp) / "leash.yaml"
        text = yaml.safe_dump(cfg, sort_keys=False)
        path.write_text(text)
        loaded = LoadedConfig(parse_config_text(text, str(path)), path, "flag")
        db = os.fspath(db_path) if db_path else Path(tmp) / "leash.db"
        gw = _gateway_with(loaded, modules, db, record) if modules else build_gateway(loaded, db_path=db, record=record)
        thread = GatewayThread(gw)
        url = thread.start()
        try:
            yield url
        finally:
            thread.stop()


def _gateway_with(loaded: Any, modules: list[type], db: str | Path, record: bool) -> Any:
    """A gateway (as ``build_gateway`` makes it) whose registry also holds these classes."""
    from leash_cli.pricing import Pricer
    from leash_cli.proxy import Gateway
    from leash_cli.registry import ModuleInfo, _describe, discover, make_pipeline

    extra = []
    for cls in modules:
        info = ModuleInfo(
            str(getattr(cls, "name", cls.__name__)), "test", f"{cls.__module__}.{cls.__qualname__}", cls=cls
        )
        _describe(info)  # the same checks as for an installed module
        extra.append(info)

    def factory(g: Any, ld: Any) -> Pipeline:
        reg = discover(ld.config.modules_dir, base=ld.path.parent if ld.path else None)
        reg.update({i.name: i for i in extra})
        return make_pipeline(ld, recorder=g.recorder, metrics=g.metrics, pricer=g.pricer, state=g.limits, registry=reg)

    recorder = None
    if record and loaded.config.storage.enabled:
        from leash_cli.store import Recorder

        recorder = Recorder(Path(db), loaded.config.storage)
    pricer = Pricer(loaded.config.pricing, loaded.config.providers)
    pricer.warm()
    return Gateway(loaded, recorder=recorder, pricer=pricer, pipeline_factory=factory)
