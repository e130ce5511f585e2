"""Budgets that hold under concurrency and streaming.

Before forwarding, reserve the worst-case cost (estimated input + the
request's output cap × the output price); when the exchange ends, settle the
reservation to the real cost.  A request whose reservation does not fit is
refused with 429.  Reservations and spend live in the shared state, so every
replica sees one budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from leash_cli.decision import Decision, block
from leash_cli.exchange import Exchange, Violation
from leash_cli.modules._common import estimate_input_tokens, max_output_tokens
from leash_cli.money import usd, usd_exact
from leash_cli.pricing import _at
from leash_cli.state import period_key

log = logging.getLogger("leash.budget")

RESERVATIONS = "_budget_reservations"

#: On a 429 that no retry can fix before its window resets (a budget, a quota): the official
#: OpenAI and Anthropic SDKs honour it and give up at once instead of sleeping for `retry-after`.
NO_RETRY = "x-should-retry"


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


def worst_case_usd(ex: Exchange, pricer, default_max_tokens: int) -> float | None:
    """The most this request can cost, or None when its model has no price."""
    if pricer is None or not ex.model:
        return None
    try:
        rates = pricer.rates(ex.kind, ex.model, ex.provider)
    except Exception:
        return None
    if rates is None:
        return None
    n_in = estimate_input_tokens(ex)
    n_out = max_output_tokens(ex) or default_max_tokens
    pin = _at(rates.input, n_in) or 0.0
    pout = _at(rates.output, n_in) or 0.0
    preason = _at(rates.reasoning, n_in) if rates.reasoning is not None else pout
    return (n_in * pin + n_out * max(pout, preason or 0.0)) / 1e6


async def reserve(rule: BudgetRule, ex: Exchange, state, pricer) -> Decision | None:
    worst = worst_case_usd(ex, pricer, rule.default_max_tokens)
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
    period, left = period_key(rule.period)
    key = f"budget:{rule.scope}:{period}"
    ttl = left + 3600
    res = await state.reserve(key, worst, rule.limit_usd, ttl)
    if not res.ok:
        return block(
            f"budget exceeded for {rule.scope}: {usd(res.spent)} spent and {usd(res.reserved)} reserved of "
            f"{usd_exact(rule.limit_usd)} per {rule.period}; this request may cost up to {usd(worst)}",
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
    ex.annotations.setdefault(RESERVATIONS, []).append((rule, key, worst, ttl))
    return None


async def settle(ex: Exchange, state, recorder=None) -> None:
    """Turn this exchange's reservations into real spend; record threshold crossings once."""
    for rule, key, amount, ttl in ex.annotations.pop(RESERVATIONS, ()):
        if ex.cost_usd is not None:
            actual = ex.cost_usd
        elif ex.t_upstream_start is not None and (ex.outcome == "client_cancelled" or (ex.status or 0) < 400):
            # the provider worked on it but no usage came back (a stream cut off before its
            # usage): charge the reservation, the most it can have cost
            actual = amount
        else:
            actual = 0.0  # never reached the provider, or refused by it
        spent = await state.settle(key, amount, actual, ttl)
        for th in rule.alert_thresholds:
            before = spent - actual
            if before < th * rule.limit_usd <= spent:
                if await state.once(f"alert:{key}:{th}", ttl):
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
