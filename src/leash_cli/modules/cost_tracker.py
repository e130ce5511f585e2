"""cost-tracker: spend budgets per tenant (or key, or for everyone), with alerts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from leash_cli.decision import Decision
from leash_cli.exchange import Exchange
from leash_cli.modules import _budget, _common
from leash_cli.modules._common import Scope, per_tenant, scope_key
from leash_cli.state import MemoryState


class CostTracker:
    """Budgets in USD per day or month; reserves the worst case before forwarding and settles to the real cost."""

    name = "cost-tracker"
    version = "1.0"
    priority = 20
    offload = "never"  # cheap and bounded: runs on the event loop

    class Settings(_common.Settings):
        limit_usd: float | None = Field(
            None, ge=0, description="budget per period; tenants' quotas.cost_limit_usd are enforced on their own"
        )
        period: Literal["day", "month"] = Field("day", description="budget period (UTC)")
        per: list[Scope] = Field(default_factory=per_tenant, description="what one budget covers")
        default_max_tokens: int = Field(4096, ge=1, description="output cap assumed when a request sets none")
        allow_unpriced: bool = Field(False, description="let models with no known price through")
        hidden_input_tokens: int = Field(
            _common.HIDDEN_INPUT_TOKENS,
            ge=0,
            description="prompt tokens reserved for input a request refers to but does not carry "
            "(previous_response_id, conversation, file ids, cachedContent)",
        )
        alert_thresholds: list[float] = Field(
            default_factory=lambda: [0.5, 0.8, 1.0], description="fractions of the budget that raise an alert once"
        )

    def __init__(self, settings: CostTracker.Settings, context=None) -> None:
        self.s = settings
        self.state = getattr(context, "state", None) or MemoryState()
        self.pricer = getattr(context, "pricer", None)
        self.recorder = getattr(context, "recorder", None)

    async def policy(self, ex: Exchange) -> Decision | None:
        if self.s.limit_usd is None:
            return None
        rule = _budget.BudgetRule(
            self.name,
            scope_key(ex, self.s.per),
            self.s.limit_usd,
            self.s.period,
            self.s.default_max_tokens,
            self.s.allow_unpriced,
            tuple(self.s.alert_thresholds),
            self.s.hidden_input_tokens,
        )
        return await _budget.reserve(rule, ex, self.state, self.pricer)

    async def sink(self, ex: Exchange) -> None:
        await _budget.settle(ex, self.state, self.recorder, self.name)
