"""Shared limits in Redis: N gateway replicas (or ext_proc module hosts) enforce one limit.

The same operations as :class:`leash_cli.state.MemoryState`, each one Lua
script, so concurrent requests on any replica cannot overshoot a limit.  The
clock is the Redis server's (``TIME``), so replicas with drifting clocks agree.

Keys are ``{prefix}{kind}:{key}``; expiry is Redis' own (``PX``), so nothing
needs sweeping.  Floats cross the Lua boundary as strings (Lua would truncate a
returned number to an integer).
"""

from __future__ import annotations

import math
from typing import Any

from redis.asyncio import Redis

from leash_cli.state.base import RateResult, Reservation

# KEYS[1] = tat key; ARGV = limit, window, cost, write (1/0)
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local write = ARGV[4] == '1'
local function f(x) return string.format('%.17g', x) end
if limit <= 0 then
  return {0, 0, f(window), f(window)}
end
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - window
if now < allow_at - 1e-9 then
  local remaining = math.max(0, math.floor((window - (tat - now)) / interval + 1e-9))
  return {0, remaining, f(tat - now), f(allow_at - now)}
end
local remaining = math.max(0, math.floor((window - (new_tat - now)) / interval + 1e-9))
if write and new_tat > now then
  redis.call('SET', KEYS[1], f(new_tat), 'PX', math.max(1, math.ceil((new_tat - now) * 1000)))
end
return {1, remaining, f(new_tat - now), '0'}
"""

# KEYS[1] = budget hash {spent, reserved}; ARGV = amount, limit, ttl_ms
_RESERVE = """
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local function f(x) return string.format('%.17g', x) end
if spent + reserved + amount > limit + 1e-12 then
  return {0, f(spent), f(reserved)}
end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
reserved = reserved + amount
redis.call('HSET', KEYS[1], 'spent', f(spent), 'reserved', f(reserved))
if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, f(spent), f(reserved)}
"""

# KEYS[1] = budget hash; ARGV = reserved, actual, ttl_ms
_SETTLE = """
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local function f(x) return string.format('%.17g', x) end
spent = spent + tonumber(ARGV[2])
reserved = math.max(0, reserved - tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'spent', f(spent), 'reserved', f(reserved))
if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return f(spent)
"""

# KEYS[1] = counter; ARGV = amount, ttl_ms
_ADD = """
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
"""


def _ms(seconds: float) -> int:
    return max(1, int(math.ceil(seconds * 1000)))


class RedisState:
    """The :class:`~leash_cli.state.State` protocol over Redis (``state: redis://host:port/db``)."""

    def __init__(self, url: str, *, prefix: str = "leash:", client: Redis | None = None) -> None:
        self.url = url
        self.prefix = prefix
        self.redis: Redis = client or Redis.from_url(url, decode_responses=False, health_check_interval=30)
        self._gcra = self.redis.register_script(_GCRA)
        self._reserve = self.redis.register_script(_RESERVE)
        self._settle = self.redis.register_script(_SETTLE)
        self._add = self.redis.register_script(_ADD)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    async def rate(self, key: str, limit: int, window: float, cost: int = 1) -> RateResult:
        r = await self._gcra(keys=[self._k("rate", key)], args=[int(limit), repr(float(window)), int(cost), 1])
        return _rate(r, limit)

    async def peek_rate(self, key: str, limit: int, window: float) -> RateResult:
        r = await self._gcra(keys=[self._k("rate", key)], args=[int(limit), repr(float(window)), 0, 0])
        return _rate(r, limit)

    async def reserve(self, key: str, amount: float, limit: float, ttl: float) -> Reservation:
        r = await self._reserve(keys=[self._k("budget", key)], args=[repr(float(amount)), repr(float(limit)), _ms(ttl)])
        return Reservation(bool(int(r[0])), float(r[1]), float(r[2]))

    async def settle(self, key: str, reserved: float, actual: float, ttl: float) -> float:
        r = await self._settle(
            keys=[self._k("budget", key)], args=[repr(float(reserved)), repr(float(actual)), _ms(ttl)]
        )
        return float(r)

    async def budget(self, key: str) -> tuple[float, float]:
        spent, reserved = await self.redis.hmget(self._k("budget", key), ["spent", "reserved"])
        return float(spent or 0.0), float(reserved or 0.0)

    async def add(self, key: str, amount: float, ttl: float) -> float:
        return float(await self._add(keys=[self._k("num", key)], args=[repr(float(amount)), _ms(ttl)]))

    async def get(self, key: str) -> float:
        v = await self.redis.get(self._k("num", key))
        return float(v) if v is not None else 0.0

    async def once(self, key: str, ttl: float) -> bool:
        return bool(await self.redis.set(self._k("once", key), b"1", nx=True, px=_ms(ttl)))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()


def _rate(r: list[Any], limit: int) -> RateResult:
    allowed = bool(int(r[0]))
    return RateResult(allowed, int(limit), int(r[1]), float(r[2]), float(r[3]))
