"""The tenant's own rules: quotas, budgets and allowed providers/models.

Always on for a tenant that sets any of ``quotas``, ``allowed_providers``,
``allowed_models`` or ``blocked_models``; runs before the modules.
"""

from __future__ import annotations

import fnmatch
import time

from leash_cli.config import TenantConfig
from leash_cli.decision import Decision, block
from leash_cli.exchange import Exchange, Violation
from leash_cli.modules import _budget
from leash_cli.modules._common import retry_headers

NAME = "tenant-quota"
WINDOWS = (("minute", 60.0), ("hour", 3600.0), ("day", 86400.0))
#: output tokens a tenant's token quota reserves for a request that sets no output cap
DEFAULT_MAX_TOKENS = 4096


def _match(name: str | None, patterns: list[str]) -> bool:
    return name is not None and any(fnmatch.fnmatchcase(name, p) for p in patterns)


class TenantRules:
    name = NAME
    priority = 0
    offload = "never"  # cheap and bounded: runs on the event loop

    def __init__(self, tenants: dict[str, TenantConfig], state, pricer=None, recorder=None) -> None:
        self.tenants = {t: c for t, c in tenants.items() if _has_rules(c)}
        self.state = state
        self.pricer = pricer
        self.recorder = recorder

    async def policy(self, ex: Exchange) -> Decision | None:
        tc = self.tenants.get(ex.tenant)
        if tc is None:
            return None
        if tc.allowed_providers is not None and ex.provider not in tc.allowed_providers:
            return _deny(
                "PROVIDER_NOT_ALLOWED",
                f"tenant {ex.tenant!r} may not use provider {ex.provider!r} "
                f"(allowed: {', '.join(tc.allowed_providers) or 'none'})",
            )
        if tc.allowed_models is not None and ex.model is not None and not _match(ex.model, tc.allowed_models):
            return _deny("MODEL_NOT_ALLOWED", f"tenant {ex.tenant!r} may not use model {ex.model!r}")
        if tc.blocked_models and _match(ex.model, tc.blocked_models):
            return _deny("MODEL_BLOCKED", f"model {ex.model!r} is blocked for tenant {ex.tenant!r}")
        q = tc.quotas
        headers: dict[str, str] = {}
        for window, secs in WINDOWS:
            limit = getattr(q, f"requests_per_{window}")
            if limit is None:
                continue
            res = await self.state.rate(f"tq:{ex.tenant}:{window}", limit, secs)
            headers.update(retry_headers("requests", limit, res.remaining, res.reset_after))
            if not res.allowed:
                return block(
                    f"quota exceeded: tenant {ex.tenant!r} may make {limit} requests per {window}",
                    status=429,
                    code="quota_exceeded",
                    retry_after=res.retry_after,
                    headers=_budget.no_retry_headers(headers),
                    violations=[Violation(NAME, "QUOTA_EXCEEDED", "block", "low", f"{limit} requests per {window}")],
                )
        if q.tokens_per_day is not None:
            bucket = int(time.time() // 86400)
            ok, taken = await _budget.reserve_tokens(
                NAME,
                f"quota of {q.tokens_per_day} tokens per day of tenant {ex.tenant!r}",
                "quota_exceeded",
                ex,
                self.state,
                f"tqtok:{ex.tenant}:{bucket}",
                q.tokens_per_day,
                2 * 86400,
                DEFAULT_MAX_TOKENS,
            )
            if not ok:
                reset = (bucket + 1) * 86400 - time.time()
                return block(
                    f"quota exceeded: tenant {ex.tenant!r} used or reserved {int(taken)} of {q.tokens_per_day} "
                    f"tokens today; this request may use up to "
                    f"{_budget.worst_case_tokens(ex, DEFAULT_MAX_TOKENS)[0]}",
                    status=429,
                    code="quota_exceeded",
                    retry_after=reset,
                    headers=_budget.no_retry_headers(),
                    violations=[
                        Violation(NAME, "TOKEN_QUOTA_EXCEEDED", "block", "low", f"{q.tokens_per_day} tokens per day")
                    ],
                )
        if q.cost_limit_usd is not None:
            rule = _budget.BudgetRule(NAME, f"tenant={ex.tenant}", q.cost_limit_usd, q.cost_period)
            d = await _budget.reserve(rule, ex, self.state, self.pricer)
            if d is not None:
                return d
        if headers:
            return Decision("allow", response_headers=headers)
        return None

    async def sink(self, ex: Exchange) -> None:
        tc = self.tenants.get(ex.tenant)
        if tc is None:
            return
        await _budget.settle(ex, self.state, self.recorder, NAME)


def _has_rules(tc: TenantConfig) -> bool:
    q = tc.quotas
    return (
        tc.allowed_providers is not None
        or tc.allowed_models is not None
        or bool(tc.blocked_models)
        or any(
            v is not None
            for v in (
                q.requests_per_minute,
                q.requests_per_hour,
                q.requests_per_day,
                q.tokens_per_day,
                q.cost_limit_usd,
            )
        )
    )


def _deny(kind: str, message: str) -> Decision:
    return block(
        message, status=403, code="not_allowed", violations=[Violation(NAME, kind, "block", "medium", message)]
    )
