"""Policy dry-run: replay recorded exchanges through the pipeline of another config and compare decisions.

``leash policy test --config new.yaml`` is a thin command over :func:`replay`.  Nothing is sent to any
provider: each recorded exchange is rebuilt from its ``requests`` row (the request body as it went
upstream, its tenant, key, provider, model and path), run through the new pipeline's request stages, and —
when the exchange was answered and its response is stored whole — its recorded response (a body, or the
stream as the client received it, event by event) through the response stages.  The new decision
(``blocked``, ``rate_limited``, ``redacted`` or ``allowed``) is compared with the one recorded at the time.

Stateful modules (rate limits, budgets, tenant quotas) run on a fresh in-memory state, fed the exchanges in
recorded time order with the clock set to each exchange's recorded start, and settle what each exchange
used (its recorded tokens and cost) as it would have live; only modules that keep state have their sinks
run (a logger or an exporter does nothing in a dry run).

What cannot be judged is counted, never guessed: exchanges without a stored request body
(``storage.bodies: none``) or with one cut at ``storage.max_body_bytes``; exchanges the gateway refused
before its policy ran (outcome ``error``); and, for response-side modules, responses not stored or cut.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from leash_cli.exchange import BodyNotWritable, BodyUnreadable, Exchange, Usage

__all__ = ["Example", "RuleChange", "DryRunResult", "recorded_decision", "replay", "replay_rows", "DECISIONS"]

DECISIONS = ("blocked", "rate_limited", "redacted", "allowed")
_EXAMPLES = 3


@dataclass(slots=True)
class Example:
    request_id: str
    started_at: str
    finding: str  # the finding that decides it: "module/type: detail"


@dataclass(slots=True)
class RuleChange:
    """Exchanges whose decision changes the same way because of the same module and rule (finding type)."""

    change: str  # newly_blocked | newly_rate_limited | newly_redacted | newly_allowed
    module: str
    rule: str
    count: int = 0
    cost_usd: float = 0.0  # recorded cost of these exchanges (saved when newly blocked)
    examples: list[Example] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "module": self.module,
            "rule": self.rule,
            "count": self.count,
            "cost_usd": round(self.cost_usd, 6),
            "examples": [
                {"request_id": e.request_id, "started_at": e.started_at, "finding": e.finding} for e in self.examples
            ],
        }


@dataclass(slots=True)
class DryRunResult:
    total: int = 0  # exchanges read
    judged: int = 0
    unchanged: int = 0
    not_judged: dict[str, int] = field(default_factory=dict)  # why -> how many
    response_not_judged: int = 0  # judged on the request side only: the response was not stored whole
    changes: dict[str, int] = field(default_factory=lambda: {f"newly_{d}": 0 for d in DECISIONS})
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)  # recorded -> new -> count
    rules: dict[tuple[str, str, str], RuleChange] = field(default_factory=dict)
    cost_saved_usd: float = 0.0  # recorded cost of exchanges that would now be refused
    cost_spent_usd: float = 0.0  # estimated cost of refused exchanges that would now be sent
    spent_unpriced: int = 0  # of those, how many had no recorded cost to estimate from
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchanges": self.total,
            "judged": self.judged,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "not_judged": dict(self.not_judged),
            "response_not_judged": self.response_not_judged,
            "changes": dict(self.changes),
            "matrix": self.matrix,
            "rules": [
                r.as_dict() for r in sorted(self.rules.values(), key=lambda r: (-r.count, r.change, r.module, r.rule))
            ],
            "cost_saved_usd": round(self.cost_saved_usd, 6),
            "cost_spent_usd": round(self.cost_spent_usd, 6),
            "spent_unpriced": self.spent_unpriced,
            "seconds": round(self.seconds, 3),
            "exchanges_per_second": round(self.rate, 1),
        }


def recorded_decision(row: dict[str, Any]) -> str:
    """The decision recorded at the time: blocked | rate_limited | redacted | allowed (a shadow block allowed)."""
    verdict = row.get("verdict") or "allowed"
    if verdict == "blocked" or row.get("outcome") == "blocked":
        return "rate_limited" if row.get("status") == 429 else "blocked"
    if verdict == "redacted":
        return "redacted"
    return "allowed"


def _api(kind: str, path: str) -> str:
    if kind in ("openai", "anthropic", "google", "mock", "vertex"):
        from leash_cli.dialects import provider_api

        return provider_api(kind, path)
    from leash_cli.errors import guess_api

    return guess_api(path, {})


def _exchange(row: dict[str, Any]) -> Exchange:
    body = row.get("request_body") or ""
    ex = Exchange(
        id=row["id"],
        provider=row.get("provider") or "",
        kind=row.get("kind") or "",
        api=_api(row.get("kind") or "", row.get("path") or ""),
        method=row.get("method") or "POST",
        path=row.get("path") or "",
        query=row.get("query") or "",
        tenant=row.get("tenant") or "default",
        key_id=row.get("key_id"),
        client=row.get("client"),
        request_headers=dict(row.get("request_headers") or {}),
        request_body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
        model=row.get("model"),
        stream=bool(row.get("stream")),
    )
    return ex


class _ReplayClock:
    """The recorded time of the exchange being replayed; a stand-in for the ``time`` module in modules."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def module(self) -> types.ModuleType:
        shim = types.ModuleType("time")
        shim.__dict__.update(time.__dict__)
        shim.time = self  # type: ignore[attr-defined]  # a module object given a `time` function on purpose
        return shim


def _patch_time(slots: Iterable[Any], clock: _ReplayClock) -> Callable[[], None]:
    """Point the ``time`` of every module file the pipeline's modules live in (and of the budgets' period keys) at
    the replay clock, undone by the returned function.  Process-wide while the replay runs: the dry run is a CLI
    process of its own."""
    names = {type(s.module).__module__ for s in slots} | {"leash_cli.modules._budget", "leash_cli.state.base"}
    shim = clock.module()
    undo: list[tuple[Any, Any]] = []
    for name in names:
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "time", None) is time:
            undo.append((mod, mod.time))
            mod.time = shim  # type: ignore[attr-defined]  # a stateful module reads the replay clock

    def restore() -> None:
        for mod, orig in undo:
            mod.time = orig

    return restore


def _split_events(stream: str) -> list[bytes]:
    data = stream.encode("utf-8").replace(b"\r\n", b"\n")
    return [part + b"\n\n" for part in data.split(b"\n\n") if part.strip()]


def _finding(ex: Exchange, module: str | None, actions: tuple[str, ...]) -> tuple[str, str, str]:
    """(module, rule, "module/type: detail") of the first finding of ``module`` with one of ``actions``."""
    for v in ex.violations:
        if (module is None or v.module == module) and v.action in actions:
            return v.module, v.type, f"{v.module}/{v.type}" + (f": {v.detail}" if v.detail else "")
    return module or "-", "-", module or "-"


def _new_decision(ex: Exchange, block: Any) -> tuple[str, list[tuple[str, str, str]]]:
    """The new decision and the findings that decide it."""
    if block is not None:
        decision = "rate_limited" if block.status == 429 else "blocked"
        mod, rule, text = _finding(ex, block.module, ("block",))
        if rule == "-":
            rule = block.code or "-"
            text = f"{mod}/{rule}: {block.message}" if block.message else f"{mod}/{rule}"
        return decision, [(mod, rule, text)]
    if ex.verdict == "redacted":
        seen: dict[tuple[str, str], str] = {}
        for v in ex.violations:
            if v.action == "redact":
                seen.setdefault((v.module, v.type), f"{v.module}/{v.type}" + (f": {v.detail}" if v.detail else ""))
        return "redacted", [(m, r, t) for (m, r), t in seen.items()] or [("-", "-", "-")]
    return "allowed", []


def _old_findings(row: dict[str, Any], decision: str) -> list[tuple[str, str, str]]:
    """The recorded findings behind a decision that would now be dropped."""
    want = ("redact",) if decision == "redacted" else ("block",)
    out = [(m or "-", t or "-", f"{m}/{t}" + (f": {d}" if d else "")) for m, t, a, d in row["violations"] if a in want]
    return out[:1] if decision != "redacted" else out or [("-", "-", "recorded")]


class _Replayer:
    def __init__(self, pipeline: Any, clock: _ReplayClock, result: DryRunResult) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.res = result
        self.avg_cost: dict[str | None, tuple[float, int]] = {}  # model -> (sum, n) of allowed exchanges
        self.pending_spend: list[str | None] = []  # models of exchanges that would newly be sent

    def _skip(self, why: str) -> None:
        self.res.not_judged[why] = self.res.not_judged.get(why, 0) + 1

    async def one(self, row: dict[str, Any]) -> None:
        res = self.res
        res.total += 1
        if row.get("outcome") == "error":
            self._skip("refused by the gateway before the policy ran (outcome error)")
            return
        if row.get("request_body") is None:
            self._skip("request body not stored (storage.bodies: none)")
            return
        if row.get("request_body_truncated"):
            self._skip("request body cut at storage.max_body_bytes")
            return
        before = recorded_decision(row)
        self.clock.now = _epoch(row["started_at"])
        ex = _exchange(row)
        pipe = self.pipeline
        try:
            block = await pipe.request(ex)
        except (BodyNotWritable, BodyUnreadable):  # recorded before the gateway refused such bodies itself
            self._skip("a body the gateway now refuses (400 invalid_request: nested too deep)")
            return
        if block is None and before in ("allowed", "redacted"):  # it was answered: the response stages
            ex.status = row.get("status")
            plan: Any = ex.modules  # a pipeline Plan
            if plan and (plan.on_response or plan.on_chunk):
                resp = row.get("response_body")
                if resp is None or row.get("response_body_truncated"):
                    res.response_not_judged += 1
                else:
                    flow = pipe.response(ex)
                    try:
                        if ex.stream:
                            for raw in _split_events(resp):
                                await flow.event(raw)
                                if flow.block is not None or flow.stopped:
                                    break
                            if flow.block is None and not flow.stopped:
                                await flow.tail()
                        else:
                            await flow.body(resp.encode("utf-8"))
                    finally:
                        flow.close()
                    block = flow.block
        after, findings = _new_decision(ex, block)
        if block is None:  # stateful modules settle what the exchange used, as they would have live
            ex.usage = Usage(
                row.get("input_tokens"),
                row.get("output_tokens"),
                row.get("cached_input_tokens"),
                row.get("cache_write_tokens"),
                row.get("reasoning_tokens"),
            )
            ex.cost_usd = row.get("cost_usd")
            ex.status = row.get("status")
            await self._stateful_sinks(ex)
        res.judged += 1
        res.matrix.setdefault(before, {}).setdefault(after, 0)
        res.matrix[before][after] += 1
        cost = row.get("cost_usd")
        if before == "allowed" and cost is not None:
            s, n = self.avg_cost.get(row.get("model"), (0.0, 0))
            self.avg_cost[row.get("model")] = (s + float(cost), n + 1)
        if after == before:
            res.unchanged += 1
            return
        change = f"newly_{after}"
        res.changes[change] += 1
        refused = ("blocked", "rate_limited")
        if after in refused and before not in refused and cost is not None:
            res.cost_saved_usd += float(cost)
        if before in refused and after not in refused:
            self.pending_spend.append(row.get("model"))
        if after == "allowed" or (before in refused and after not in refused and not findings):
            findings = _old_findings(row, before)
        for mod, rule, text in findings:
            rc = res.rules.get((change, mod, rule))
            if rc is None:
                rc = res.rules[(change, mod, rule)] = RuleChange(change, mod, rule)
            rc.count += 1
            if cost is not None:
                rc.cost_usd += float(cost)
            if len(rc.examples) < _EXAMPLES:
                rc.examples.append(Example(row["id"], row["started_at"], text[:200]))

    async def _stateful_sinks(self, ex: Exchange) -> None:
        for s in ex.modules:
            if "sink" in s.stages and getattr(s.module, "state", None) is not None:
                await self.pipeline._call(s, "sink", ex)
        for hook in self.pipeline.hooks:
            if "sink" in hook.stages:
                await self.pipeline._call(hook, "sink", ex)

    def finish(self) -> None:
        for model in self.pending_spend:
            s, n = self.avg_cost.get(model, (0.0, 0))
            if n:
                self.res.cost_spent_usd += s / n
            else:
                self.res.spent_unpriced += 1


_EPOCH_CACHE: dict[str, float] = {}


def _epoch(iso: str) -> float:
    """``2025-05-01T12:00:00.123Z`` -> epoch seconds (the second's part cached)."""
    head, _, frac = iso.rstrip("Z").partition(".")
    base = _EPOCH_CACHE.get(head)
    if base is None:
        import calendar

        if len(_EPOCH_CACHE) > 4096:
            _EPOCH_CACHE.clear()
        base = _EPOCH_CACHE[head] = float(calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")))
    return base + (float("0." + frac) if frac else 0.0)


def replay_rows(
    rows: Iterable[dict[str, Any]], loaded: Any, *, progress: Callable[[int], None] | None = None
) -> DryRunResult:
    """Replay recorded rows (``HistoryReader.replay_rows``, oldest first) through the pipeline of ``loaded``
    (a ``LoadedConfig``).  ``progress(n)`` is called every few hundred exchanges with how many were read."""
    from leash_cli.pricing import Pricer
    from leash_cli.registry import make_pipeline
    from leash_cli.state import MemoryState

    clock = _ReplayClock()
    state = MemoryState(clock=clock)
    pipeline = make_pipeline(
        loaded, recorder=None, metrics=None, pricer=Pricer(loaded.config.pricing, loaded.config.providers), state=state
    )
    result = DryRunResult()
    replayer = _Replayer(pipeline, clock, result)
    restore = _patch_time([*pipeline.all_slots, *pipeline.hooks], clock)

    async def run() -> None:
        for row in rows:
            await replayer.one(row)
            if progress is not None and result.total % 250 == 0:
                progress(result.total)
        if progress is not None:
            progress(result.total)

    t0 = time.perf_counter()
    try:
        asyncio.run(run())
    finally:
        restore()
    replayer.finish()
    result.seconds = time.perf_counter() - t0
    return result


def replay(
    reader: Any,
    loaded: Any,
    *,
    since: str | None = None,
    tenant: str | None = None,
    last: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> DryRunResult:
    """:func:`replay_rows` over what a ``HistoryReader`` holds (``since`` an ISO time)."""
    rows: Iterator[dict[str, Any]] = reader.replay_rows(since, tenant, last)
    return replay_rows(rows, loaded, progress=progress)
