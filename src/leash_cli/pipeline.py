"""The pipeline: every exchange passes through one of these.

    request:  inspect (concurrently) -> policy (in order) -> transform (in order)
    upstream
    response: on_response (buffered body) or on_chunk (each streamed text delta)
    sink:     module sinks, then usage, cost, metrics and the history

Modules are plain objects whose methods are named after the stages they take
part in (see ``registry.py``).  A method returns a
:class:`~leash_cli.decision.Decision` (or None: allow).  A block ends the
pipeline; a module that raises or overruns its time budget blocks the request
when it fails closed (every policy and security module by default) and is
skipped when it says ``on_error: allow``.  ``mode: shadow`` runs a module
without enforcing it: what it would have blocked is recorded as
``shadow_block``.

It knows nothing of HTTP frameworks: the local proxy and the Envoy ext_proc
host are two thin adapters over it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import orjson

from leash_cli.decision import Decision
from leash_cli.dialects.base import BodyUnreadable, Usage, set_at
from leash_cli.exchange import Exchange, Violation

log = logging.getLogger("leash.pipeline")

REQUEST_STAGES = ("inspect", "policy", "transform")
RESPONSE_TEXTS_KEY = "_response_texts"  # what response modules may share of one body (see ResponseFlow.body)
#: ``ex.annotations[STREAM_GUARD]``: ``async (ex, output_tokens_so_far) -> Decision | None``, asked as a
#: stream's output grows (budgets and token quotas set it; a block stops the stream)
STREAM_GUARD = "_stream_guard"
#: a stream's output is estimated at one token per this many bytes of streamed text, unless the
#: provider reports more in the stream itself
BYTES_PER_TOKEN = 4
RESPONSE_STAGES = ("on_response", "on_chunk")
STAGES = (*REQUEST_STAGES, *RESPONSE_STAGES, "sink")
DEFAULT_TIMEOUT = 2.0
#: ``offload: auto``: a synchronous module stage runs in a worker thread when the body it reads is at
#: least this large (below it, a scan costs less than the hand-off to a thread)
OFFLOAD_MIN_BYTES = 64 * 1024
#: worker threads for synchronous module stages run off the event loop (``modules.*.offload``)
MODULE_THREADS = 4
OFFLOAD_MODES = ("auto", "always", "never")


@dataclass(slots=True)
class Block:
    """A decision to answer the client instead of the upstream."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    module: str | None = None


@dataclass(slots=True)
class StreamChunk:
    """What ``on_chunk`` receives: one text delta of a streamed response.

    A response may carry several streams at once (choices, content blocks, tool
    calls): ``key`` names the one this delta belongs to, and a module that holds
    text back keeps one buffer per key.  ``final`` is True once per key when that
    stream ends: ``text`` is then what earlier modules released (often empty) and
    a module returns it plus anything it held (``redact(text=...)``).
    """

    text: str
    event: Any = None  # the parsed event
    final: bool = False
    index: int = 0  # the delta's position in the stream
    key: Any = None  # which stream of the response (a choice, a content block, a tool call)
    aggregate: bool = False  # a whole text the stream repeats at its end (scan it whole, hold nothing)


@dataclass(slots=True)
class Condition:
    field: str
    operator: str
    value: Any
    _regex: re.Pattern[str] | None = None
    _set: frozenset[str] | None = None

    @classmethod
    def compile(cls, field: str, operator: str, value: Any) -> Condition:
        c = cls(field, operator, value)
        if operator == "regex":
            c._regex = re.compile(str(value))
        elif operator in ("in", "not_in"):
            vals = value if isinstance(value, (list, tuple, set)) else [value]
            c._set = frozenset(str(v) for v in vals)
        return c

    def matches(self, ex: Exchange) -> bool:
        actual = getattr(ex, self.field, None)
        actual = "" if actual is None else str(actual)
        op = self.operator
        if op == "eq":
            return actual == str(self.value)
        if op == "ne":
            return actual != str(self.value)
        if op == "in":
            assert self._set is not None  # compile() sets it for this operator
            return actual in self._set
        if op == "not_in":
            assert self._set is not None
            return actual not in self._set
        if op == "regex":
            assert self._regex is not None  # compile() sets it for this operator
            return self._regex.search(actual) is not None
        raise ValueError(f"unknown condition operator {op!r}")  # config validation prevents this


@dataclass(slots=True)
class Slot:
    """One configured module in a pipeline."""

    name: str
    module: Any
    priority: int = 100
    mode: str = "enforce"  # enforce | shadow
    fail_closed: bool = True
    timeout: float = DEFAULT_TIMEOUT
    conditions: tuple[Condition, ...] = ()
    stages: dict[str, tuple[Callable[..., Any], bool]] = field(default_factory=dict)
    #: whether the module may rewrite a response in place (``edits_response``, read once at load):
    #: a shadow run then gets a copy, and texts read off the body before it are stale after it
    edits_response: bool = True
    #: where a synchronous stage runs: ``never`` on the event loop, ``always`` in a worker thread with
    #: its deadline enforced while it runs, ``auto`` in a worker thread once the body is large
    #: (``OFFLOAD_MIN_BYTES``); asynchronous stages always run on the loop
    offload: str = "always"

    @classmethod
    def of(
        cls,
        name: str,
        module: Any,
        *,
        priority: int | None = None,
        mode: str = "enforce",
        on_error: str | None = None,
        timeout: float | None = None,
        conditions: tuple[Condition, ...] = (),
        offload: str | None = None,
    ) -> Slot:
        stages: dict[str, tuple[Callable[..., Any], bool]] = {}
        for stage in STAGES:
            fn = getattr(module, stage, None)
            if callable(fn):
                stages[stage] = (fn, inspect.iscoroutinefunction(fn))
        if on_error is None:
            on_error = getattr(module, "on_error", None) or ("allow" if _is_passive(stages) else "block")
        return cls(
            name=name,
            module=module,
            priority=priority if priority is not None else int(getattr(module, "priority", 100)),
            mode=mode,
            fail_closed=on_error != "allow",
            timeout=timeout or float(getattr(module, "timeout", DEFAULT_TIMEOUT)),
            conditions=conditions,
            stages=stages,
            edits_response=bool(getattr(module, "edits_response", True)),
            # a module that says nothing may block (a lookup, a sleep): it runs off the loop
            offload=offload or str(getattr(module, "offload", None) or "always"),
        )

    def off_loop(self, size: int) -> bool:
        """Whether a synchronous stage reading `size` bytes of body runs in a worker thread."""
        off = self.offload
        return off == "always" or (off == "auto" and size >= OFFLOAD_MIN_BYTES)

    def applies(self, ex: Exchange) -> bool:
        for c in self.conditions:  # noqa: SIM110 -- per request: a loop is cheaper than all() over a generator
            if not c.matches(ex):
                return False
        return True


class Plan(tuple[Slot, ...]):
    """The slots that apply to one exchange (a tuple of them, in priority order) and what each
    stage calls, worked out once per (tenant, provider, model, path) instead of on every request."""

    inspect_sync: tuple[Slot, ...]
    inspect_async: tuple[Slot, ...]
    request_steps: tuple[tuple[Slot, str, Callable[..., Any], bool], ...]
    on_response: tuple[Slot, ...]
    on_chunk: tuple[Slot, ...]
    sinks: bool

    def __new__(cls, slots: Iterable[Slot]) -> Plan:
        self = super().__new__(cls, slots)
        self.inspect_sync = tuple(s for s in self if "inspect" in s.stages and not s.stages["inspect"][1])
        self.inspect_async = tuple(s for s in self if "inspect" in s.stages and s.stages["inspect"][1])
        # policies in order, then transforms in order: (slot, stage, function, is_async)
        self.request_steps = tuple(
            (s, stage, *s.stages[stage]) for stage in ("policy", "transform") for s in self if stage in s.stages
        )
        self.on_response = tuple(s for s in self if "on_response" in s.stages)
        self.on_chunk = tuple(s for s in self if "on_chunk" in s.stages)
        self.sinks = any("sink" in s.stages for s in self)
        return self


_NO_PLAN = Plan(())


def _plan_of(ex: Exchange) -> Plan:
    """The exchange's plan; an exchange the request stages never saw (rejected before them) has none."""
    plan = ex.modules
    if type(plan) is Plan:
        return plan
    return Plan(plan) if plan else _NO_PLAN


def _is_passive(stages: dict[str, Any]) -> bool:
    """Inspect-only and sink-only modules default to on_error: allow."""
    return not any(s in stages for s in ("policy", "transform", "on_response", "on_chunk"))


class Pipeline:
    def __init__(
        self,
        slots: list[Slot] | None = None,
        *,
        tenant_slots: dict[str, list[Slot]] | None = None,
        recorder: Any = None,
        metrics: Any = None,
        pricer: Any = None,
        state: Any = None,
        keep_events: bool = False,
        hooks: list[Any] | None = None,
    ) -> None:
        self.slots = sorted(slots or [], key=lambda s: s.priority)
        self.tenant_slots = {t: sorted(v, key=lambda s: s.priority) for t, v in (tenant_slots or {}).items()}
        self.recorder = recorder
        self.metrics = metrics
        self.pricer = pricer
        self.state = state
        self.keep_events = keep_events
        self.hooks = hooks or []  # built-in always-on checks (tenant quotas), run before policies
        from leash_cli import usage as _usage

        self._usage = _usage
        self._tracker_factory = _usage.UsageTracker
        self._cache: dict[tuple[str, str, str | None, str], Plan] = {}
        self._hook_sinks = any("sink" in h.stages for h in self.hooks)

    # -- which modules apply -------------------------------------------------------
    def slots_for(self, ex: Exchange) -> Plan:
        key = (ex.tenant, ex.provider, ex.model, ex.path)
        got = self._cache.get(key)
        if got is None:
            base = self.tenant_slots.get(ex.tenant, self.slots)
            got = Plan(s for s in base if s.applies(ex))
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = got
        return got

    @property
    def all_slots(self) -> list[Slot]:
        seen: dict[int, Slot] = {id(s): s for s in self.slots}
        for v in self.tenant_slots.values():
            for s in v:
                seen.setdefault(id(s), s)
        return list(seen.values())

    # -- request ------------------------------------------------------------------------
    async def request(self, ex: Exchange) -> Block | None:
        """Run the request stages; a Block ends the exchange."""
        plan = self.slots_for(ex)
        ex.modules = plan
        for hook in self.hooks:
            b = (
                self._run_sync(hook, "policy", ex)
                if not hook.stages["policy"][1] and hook.offload == "never"
                else await self._run(hook, "policy", ex)
            )
            if b is not None:
                return b
        if plan:
            if plan.inspect_sync or plan.inspect_async:
                b = await self._inspect(plan, ex)
                if b is not None:
                    return b
            timings = ex.module_timings
            for s, stage, fn, is_async in plan.request_steps:
                if is_async or (s.offload != "never" and s.off_loop(len(ex.request_body))):
                    b = await self._run(s, stage, ex)
                elif s.mode == "shadow":
                    b = self._run_sync(s, stage, ex)
                else:
                    # the common case, inlined (it is ``_run_sync``): a sync module called directly,
                    # timed, and nothing more to do when it allows
                    t = perf_counter()
                    try:
                        result = fn(ex)
                    except Exception as e:  # a failing module is a decision too
                        result = _raised(s, ex, e, perf_counter() - t)
                    else:
                        elapsed = perf_counter() - t
                        timings[s.name] = timings.get(s.name, 0.0) + elapsed
                        if elapsed > s.timeout:
                            result = _overran(s, elapsed)
                        elif result is None:
                            continue
                    b = self._outcome(s, stage, ex, result)
                if b is not None:
                    return b
            ex.commit_body()
        if ex.stream:
            ex.dialect.prepare_request(ex)
        return None

    async def _inspect(self, plan: Plan, ex: Exchange) -> Block | None:
        for s in plan.inspect_sync:
            b = (
                await self._run(s, "inspect", ex)
                if s.off_loop(len(ex.request_body))
                else self._run_sync(s, "inspect", ex)
            )
            if b is not None:
                return b
        asyn = plan.inspect_async
        if len(asyn) == 1:
            return await self._run(asyn[0], "inspect", ex)
        if asyn:
            # every module finishes before the request goes on (or is refused: BodyUnreadable), so none is left
            # running on an exchange already answered
            results = await asyncio.gather(*(self._run(s, "inspect", ex) for s in asyn), return_exceptions=True)
            blocks: list[Block | None] = []
            for r in results:
                if isinstance(r, BaseException):
                    raise r
                blocks.append(r)
            return next((b for b in blocks if b is not None), None)
        return None

    def _call_sync(self, slot: Slot, stage: str, ex: Exchange, *args: Any) -> Decision | Exception | None:
        """Call a sync module stage, timed; its exception (or overrunning its budget) is returned."""
        fn = slot.stages[stage][0]
        t = perf_counter()
        try:
            result: Decision | None = fn(ex, *args)
        except Exception as e:  # a failing module is a decision too
            return _raised(slot, ex, e, perf_counter() - t)
        elapsed = perf_counter() - t
        timings = ex.module_timings
        timings[slot.name] = timings.get(slot.name, 0.0) + elapsed
        if elapsed > slot.timeout:
            return _overran(slot, elapsed)
        return result

    async def _call(
        self, slot: Slot, stage: str, ex: Exchange, *args: Any, size: int | None = None
    ) -> Decision | Exception | None:
        """Call a module stage, timed and held to its budget.  A synchronous stage runs on the
        loop, or in a worker thread (``slot.off_loop(size)``; `size`: the body it reads, by
        default the request's)."""
        fn, is_async = slot.stages[stage]
        if not is_async:
            if slot.off_loop(len(ex.request_body) if size is None else size):
                return await self._call_off_loop(slot, stage, ex, *args)
            return self._call_sync(slot, stage, ex, *args)
        t = time.perf_counter()
        try:
            async with asyncio.timeout(slot.timeout):
                result: Decision | None = await fn(ex, *args)
            elapsed = time.perf_counter() - t
            if elapsed > slot.timeout:
                raise ModuleTimeout(f"took {elapsed:.3f} s, over its budget of {slot.timeout} s")
        except Exception as e:  # a failing module is a decision too
            elapsed = time.perf_counter() - t
            _time(ex, slot.name, elapsed)
            if isinstance(e, (TimeoutError, asyncio.TimeoutError)) and not str(e):
                e = ModuleTimeout(f"timed out after {slot.timeout} s")
            return e
        _time(ex, slot.name, elapsed)
        return result

    async def _call_off_loop(self, slot: Slot, stage: str, ex: Exchange, *args: Any) -> Decision | Exception | None:
        """A synchronous stage in a worker thread, its budget enforced while it runs: past it the
        exchange stops waiting (the module's ``on_error`` decides) and the event loop never did.
        Python cannot stop a thread: an overrunning module keeps its worker until it returns (at
        most ``MODULE_THREADS`` run at once; a run that waits for a worker waits on its budget)."""
        fn = slot.stages[stage][0]
        t = perf_counter()
        fut = asyncio.get_running_loop().run_in_executor(_module_pool(), fn, ex, *args)
        try:
            result: Decision | None = await asyncio.wait_for(fut, slot.timeout)
        except TimeoutError:
            elapsed = perf_counter() - t
            _time(ex, slot.name, elapsed)
            _OVERRUNS[slot.name] = _OVERRUNS.get(slot.name, 0) + 1
            return ModuleTimeout(f"still running after its budget of {slot.timeout} s (abandoned)")
        except Exception as e:  # a failing module is a decision too
            return _raised(slot, ex, e, perf_counter() - t)
        elapsed = perf_counter() - t
        _time(ex, slot.name, elapsed)
        if elapsed > slot.timeout:
            return _overran(slot, elapsed)
        return result

    def _run_sync(self, slot: Slot, stage: str, ex: Exchange, *args: Any) -> Block | None:
        """``_run`` for a module whose stage is a plain function."""
        if slot.mode == "shadow":
            undo = _shadow_begin(ex)
            result = self._call_sync(slot, stage, ex, *args)
            _shadow_end(ex, undo)
        else:
            result = self._call_sync(slot, stage, ex, *args)
        return self._outcome(slot, stage, ex, result)

    async def _run(self, slot: Slot, stage: str, ex: Exchange, *args: Any) -> Block | None:
        if slot.mode == "shadow":  # it sees the request but cannot change it: what it rewrote is put back
            undo = _shadow_begin(ex)
            result = await self._call(slot, stage, ex, *args)
            _shadow_end(ex, undo)
        else:
            result = await self._call(slot, stage, ex, *args)
        return self._outcome(slot, stage, ex, result)

    def _outcome(self, slot: Slot, stage: str, ex: Exchange, result: Decision | Exception | None) -> Block | None:
        if isinstance(result, Exception):
            return self._failed(slot, stage, ex, result)
        if result is None:
            return None
        return self.apply(slot, ex, result, stage)

    def _failed(self, slot: Slot, stage: str, ex: Exchange, e: Exception) -> Block | None:
        if isinstance(e, BodyUnreadable) and stage in REQUEST_STAGES:
            raise e  # the client's body, not the module: the caller answers it (400), whatever the module's mode
        what = describe_failure(e)
        if not slot.fail_closed:
            log.warning("module %s failed in %s (on_error: allow, skipped): %s", slot.name, stage, what)
            ex.annotations.setdefault("module_errors", {})[slot.name] = what
            return None
        log.error("module %s failed in %s; blocking (fail closed): %s", slot.name, stage, what)
        v = Violation(slot.name, "MODULE_ERROR", "block", "high", f"{stage}: {what}"[:500])
        if slot.mode == "shadow":
            v.action = "shadow_block"
            ex.violations.append(v)
            return None
        ex.violations.append(v)
        ex.verdict = "blocked"
        return Block(
            503, "module_error", f"request blocked: policy module {slot.name!r} failed ({stage})", module=slot.name
        )

    def apply(self, slot: Slot, ex: Exchange, d: Decision, stage: str) -> Block | None:
        """Apply one decision to the exchange (request stages)."""
        for v in d.violations:
            if not v.module:
                v.module = slot.name
        if d.annotations:
            ex.annotations.update(d.annotations)
        if d.response_headers:
            ex.annotations.setdefault("response_headers", {}).update(d.response_headers)
        if slot.mode == "shadow":
            if d.action in ("block", "redact"):
                would = "shadow_block" if d.action == "block" else "shadow_redact"
                vs = d.violations or [Violation(slot.name, d.code, would, "medium", d.message)]
                for v in vs:
                    v.action = would
                ex.violations.extend(vs)
                if d.action == "block" and ex.verdict == "allowed":
                    ex.verdict = "shadow_blocked"
            else:
                ex.violations.extend(d.violations)
            return None
        ex.violations.extend(d.violations)
        if d.action == "block":
            ex.verdict = "blocked"
            return Block(d.status, d.code, d.message or f"blocked by {slot.name}", dict(d.headers), slot.name)
        if d.action == "redact":
            if d.body is not None and stage in REQUEST_STAGES:
                ex.set_json(d.body)
            if ex.verdict == "allowed":
                ex.verdict = "redacted"
        return None

    # -- response ----------------------------------------------------------------------------
    def response(self, ex: Exchange) -> ResponseFlow:
        return ResponseFlow(self, ex)

    # -- sink ----------------------------------------------------------------------------------
    async def sink(self, ex: Exchange) -> None:
        """Module sinks (after the client has its answer)."""
        for s in ex.modules:
            if "sink" in s.stages:
                r = await self._call(s, "sink", ex)
                if isinstance(r, Exception):
                    log.warning("sink of module %s failed: %s", s.name, describe_failure(r))
        for hook in self.hooks:
            if "sink" in hook.stages:
                r = await self._call(hook, "sink", ex)
                if isinstance(r, Exception):
                    log.warning("sink of %s failed: %s", hook.name, describe_failure(r))

    def finish(self, ex: Exchange, flow: ResponseFlow | None = None) -> asyncio.Task[None] | None:
        """Usage, cost, metrics, history.  Never raises; module sinks run as a task (returned: the
        exchange is over when it is done)."""
        if flow is not None:
            flow.close()
        if self.pricer is not None and ex.usage.known and ex.model:
            try:
                ex.cost_usd, ex.cost_detail = self.pricer.price(ex.kind, ex.model, ex.usage, ex.provider)
            except Exception:
                log.warning("pricing failed for %s", ex.id, exc_info=True)
        if ex.cache is not None:
            _cache_accounting(ex)
        if _plan_of(ex).sinks or self._hook_sinks:
            try:
                task = asyncio.get_running_loop().create_task(self._sink_then_record(ex))
                _BACKGROUND.add(task)
                task.add_done_callback(_BACKGROUND.discard)
                return task
            except RuntimeError:  # no loop (tests calling finish directly)
                pass
        self._record(ex)
        return None

    async def _sink_then_record(self, ex: Exchange) -> None:
        try:
            await self.sink(ex)
        finally:
            self._record(ex)

    def _record(self, ex: Exchange) -> None:
        if self.metrics is not None:
            try:
                self.metrics.observe(ex)
            except Exception:
                log.warning("metrics failed for %s", ex.id, exc_info=True)
        if self.recorder is not None:
            self.recorder.submit(ex)


def _cache_accounting(ex: Exchange) -> None:
    """A response-cache hit costs nothing and uses no tokens (budgets and quotas are not
    charged); what it saved is kept in ``cost_detail``.  A miss is marked there too."""
    if ex.cache == "hit":
        u = ex.usage
        ex.cost_detail = {
            "cache": "hit",
            "saved_usd": ex.cost_usd,
            "saved_input_tokens": u.input_tokens,
            "saved_output_tokens": u.output_tokens,
        }
        ex.cost_usd = 0.0
        ex.usage = Usage()
    else:
        ex.cost_detail = {"cache": ex.cache, **(ex.cost_detail or {})}


_BACKGROUND: set[asyncio.Task[None]] = set()
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
#: module runs abandoned past their budget, by module (``leash_module_overruns_total``)
_OVERRUNS: dict[str, int] = {}


def _module_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The worker threads synchronous module stages run in off the event loop (made on first use)."""
    global _POOL
    pool = _POOL
    if pool is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = concurrent.futures.ThreadPoolExecutor(MODULE_THREADS, thread_name_prefix="leash-module")
            pool = _POOL
    return pool


def module_overruns() -> dict[str, int]:
    """Module runs abandoned past their budget so far, by module name."""
    return dict(_OVERRUNS)


async def drain_background(timeout: float) -> None:
    """Wait (up to `timeout`) for module sinks still running, so shutdown loses no row or settlement."""
    pending = [t for t in _BACKGROUND if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


_Undo = tuple[bytes, Any, bool, int, bytes | None]  # body, parsed JSON, dirty, edits, pending edits


def _shadow_begin(ex: Exchange) -> _Undo:
    """What a shadow module's run must leave as it was."""
    body, parsed, dirty, edits = ex.request_body, ex.json(), ex._dirty, ex._edits
    # unedited, the body's bytes are the parsed JSON: a copy is only needed of pending edits
    saved = orjson.dumps(parsed) if parsed is not None and dirty else None
    return body, parsed, dirty, edits, saved


def _shadow_end(ex: Exchange, undo: _Undo) -> None:
    """Put back whatever a shadow module rewrote."""
    body, parsed, dirty, edits, saved = undo
    if ex._edits != edits or ex.request_body is not body:  # (every rewrite counts; a commit swaps the body)
        ex._json = None if parsed is None else orjson.loads(saved if saved is not None else body)
        ex._texts = None
        ex._dirty = dirty
        ex.request_body = body


class ModuleTimeout(TimeoutError):
    """A module overran its budget (the pipeline's own message: safe to log and store)."""


def describe_failure(e: BaseException) -> str:
    """What a module's failure may say in logs and ``violations.detail``: the exception's type and
    where it was raised, never its message (a module's message can quote the prompt: a key, an
    e-mail), except for the pipeline's own timeouts."""
    if isinstance(e, ModuleTimeout):
        return f"TimeoutError: {e}"
    tb = e.__traceback__
    where = ""
    while tb is not None:
        if tb.tb_next is None:
            code = tb.tb_frame.f_code
            where = f" raised in {code.co_name} ({code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno})"
        tb = tb.tb_next
    return f"{type(e).__name__}{where} (its message is not shown: it may quote the request)"


def _raised(slot: Slot, ex: Exchange, e: Exception, elapsed: float) -> Exception:
    """What a sync module stage raised, timed, as the decision it stands for."""
    _time(ex, slot.name, elapsed)
    if isinstance(e, TimeoutError) and not str(e):
        e = ModuleTimeout(f"timed out after {slot.timeout} s")
    return e


def _overran(slot: Slot, elapsed: float) -> TimeoutError:
    return ModuleTimeout(f"took {elapsed:.3f} s, over its budget of {slot.timeout} s")


def _time(ex: Exchange, name: str, secs: float) -> None:
    t = ex.module_timings
    t[name] = t.get(name, 0.0) + secs


class ResponseFlow:
    """Per-exchange response state: usage tracking and the response stages.

    ``await flow.body(bytes)`` for a buffered body; ``await flow.event(raw)``
    for each SSE event (returns the events to send, possibly none or two);
    ``flow.tail()`` once the upstream stream ended (held-back text);
    ``flow.block`` is set when a module stopped the response.  An adapter calls
    ``flow.sent()`` each time it has written what ``event``/``tail`` returned: the
    time to first token is when the client got the first text, not when the
    upstream sent it.
    """

    __slots__ = (
        "ex",
        "dialect",
        "tracker",
        "pipeline",
        "block",
        "_chunk_slots",
        "_resp_slots",
        "_templates",
        "_index",
        "stopped",
        "_text_pending",
        "_delivered",
        "_first_write",
        "_guard",
        "_out_bytes",
        "_out_tokens",
    )

    def __init__(self, pipeline: Pipeline, ex: Exchange) -> None:
        self.pipeline = pipeline
        self.ex = ex
        self.dialect = ex.dialect
        self.tracker = pipeline._tracker_factory(ex, pipeline.keep_events)
        self.block: Block | None = None
        self.stopped = False
        plan = _plan_of(ex)
        self._chunk_slots = plan.on_chunk
        self._resp_slots = plan.on_response
        self._templates: dict[Any, tuple[str | None, Any, Any]] = {}  # stream key -> its last delta
        self._index = 0
        self._text_pending = False  # the first text is in what the adapter is about to write
        self._delivered = False  # the first text has been written to the client
        self._first_write: float | None = None
        self._guard = ex.annotations.get(STREAM_GUARD)
        self._out_bytes = 0
        self._out_tokens = 0

    # -- buffered ----------------------------------------------------------------------
    async def body(self, body: bytes) -> bytes:
        """A whole response body; returns the body to send (see ``block``)."""
        ex = self.ex
        parsed: Any = None
        if self._resp_slots and body and (ex.status or 0) < 400:
            text_body = False
            try:
                obj = orjson.loads(body)
            except orjson.JSONDecodeError:
                # no JSON (plain text, HTML, a broken body): its text still goes through the modules,
                # wrapped as a one-item array (``Dialect.response_texts`` reads a string item whole)
                obj = [body.decode("utf-8", "replace")]
                text_body = True
            if obj is not None:
                changed = False
                try:
                    for s in self._resp_slots:
                        # a shadow module gets a copy (it cannot change what the client receives), unless
                        # it says it never edits a response (``edits_response = False``)
                        arg = orjson.loads(orjson.dumps(obj)) if s.mode == "shadow" and s.edits_response else obj
                        d = (
                            self.pipeline._call_sync(s, "on_response", ex, arg)
                            if not s.stages["on_response"][1] and not s.off_loop(len(body))
                            else await self.pipeline._call(s, "on_response", ex, arg, size=len(body))
                        )
                        if d is not None or s.edits_response:
                            # texts a scanner read off the body may be stale now
                            ex.annotations.pop(RESPONSE_TEXTS_KEY, None)
                        if isinstance(d, Exception):
                            b = self.pipeline._failed(s, "on_response", ex, d)
                            if b is not None:
                                self.block = b
                                return self.dialect.error_body(b.status, b.message, b.code)
                            continue
                        if d is None:
                            continue
                        if d.action == "redact" and d.body is not None and s.mode != "shadow":
                            obj = d.body
                            changed = True
                        b = self.pipeline.apply(s, ex, d, "on_response")
                        if b is not None:
                            self.block = b
                            return self.dialect.error_body(b.status, b.message, b.code)
                        if d.action == "redact" and d.body is None and s.mode != "shadow":
                            changed = True  # rewritten in place
                finally:
                    ex.annotations.pop(RESPONSE_TEXTS_KEY, None)
                if text_body:
                    if changed:
                        body = str(obj[0]).encode("utf-8")
                elif changed:
                    body = orjson.dumps(obj)
                if not text_body:
                    parsed = obj  # what the client gets, already parsed: usage is read from it
        if body:
            try:
                if parsed is not None:
                    self.tracker.on_json(body, parsed)
                else:
                    self.tracker.on_json(body)
            except Exception:  # usage is best effort: never fail the client over it
                log.debug("could not read usage from %s", ex.id, exc_info=True)
        return body

    # -- streamed ----------------------------------------------------------------------
    async def event(self, raw: bytes) -> list[bytes]:
        """One complete SSE event; returns what to send (usually [raw])."""
        if self.stopped:
            return []
        out: list[bytes] = []
        if self._chunk_slots:
            released = await self._modules_on_event(raw, out)
            if released is None:
                return out
            raw = released
        name, data = self.dialect.parse_event(raw)
        if self._guard is not None and data[:1] == b"{" and await self._metered(data):
            out.append(self._error_event())
            return out
        try:
            keep = self._track(name, data, raw)
        except Exception:
            log.debug("usage tracker failed on an event of %s", self.ex.id, exc_info=True)
            keep = True
        if keep:
            out.append(raw)
        return out

    async def _metered(self, data: bytes) -> bool:
        """Count the output of one event (its text deltas, or the running usage the provider
        reports); ask the stream guard once it grew; True: stop the stream before this event."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        dialect = self.dialect
        n = 0
        for t in dialect.stream_texts(obj):
            n += len(t.text.encode("utf-8")) if not t.text.isascii() else len(t.text)
        self._out_bytes += n
        tokens = -(-self._out_bytes // BYTES_PER_TOKEN)
        u = dialect.usage(obj)
        if u is not None and u.output_tokens is not None and u.output_tokens > tokens:
            tokens = u.output_tokens
        if tokens <= self._out_tokens:
            return False
        self._out_tokens = tokens
        assert self._guard is not None
        d = await self._guard(self.ex, tokens)
        if d is None or not d.blocks:
            return False
        ex = self.ex
        ex.violations.extend(d.violations)
        ex.verdict = "blocked"
        module = d.violations[0].module if d.violations else None
        self.block = Block(d.status, d.code, d.message, dict(d.headers), module)
        self.stopped = True
        return True

    def _track(self, name: str | None, data: bytes, raw: bytes) -> bool:
        """The usage tracker reads an event the client is about to get.  It notes when it sees the
        first text; the time to first token is taken when that text was written (``sent``)."""
        ex = self.ex
        if self._delivered or ex.t_first_token is not None:
            return self.tracker.on_event(name, data, raw)
        keep = self.tracker.on_event(name, data, raw)
        if ex.t_first_token is not None:
            ex.t_first_token = None
            self._text_pending = True
        return keep

    def sent(self) -> None:
        """The adapter wrote what ``event``/``tail`` returned to the client (call it after each write)."""
        if self._first_write is None:
            self._first_write = time.perf_counter()
        if self._text_pending:
            self._text_pending = False
            self._delivered = True
            self.ex.t_first_token = time.perf_counter()

    async def _modules_on_event(self, raw: bytes, out: list[bytes]) -> bytes | None:
        """Text deltas go through the modules one stream at a time (a choice, a content
        block, a tool call's arguments: each has its own key and hold-back state).  An
        event without deltas first releases everything held back, so held text never
        lands after the end of its block; an event that repeats whole texts (the
        Responses API's ``*.done`` and ``response.completed``) is scanned whole."""
        name, data = self.dialect.parse_event(raw)
        if not data or data[:1] != b"{":
            out.extend(await self._flush())  # [DONE] and keep-alives
            return None if self.stopped else raw
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return raw
        dialect = self.dialect
        texts = dialect.stream_texts(obj)
        if not texts:
            out.extend(await self._flush())
            if self.stopped:
                return None
            whole = dialect.aggregate_texts(obj)
            if not whole:
                return raw
            changed = False
            for t in whole:
                new, stop = await self._through_modules(t.text, obj, final=False, key=None, aggregate=True)
                if stop:
                    out.append(self._error_event())
                    self.stopped = True
                    return None
                if new != t.text:
                    set_at(obj, t.path, new)
                    changed = True
            return dialect.encode_event(name, obj) if changed else raw
        changed = False
        for t in texts:
            key = dialect.stream_key(obj, t)
            new, stop = await self._through_modules(t.text, obj, final=False, key=key)
            if stop:
                out.append(self._error_event())
                self.stopped = True
                return None
            if new != t.text:
                set_at(obj, t.path, new)
                changed = True
            self._templates[key] = (name, obj, t.path)
        if not changed:
            return raw
        return dialect.encode_event(name, obj)

    async def _through_modules(
        self, text: str, obj: Any, final: bool, key: Any, aggregate: bool = False
    ) -> tuple[str, bool]:
        ex = self.ex
        for s in self._chunk_slots:
            chunk = StreamChunk(text, obj, final, self._index, key, aggregate)
            d = (
                self.pipeline._call_sync(s, "on_chunk", ex, chunk)
                if not s.stages["on_chunk"][1] and not s.off_loop(len(text))
                else await self.pipeline._call(s, "on_chunk", ex, chunk, size=len(text))
            )
            if isinstance(d, Exception):
                b = self.pipeline._failed(s, "on_chunk", ex, d)
                if b is not None:
                    self.block = b
                    return text, True
                continue
            if d is None:
                continue
            if d.text is not None and s.mode != "shadow":
                text = d.text  # what the module releases of this stream (held back, or redacted)
            b = self.pipeline.apply(s, ex, d, "on_chunk")
            if b is not None:
                self.block = b
                return text, True
        self._index += 1
        return text, False

    async def _flush(self) -> list[bytes]:
        """Ask the modules for the text each stream held back; emit it as one more delta
        of that stream, shaped like the stream's last delta."""
        if not self._chunk_slots or not self._templates:
            return []
        templates, self._templates = self._templates, {}
        out = []
        for key, (name, obj, path) in templates.items():
            text, stop = await self._through_modules("", None, final=True, key=key)
            if stop:
                self.stopped = True
                out.append(self._error_event())
                return out
            if not text:
                continue
            template = orjson.loads(orjson.dumps(obj))
            self.dialect.clear_finish(template)
            set_at(template, path, text)
            raw = self.dialect.encode_event(name, template)
            name2, data = self.dialect.parse_event(raw)
            self._track(name2, data, raw)
            out.append(raw)
        return out

    async def tail(self) -> list[bytes]:
        """Once the upstream stream ended: anything still held back."""
        if self.stopped:
            return []
        return await self._flush()

    def _error_event(self) -> bytes:
        b = self.block
        msg = b.message if b else "response blocked"
        code = b.code if b else "policy_violation"
        status = b.status if b else 403
        return self.dialect.stream_error(self.ex.path, status, msg, code)

    def close(self) -> None:
        try:
            self.tracker.finish()
        except Exception:
            log.debug("usage tracker failed for %s", self.ex.id, exc_info=True)
        ex = self.ex
        if self._text_pending and not self._delivered:
            ex.t_first_token = None  # the text never reached the client
        if ex.t_first_token is None and self._first_write is not None and ex.stream:
            ex.t_first_token = self._first_write  # a stream without text (tool calls only): its first bytes
