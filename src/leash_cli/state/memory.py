"""Process-local state for limits (one gateway): the default when ``state:`` is not set."""

from __future__ import annotations

import time
from collections.abc import Callable

from leash_cli.state.base import RateResult, Reservation, gcra

__all__ = ["MemoryState"]


class MemoryState:
    """Process-local state (one gateway).  Safe under asyncio: no awaits inside an operation."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
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
