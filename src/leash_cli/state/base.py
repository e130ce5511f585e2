"""Shared state for limits: what every backend offers (the :class:`State` protocol) and its values.

Rate limits use the generic cell rate algorithm (:func:`gcra`); budgets are
reserved before a request and settled on its actual cost.
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["RateResult", "Reservation", "State", "gcra", "period_key"]


@dataclass(slots=True, frozen=True)
class RateResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the window is fully free again
    retry_after: float  # seconds until the next request would pass (0 when allowed)


@dataclass(slots=True, frozen=True)
class Reservation:
    ok: bool
    spent: float
    reserved: float


class State(Protocol):
    async def rate(self, key: str, limit: int, window: float, cost: int = 1) -> RateResult: ...
    async def peek_rate(self, key: str, limit: int, window: float) -> RateResult: ...
    async def reserve(self, key: str, amount: float, limit: float, ttl: float) -> Reservation: ...
    async def settle(self, key: str, reserved: float, actual: float, ttl: float) -> float: ...
    async def budget(self, key: str) -> tuple[float, float]: ...
    async def add(self, key: str, amount: float, ttl: float) -> float: ...
    async def get(self, key: str) -> float: ...
    async def once(self, key: str, ttl: float) -> bool: ...
    async def close(self) -> None: ...


def gcra(tat: float | None, now: float, limit: int, window: float, cost: int) -> tuple[bool, float, RateResult]:
    """The generic cell rate algorithm: (allowed, new TAT, result)."""
    if limit <= 0:
        return False, tat or now, RateResult(False, limit, 0, window, window)
    interval = window / limit
    tat = now if tat is None or tat < now else tat
    new_tat = tat + cost * interval
    allow_at = new_tat - window
    if now < allow_at - 1e-9:
        remaining = max(0, int(math.floor((window - (tat - now)) / interval + 1e-9)))
        return False, tat, RateResult(False, limit, remaining, tat - now, allow_at - now)
    remaining = max(0, int(math.floor((window - (new_tat - now)) / interval + 1e-9)))
    return True, new_tat, RateResult(True, limit, remaining, new_tat - now, 0.0)


def period_key(period: str, now: float | None = None) -> tuple[str, float]:
    """('2025-05-01', seconds left) for period 'day'; ('2025-05', ...) for 'month' (UTC)."""
    t = time.gmtime(now if now is not None else time.time())
    if period == "month":
        days = calendar.monthrange(t.tm_year, t.tm_mon)[1]
        end = calendar.timegm((t.tm_year, t.tm_mon, days, 23, 59, 59)) + 1
        return f"{t.tm_year:04d}-{t.tm_mon:02d}", end - (now if now is not None else time.time())
    end = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 23, 59, 59)) + 1
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}", end - (now if now is not None else time.time())
