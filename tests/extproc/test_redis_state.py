"""RedisState against a real Redis, side by side with MemoryState."""

from __future__ import annotations

import asyncio

import pytest
from ep_support import REDIS_URL, need_redis

from leash_cli.state import MemoryState, open_state


def _make(kind: str, prefix: str | None):
    if kind == "memory":
        return MemoryState()
    from leash_cli.redis_state import RedisState

    return RedisState(REDIS_URL, prefix=prefix)


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
    else:
        prefix = None
    return lambda: _make(request.param, prefix)


def run(coro):
    return asyncio.run(coro)


def test_gcra_semantics(backend):
    async def go():
        st = backend()
        try:
            got = [await st.rate("k", 3, 60.0) for _ in range(4)]
            assert [r.allowed for r in got] == [True, True, True, False]
            assert [r.remaining for r in got[:3]] == [2, 1, 0]
            denied = got[3]
            assert denied.limit == 3 and denied.remaining == 0
            assert 19.0 < denied.retry_after <= 20.0  # one slot frees every window/limit
            assert 59.0 < denied.reset_after <= 60.0
            peek = await st.peek_rate("k", 3, 60.0)
            assert peek.remaining == 0
            other = await st.peek_rate("other", 3, 60.0)
            assert other.allowed and other.remaining == 3
            assert (await st.peek_rate("other", 3, 60.0)).remaining == 3  # peeking spends nothing
            big = await st.rate("cost", 10, 60.0, cost=4)
            assert big.allowed and big.remaining == 6
            assert not (await st.rate("zero", 0, 60.0)).allowed
        finally:
            await st.close()

    run(go())


def test_gcra_window_refills(backend):
    async def go():
        st = backend()
        try:
            assert (await st.rate("fast", 2, 0.2)).allowed
            assert (await st.rate("fast", 2, 0.2)).allowed
            assert not (await st.rate("fast", 2, 0.2)).allowed
            await asyncio.sleep(0.25)
            assert (await st.rate("fast", 2, 0.2)).allowed
        finally:
            await st.close()

    run(go())


def test_budget_semantics(backend):
    async def go():
        st = backend()
        try:
            assert await st.budget("b") == (0.0, 0.0)
            r1 = await st.reserve("b", 0.4, 1.0, 60)
            assert r1.ok and r1.spent == 0.0 and r1.reserved == pytest.approx(0.4)
            r2 = await st.reserve("b", 0.5, 1.0, 60)
            assert r2.ok and r2.reserved == pytest.approx(0.9)
            r3 = await st.reserve("b", 0.2, 1.0, 60)
            assert not r3.ok and r3.reserved == pytest.approx(0.9)
            spent = await st.settle("b", 0.4, 0.1, 60)
            assert spent == pytest.approx(0.1)
            assert await st.budget("b") == (pytest.approx(0.1), pytest.approx(0.5))
            assert (await st.reserve("b", 0.4, 1.0, 60)).ok  # 0.1 + 0.5 + 0.4 fits exactly
            assert await st.settle("gone", 0.3, 0.2, 60) == pytest.approx(0.2)
            assert await st.budget("gone") == (pytest.approx(0.2), 0.0)
            # counters and once
            assert await st.get("n") == 0.0
            assert await st.add("n", 2.5, 60) == pytest.approx(2.5)
            assert await st.add("n", 1, 60) == pytest.approx(3.5)
            assert await st.get("n") == pytest.approx(3.5)
            assert await st.once("alert", 60) is True
            assert await st.once("alert", 60) is False
        finally:
            await st.close()

    run(go())


def test_expiry(backend):
    async def go():
        st = backend()
        try:
            await st.add("short", 5, 0.1)
            assert (await st.reserve("sb", 1.0, 1.0, 0.1)).ok
            assert await st.once("o", 0.1)
            await asyncio.sleep(0.2)
            assert await st.get("short") == 0.0
            assert await st.budget("sb") == (0.0, 0.0)
            assert (await st.reserve("sb", 1.0, 1.0, 60)).ok
            assert await st.once("o", 0.1)
        finally:
            await st.close()

    run(go())


def test_concurrent_reservations_across_two_clients(redis_prefix):
    """50 concurrent reservations against a budget that fits 10, from two clients: exactly 10 win."""
    from leash_cli.redis_state import RedisState

    async def go():
        a = RedisState(REDIS_URL, prefix=redis_prefix)
        b = RedisState(REDIS_URL, prefix=redis_prefix)
        try:
            results = await asyncio.gather(*((a if i % 2 else b).reserve("shared", 0.1, 1.0, 60) for i in range(50)))
            assert sum(r.ok for r in results) == 10
            spent, reserved = await a.budget("shared")
            assert spent == 0.0 and reserved == pytest.approx(1.0)
            rates = await asyncio.gather(*((a if i % 2 else b).rate("rl", 10, 60.0) for i in range(50)))
            assert sum(r.allowed for r in rates) == 10
        finally:
            await a.close()
            await b.close()

    run(go())


def test_open_state_picks_redis():
    need_redis()
    from leash_cli.redis_state import RedisState

    st = open_state(REDIS_URL)
    assert isinstance(st, RedisState)
    asyncio.run(st.close())
