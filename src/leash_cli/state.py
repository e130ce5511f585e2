"""Shared state for limits: rate limits (GCRA), counters and budget reservations.

In memory by default; ``state: redis://...`` moves it to Redis (``redis_state``)
so N gateway replicas enforce one limit.  Every operation is one atomic step
(one Lua script in Redis), so concurrent requests cannot overshoot a limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol


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


class MemoryState:
    """Process-local state (one gateway).  Safe under asyncio: no awaits inside an operation."""

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self._tat: dict[str, float] = {}
        self._budget: dict[str, tuple[float, float, float]] = {}  # key -> (spent, reserved, expires)
        self._num: dict[str, tuple[float, float]] = {}  # key -> (value, expires)
        self._once: dict[str, float] = {}
        self._ops = 0

    def _gc(self, now: float) -> None:
        self._ops += 1
        if self._ops % 4096:
            return
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        self._budget = {k: v for k, v in self._budget.items() if v[2] > now}
        self._num = {k: v for k, v in self._num.items() if v[1] > now}
        self._once = {k: v for k, v in self._once.items() if v > now}

    async def rate(self, key: str, limit: int, window: float, cost: int = 1) -> RateResult:
        now = self.clock()
        self._gc(now)
        ok, tat, res = gcra(self._tat.get(key), now, limit, window, cost)
        if ok:
            self._tat[key] = tat
        return res

    async def peek_rate(self, key: str, limit: int, window: float) -> RateResult:
        now = self.clock()
        _, _, res = gcra(self._tat.get(key), now, limit, window, 0)
        return res

    async def reserve(self, key: str, amount: float, limit: float, ttl: float) -> Reservation:
        now = self.clock()
        self._gc(now)
        spent, reserved, exp = self._budget.get(key, (0.0, 0.0, now + ttl))
        if exp <= now:
            spent, reserved, exp = 0.0, 0.0, now + ttl
        if spent + reserved + amount > limit + 1e-12:
            return Reservation(False, spent, reserved)
        self._budget[key] = (spent, reserved + amount, exp)
        return Reservation(True, spent, reserved + amount)

    async def settle(self, key: str, reserved: float, actual: float, ttl: float) -> float:
        now = self.clock()
        spent, res, exp = self._budget.get(key, (0.0, 0.0, now + ttl))
        if exp <= now:
            spent, res, exp = 0.0, reserved, now + ttl
        spent += actual
        self._budget[key] = (spent, max(0.0, res - reserved), exp)
        return spent

    async def budget(self, key: str) -> tuple[float, float]:
        now = self.clock()
        spent, reserved, exp = self._budget.get(key, (0.0, 0.0, now))
        if exp <= now:
            return 0.0, 0.0
        return spent, reserved

    async def add(self, key: str, amount: float, ttl: float) -> float:
        now = self.clock()
        v, exp = self._num.get(key, (0.0, now + ttl))
        if exp <= now:
            v, exp = 0.0, now + ttl
        v += amount
        self._num[key] = (v, exp)
        return v

    async def get(self, key: str) -> float:
        now = self.clock()
        v, exp = self._num.get(key, (0.0, now))
        return v if exp > now else 0.0

    async def once(self, key: str, ttl: float) -> bool:
        now = self.clock()
        exp = self._once.get(key)
        if exp is not None and exp > now:
            return False
        self._once[key] = now + ttl
        return True

    async def close(self) -> None:
        pass


def open_state(url: str | None) -> State:
    """The state backend for ``state:`` (None: in memory)."""
    if not url:
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from leash_cli.redis_state import RedisState

        return RedisState(url)
    raise ValueError(f"unsupported state URL {url!r}: expected redis://host:port/db")


def period_key(period: str, now: float | None = None) -> tuple[str, float]:
    """('2025-05-01', seconds left) for period 'day'; ('2025-05', ...) for 'month' (UTC)."""
    t = time.gmtime(now if now is not None else time.time())
    import calendar

    if period == "month":
        days = calendar.monthrange(t.tm_year, t.tm_mon)[1]
        end = calendar.timegm((t.tm_year, t.tm_mon, days, 23, 59, 59)) + 1
        return f"{t.tm_year:04d}-{t.tm_mon:02d}", end - (now if now is not None else time.time())
    end = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 23, 59, 59)) + 1
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}", end - (now if now is not None else time.time())
