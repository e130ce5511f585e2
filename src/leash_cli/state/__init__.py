"""Shared state for limits: rate limits (GCRA), counters and budget reservations.

In memory by default (:mod:`~leash_cli.state.memory`); ``state: redis://...``
moves it to Redis (:mod:`~leash_cli.state.redis`) so N gateway replicas
enforce one limit.  Every operation is one atomic step (one Lua script in
Redis), so concurrent requests cannot overshoot a limit.
"""

from __future__ import annotations

from leash_cli.state.base import RateResult, Reservation, State, gcra, period_key
from leash_cli.state.memory import MemoryState

__all__ = ["RateResult", "Reservation", "State", "gcra", "period_key", "MemoryState", "open_state"]


def open_state(url: str | None) -> State:
    """The state backend for ``state:`` (None: in memory)."""
    if not url:
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from leash_cli.state.redis import RedisState  # redis is imported only when it is used

        return RedisState(url)
    raise ValueError(f"unsupported state URL {url!r}: expected redis://host:port/db")
