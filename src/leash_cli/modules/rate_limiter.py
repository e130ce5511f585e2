"""rate-limiter: requests and tokens per window, per tenant, key, provider or model."""

from __future__ import annotations

import time

from pydantic import Field

from leash_cli.decision import Decision, block
from leash_cli.exchange import Exchange, Violation
from leash_cli.modules import _budget, _common
from leash_cli.modules._common import Scope, per_tenant, retry_headers, scope_key
from leash_cli.state import MemoryState

WINDOWS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


class RateLimiter:
    """Limits requests (GCRA: smooth, no burst at window edges) and tokens (fixed windows) per scope."""

    name = "rate-limiter"
    version = "1.0"
    priority = 10
    offload = "never"  # cheap and bounded: runs on the event loop

    class Settings(_common.Settings):
        requests_per_minute: int | None = Field(None, ge=0, description="requests allowed per minute")
        requests_per_hour: int | None = Field(None, ge=0, description="requests allowed per hour")
        requests_per_day: int | None = Field(None, ge=0, description="requests allowed per day")
        tokens_per_minute: int | None = Field(None, ge=0, description="input+output tokens per minute")
        tokens_per_hour: int | None = Field(None, ge=0, description="input+output tokens per hour")
        tokens_per_day: int | None = Field(None, ge=0, description="input+output tokens per day")
        per: list[Scope] = Field(
            default_factory=per_tenant, description="what one limit counts: e.g. [tenant] or [tenant, model]"
        )
        default_max_tokens: int = Field(
            4096, ge=1, description="output tokens a token limit reserves for a request that sets no output cap"
        )
        hidden_input_tokens: int = Field(
            _common.HIDDEN_INPUT_TOKENS,
            ge=0,
            description="prompt tokens a token limit reserves for input a request refers to but does not carry "
            "(previous_response_id, conversation, file ids, cachedContent)",
        )

    def __init__(self, settings: RateLimiter.Settings, context=None) -> None:
        self.s = settings
        self.state = getattr(context, "state", None) or MemoryState()
        self.request_limits = [
            (w, getattr(settings, f"requests_per_{w}"))
            for w in WINDOWS
            if getattr(settings, f"requests_per_{w}") is not None
        ]
        self.token_limits = [
            (w, getattr(settings, f"tokens_per_{w}"))
            for w in WINDOWS
            if getattr(settings, f"tokens_per_{w}") is not None
        ]

    async def policy(self, ex: Exchange) -> Decision | None:
        scope = scope_key(ex, self.s.per)
        headers: dict[str, str] = {}
        for window, limit in self.request_limits:
            secs = WINDOWS[window]
            res = await self.state.rate(f"rl:{scope}:{window}", limit, secs)
            if not headers or res.remaining < int(headers["x-ratelimit-remaining-requests"]):
                headers.update(retry_headers("requests", limit, res.remaining, res.reset_after))
            if not res.allowed:
                return block(
                    f"rate limit exceeded: {limit} requests per {window} for {scope}",
                    status=429,
                    code="rate_limit_exceeded",
                    retry_after=res.retry_after,
                    headers=_retry_hint(headers, res.retry_after),
                    violations=[
                        Violation(self.name, "RATE_LIMIT", "block", "low", f"{limit} requests per {window} ({scope})")
                    ],
                )
        now = time.time()
        for window, limit in self.token_limits:
            secs = WINDOWS[window]
            bucket = int(now // secs)
            reset = (bucket + 1) * secs - now
            # reserve this request's worst case now (settled to its usage in `sink`): concurrent
            # requests cannot all pass a check of what was used before any of them ended
            ok, taken = await _budget.reserve_tokens(
                self.name,
                f"limit of {limit} tokens per {window} for {scope}",
                "rate_limit_exceeded",
                ex,
                self.state,
                f"tok:{scope}:{window}:{bucket}",
                limit,
                secs * 2,
                self.s.default_max_tokens,
                self.s.hidden_input_tokens,
            )
            headers.update(retry_headers("tokens", limit, int(limit - taken), reset))
            if not ok:
                return block(
                    f"token limit exceeded: {limit} tokens per {window} for {scope} "
                    f"({int(taken)} used or reserved; this request may use up to "
                    f"{_budget.worst_case_tokens(ex, self.s.default_max_tokens, self.s.hidden_input_tokens)[0]})",
                    status=429,
                    code="rate_limit_exceeded",
                    retry_after=reset,
                    headers=_retry_hint(headers, reset),
                    violations=[
                        Violation(self.name, "TOKEN_LIMIT", "block", "low", f"{limit} tokens per {window} ({scope})")
                    ],
                )
        if headers:
            return Decision("allow", response_headers=headers)
        return None

    async def sink(self, ex: Exchange) -> None:
        if self.token_limits:
            await _budget.settle(ex, owner=self.name)


#: Longest wait a client retry is worth: the OpenAI SDK follows `retry-after` up to 60 s.
RETRY_WORTH_SECONDS = 60.0


def _retry_hint(headers: dict[str, str], wait: float) -> dict[str, str]:
    """`retry-after` always; an hour or day window that resets later than a client would wait also
    says `x-should-retry: false`, so SDKs fail at once instead of sleeping (or retrying in vain)."""
    if wait > RETRY_WORTH_SECONDS:
        return _budget.no_retry_headers(headers)
    return headers
