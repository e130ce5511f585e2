"""Budgets and token quotas that hold under concurrency and streaming.

Before forwarding, reserve the worst case: the estimated input (one token per
3 bytes of body, plus ``hidden_input_tokens`` when the request refers to input
it does not carry) and the request's output cap (else ``default_max_tokens``)
— in USD at the model's prices for a budget, in tokens for a token quota.  A
request whose reservation does not fit is refused with 429.  While a stream
runs, its output is counted (the provider's running usage where it reports one,
else one token per 4 bytes of streamed text); once it passes what was reserved
the reservation is extended from what the budget has left, and when nothing is
left the stream is stopped with an error event.  When the exchange ends, the
reservation is settled to the real usage.  Reservations and spend live in the
shared state, so every replica sees one budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from leash_cli.decision import Decision, block
from leash_cli.exchange import Exchange, Violation
from leash_cli.modules._common import HIDDEN_INPUT_TOKENS, estimate_input_tokens, max_output_tokens
from leash_cli.money import usd, usd_exact
from leash_cli.pipeline import STREAM_GUARD
from leash_cli.pricing import _at
from leash_cli.state import period_key

log = logging.getLogger("leash.budget")

RESERVATIONS = "_budget_reservations"

#: On a 429 that no retry can fix before its window resets (a budget, a quota): the official
#: OpenAI and Anthropic SDKs honour it and give up at once instead of sleeping for `retry-after`.
NO_RETRY = "x-should-retry"

#: a reservation is extended mid-stream by at least this many output tokens at a time
EXTEND_STEP = 256


def no_retry_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), NO_RETRY: "false"}


@dataclass(slots=True)
class BudgetRule:
    owner: str  # module name for violations
    scope: str  # e.g. "tenant=acme"
    limit_usd: float
    period: str  # day | month
    default_max_tokens: int = 4096
    allow_unpriced: bool = False
    alert_thresholds: tuple[float, ...] = (0.5, 0.8, 1.0)
    hidden_input_tokens: int = HIDDEN_INPUT_TOKENS


@dataclass(slots=True, eq=False)
class Held:
    """One reservation of one exchange: in USD (a budget) or in tokens (a quota)."""

    owner: str
    what: str  # what the limit is, for messages: "budget of tenant=acme ($1.00 per day)"
    code: str  # the error code of a stop
    state: Any
    key: str
    limit: float
    ttl: float
    amount: float  # reserved so far (extensions included)
    out_tokens: int  # output tokens the reservation covers
    per_out_token: float  # what one more output token costs (USD, or 1 token)
    tokens: bool  # a token quota (settles on tokens, not cost)
    rule: BudgetRule | None = None  # a budget's rule (alerts)


def _held(ex: Exchange) -> list[Held]:
    h: list[Held] | None = ex.annotations.get(RESERVATIONS)
    if h is None:
        h = ex.annotations[RESERVATIONS] = []
        ex.annotations[STREAM_GUARD] = guard_stream
    return h


def _rates(ex: Exchange, pricer):
    if pricer is None or not ex.model:
        return None
    try:
        return pricer.rates(ex.kind, ex.model, ex.provider)
    except Exception:
        return None


def worst_case(
    ex: Exchange, pricer, default_max_tokens: int, hidden_input_tokens: int = HIDDEN_INPUT_TOKENS
) -> tuple[float, int, float] | None:
    """(most this request can cost in USD, output tokens covered, USD per output token); None: no price."""
    rates = _rates(ex, pricer)
    if rates is None:
        return None
    n_in = estimate_input_tokens(ex, hidden_input_tokens)
    n_out = max_output_tokens(ex) or default_max_tokens
    pin = _at(rates.input, n_in) or 0.0
    pout = _at(rates.output, n_in) or 0.0
    preason = _at(rates.reasoning, n_in) if rates.reasoning is not None else pout
    per_out = max(pout, preason or 0.0) / 1e6
    return n_in * pin / 1e6 + n_out * per_out, n_out, per_out


def worst_case_usd(ex: Exchange, pricer, default_max_tokens: int) -> float | None:
    """The most this request can cost, or None when its model has no price."""
    w = worst_case(ex, pricer, default_max_tokens)
    return None if w is None else w[0]


def worst_case_tokens(
    ex: Exchange, default_max_tokens: int, hidden_input_tokens: int = HIDDEN_INPUT_TOKENS
) -> tuple[int, int]:
    """(input + output tokens this request may use, output tokens of it)."""
    n_out = max_output_tokens(ex) or default_max_tokens
    return estimate_input_tokens(ex, hidden_input_tokens) + n_out, n_out


async def reserve(rule: BudgetRule, ex: Exchange, state, pricer) -> Decision | None:
    worst = worst_case(ex, pricer, rule.default_max_tokens, rule.hidden_input_tokens)
    if worst is None:
        if rule.allow_unpriced:
            return None
        return block(
            f"model {ex.model!r} has no known price, so the budget of {rule.scope} cannot cover it "
            f"(set pricing for it, or allow_unpriced)",
            status=403,
            code="unpriced_model",
            violations=[Violation(rule.owner, "UNPRICED_MODEL", "block", "medium", f"{ex.model} ({rule.scope})")],
        )
    amount, n_out, per_out = worst
    period, left = period_key(rule.period)
    key = f"budget:{rule.scope}:{period}"
    ttl = left + 3600
    res = await state.reserve(key, amount, rule.limit_usd, ttl)
    if not res.ok:
        return block(
            f"budget exceeded for {rule.scope}: {usd(res.spent)} spent and {usd(res.reserved)} reserved of "
            f"{usd_exact(rule.limit_usd)} per {rule.period}; this request may cost up to {usd(amount)}",
            status=429,
            code="budget_exceeded",
            retry_after=left,
            headers=no_retry_headers(),
            violations=[
                Violation(
                    rule.owner,
                    "BUDGET_EXCEEDED",
                    "block",
                    "medium",
                    f"limit {usd_exact(rule.limit_usd)} per {rule.period} ({rule.scope})",
                )
            ],
        )
    what = f"budget of {rule.scope} ({usd_exact(rule.limit_usd)} per {rule.period})"
    _held(ex).append(
        Held(rule.owner, what, "budget_exceeded", state, key, rule.limit_usd, ttl, amount, n_out, per_out, False, rule)
    )
    return None


async def reserve_tokens(
    owner: str,
    what: str,
    code: str,
    ex: Exchange,
    state,
    key: str,
    limit: int,
    ttl: float,
    default_max_tokens: int,
    hidden_input_tokens: int = HIDDEN_INPUT_TOKENS,
) -> tuple[bool, float]:
    """Reserve this request's worst case of tokens under `key` (capped at `limit`, so a request
    larger than the whole quota still runs alone, stopped mid-stream at the quota).
    Returns (reserved, tokens used or reserved by everyone, this one included)."""
    worst, n_out = worst_case_tokens(ex, default_max_tokens, hidden_input_tokens)
    amount = float(min(worst, limit))
    res = await state.reserve(key, amount, float(limit), ttl)
    if not res.ok:
        return False, res.spent + res.reserved
    covered = max(0, n_out - (worst - int(amount)))
    _held(ex).append(Held(owner, what, code, state, key, float(limit), ttl, amount, covered, 1.0, True))
    return True, res.spent + res.reserved


async def guard_stream(ex: Exchange, out_tokens: int) -> Decision | None:
    """A stream has produced about `out_tokens` output tokens: extend each reservation it has
    passed from what its budget or quota has left, or stop the stream (a 429 decision)."""
    for h in ex.annotations.get(RESERVATIONS) or ():
        if out_tokens <= h.out_tokens:
            continue
        need = out_tokens - h.out_tokens
        for step in dict.fromkeys((max(need, EXTEND_STEP), need)):
            extra = step * h.per_out_token
            res = await h.state.reserve(h.key, extra, h.limit, h.ttl)
            if res.ok:
                h.amount += extra
                h.out_tokens += step
                break
        else:
            unit = "tokens" if h.tokens else "budget"
            taken = f"{int(res.spent + res.reserved)} tokens" if h.tokens else usd(res.spent + res.reserved)
            msg = (
                f"stream stopped: its answer used up the {h.what} (about {out_tokens} output tokens so far; "
                f"{taken} spent or reserved)"
            )
            log.warning("%s: %s", ex.id, msg)
            return block(
                msg,
                status=429,
                code=h.code,
                headers=no_retry_headers(),
                violations=[Violation(h.owner, "STREAM_STOPPED", "block", "medium", f"{unit}: {h.what}")],
            )
    return None


def _actual(ex: Exchange, h: Held) -> float:
    worked = ex.t_upstream_start is not None and (ex.outcome == "client_cancelled" or (ex.status or 0) < 400)
    if h.tokens:
        u = ex.usage
        if u.known:
            return float((u.input_tokens or 0) + (u.output_tokens or 0))
    elif ex.cost_usd is not None:
        return ex.cost_usd
    if worked:
        # the provider worked on it but no usage came back (a stream cut off before its usage,
        # or stopped by leash): charge the reservation, the most it can have cost
        return h.amount
    return 0.0  # never reached the provider, or refused by it


async def settle(ex: Exchange, state=None, recorder=None, owner: str | None = None) -> None:
    """Turn this exchange's reservations (those of `owner`, or all) into real spend; record budget
    threshold crossings once."""
    held = ex.annotations.get(RESERVATIONS) or []
    mine = [h for h in held if owner is None or h.owner == owner]
    held[:] = [h for h in held if h not in mine]
    for h in mine:
        actual = _actual(ex, h)
        spent = await h.state.settle(h.key, h.amount, actual, h.ttl)
        rule = h.rule
        if rule is None:
            continue
        for th in rule.alert_thresholds:
            before = spent - actual
            if before < th * rule.limit_usd <= spent:
                if await h.state.once(f"alert:{h.key}:{th}", h.ttl):
                    detail = (
                        f"{rule.scope} crossed {th:.0%} of {usd_exact(rule.limit_usd)} per {rule.period} "
                        f"({usd(spent)} spent)"
                    )
                    log.warning("budget alert: %s", detail)
                    ex.violations.append(Violation(rule.owner, "BUDGET_ALERT", "alert", "medium", detail))
                    if recorder is not None and hasattr(recorder, "audit"):
                        recorder.audit(
                            "budget_alert",
                            {
                                "scope": rule.scope,
                                "threshold": th,
                                "spent_usd": round(spent, 6),
                                "limit_usd": rule.limit_usd,
                            },
                            actor=rule.owner,
                        )
