"""Issue #25 item 4: per-origin upstream connection caps (waiters queued) and idle expiry of pooled
connections, against a real asyncio server that counts its open connections."""

from __future__ import annotations

import asyncio

import pytest

from leash_cli.upstream import UpstreamClient, UpstreamOptions, UpstreamPoolTimeout
from test_upstream_client import Raw, http_response, run


class Counting(Raw):
    """Keep-alive server answering after ``delay``; tracks connections open now and at most."""

    def __init__(self, delay: float) -> None:
        super().__init__(self._serve)
        self.delay = delay
        self.open = 0
        self.peak = 0

    async def _serve(self, reader, writer, srv) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                req = await self.read_request(reader)
                if req is None:
                    return
                await asyncio.sleep(self.delay)
                writer.write(http_response(b'{"ok": true}'))
                await writer.drain()
        finally:
            self.open -= 1


@pytest.mark.slow
def test_cap_of_two_with_five_slow_requests_never_opens_more_than_two():
    async def main():
        async with Counting(0.3) as srv:
            c = UpstreamClient()
            opts = UpstreamOptions(max_connections=2, first_byte_timeout=30.0)

            async def one():
                r = await c.request("POST", srv.url + "/v1", {}, b"{}", options=opts)
                body = await r.read()
                r.release()
                return r.status, body

            seen_waiting = []

            async def watch():
                for _ in range(20):
                    seen_waiting.append(c.stats())
                    await asyncio.sleep(0.05)

            results, _ = await asyncio.gather(asyncio.gather(*[one() for _ in range(5)]), watch())
            assert [s for s, _ in results] == [200] * 5
            assert srv.peak == 2 and srv.connections == 2  # the two are reused by the three waiting
            assert any(row[3] > 0 for snap in seen_waiting for row in snap)  # someone queued
            assert all(row[1] <= 2 for snap in seen_waiting for row in snap)
            await c.close()

    run(main())


def test_a_waiter_gives_up_after_its_timeout_and_the_slot_survives():
    async def main():
        async with Counting(0.45) as srv:
            c = UpstreamClient()
            opts = UpstreamOptions(max_connections=1, first_byte_timeout=5.0, total_timeout=0.2)
            slow = asyncio.ensure_future(
                c.request("POST", srv.url + "/", {}, b"{}", options=UpstreamOptions(max_connections=1))
            )
            deadline = asyncio.get_running_loop().time() + 5
            while srv.open < 1:  # the slow request holds the one slot
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)
            with pytest.raises(UpstreamPoolTimeout) as e:
                await c.request("POST", srv.url + "/", {}, b"{}", options=opts)
            assert "max_upstream_connections_per_origin" in str(e.value) and c.pool_timeouts == 1
            r = await slow
            await r.read()
            r = await c.request("POST", srv.url + "/", {}, b"{}", options=UpstreamOptions(max_connections=1))
            assert r.status == 200 and srv.peak == 1
            await r.read()
            await c.close()

    run(main())


@pytest.mark.slow
def test_a_cancelled_waiter_leaks_no_slot():
    async def main():
        async with Counting(0.5) as srv:
            c = UpstreamClient()
            opts = UpstreamOptions(max_connections=1)
            first = asyncio.ensure_future(c.request("POST", srv.url + "/", {}, b"{}", options=opts))
            await asyncio.sleep(0.1)
            waiters = [
                asyncio.ensure_future(c.request("POST", srv.url + "/", {}, b"{}", options=opts)) for _ in range(3)
            ]
            await asyncio.sleep(0.1)
            for w in waiters:
                w.cancel()
            r = await first
            await r.read()
            for _ in range(3):
                r = await asyncio.wait_for(c.request("POST", srv.url + "/", {}, b"{}", options=opts), 5)
                await r.read()
            assert c.stats()[0][1:] == (1, 1, 0) and srv.peak == 1
            await c.close()

    run(main())


@pytest.mark.slow
def test_idle_pooled_connections_are_closed_after_the_expiry():
    async def main():
        async with Counting(0.0) as srv:
            c = UpstreamClient()
            opts = UpstreamOptions(pool_idle_timeout=0.5)

            async def one():
                r = await c.request("GET", srv.url + "/", {}, None, options=opts)
                await r.read()

            await asyncio.gather(*[one() for _ in range(3)])
            assert srv.open == 3 and c.stats()[0][1:3] == (3, 3)
            await asyncio.sleep(0.2)
            assert srv.open == 3  # not yet
            await asyncio.sleep(1.3)
            assert srv.open == 0 and c.expired == 3 and c.stats() == []  # closed by the sweeper, server saw it
            await one()  # a fresh connection afterwards
            assert srv.connections == 4
            await c.close()

    run(main())
