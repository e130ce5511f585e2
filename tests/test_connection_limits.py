"""Issue #25 item 4 through the real gateway: gateway.max_connections, gateway.header_timeout,
gateway.max_upstream_connections_per_origin (waiters queued), gateway.upstream_idle_expiry, and
(item 8) gateway.admin_port.  Timing margins are generous: limits of 1 s are checked within 8 s."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from gateway_support import provider_block

CHAT = (
    b'{"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini", "choices": [{"index": 0, '
    b'"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}], '
    b'"usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}'
)


class CountingUpstream:
    """An OpenAI-shaped keep-alive upstream answering after ``delay``; counts connections open now
    and at most (the most connections the gateway held to it at once)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.open = 0
        self.peak = 0
        self.total = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CountingUpstream:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self.server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        self._ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.total += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                await asyncio.sleep(self.delay)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(CHAT)
                    + CHAT
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def _read_to_eof(s: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes; fails past ``within`` seconds."""
    s.settimeout(within)
    out = b""
    while True:
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            return out
        if not got:
            return out
        out += got


def _metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def _chat(base: str) -> str:
    c = openai.OpenAI(base_url=base, api_key="k", max_retries=0, timeout=30)
    r = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    return r.choices[0].message.content or ""


@pytest.mark.slow
def test_half_sent_heads_are_closed_after_header_timeout_while_others_are_served(start_gateway):
    gw = start_gateway({"gateway": {"header_timeout": "1s"}})
    half = [_connect(gw.url) for _ in range(60)]
    for s in half:
        s.sendall(b"POST /v1/openai/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Ty")
    silent = [_connect(gw.url) for _ in range(20)]
    assert _chat(gw.base("mock")) != ""  # served meanwhile
    t0 = time.monotonic()
    answers = [_read_to_eof(s, 8.0) for s in half]
    quiet = [_read_to_eof(s, 8.0) for s in silent]
    waited = time.monotonic() - t0
    assert waited < 8.0
    assert all(a.startswith(b"HTTP/1.1 408 ") and b"header_timeout" in a for a in answers)
    assert quiet == [b""] * 20  # nothing sent, nothing answered: just closed
    for s in half + silent:
        s.close()
    assert _metric(gw.url, "leash_gateway_header_timeouts_total") == 80
    # a slow but steady client that finishes its head in time is served
    s = _connect(gw.url)
    s.sendall(b"GET /health HTTP/1.1\r\n")
    time.sleep(0.3)
    s.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
    assert _read_to_eof(s, 8.0).startswith(b"HTTP/1.1 200 ")
    s.close()


def test_connections_beyond_max_connections_are_refused_and_counted(start_gateway):
    gw = start_gateway({"gateway": {"max_connections": 10, "header_timeout": 60}})
    gate = gw.gateway.connection_gate
    held = [_connect(gw.url) for _ in range(10)]
    deadline = time.monotonic() + 8
    while gate.open < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.open == 10
    refused = [_connect(gw.url) for _ in range(7)]
    answers = [_read_to_eof(s, 8.0) for s in refused]
    assert all(a.startswith(b"HTTP/1.1 503 ") and b"too_many_connections" in a for a in answers)
    assert gate.refused == 7 and gate.open == 10
    for s in refused + held[:5]:
        s.close()
    deadline = time.monotonic() + 8
    while gate.open > 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _chat(gw.base("mock")) != ""  # room again: served
    assert _metric(gw.url, "leash_gateway_connections_refused_total") == 7
    assert _metric(gw.url, "leash_gateway_connections") >= 6  # the five held and the scrape itself
    assert _metric(gw.url, "leash_gateway_connections_limit") == 10
    for s in held[5:]:
        s.close()


@pytest.mark.slow
def test_upstream_cap_of_two_with_five_concurrent_slow_requests(start_gateway, upstream):
    with CountingUpstream(delay=0.5) as up:
        providers = provider_block(upstream)
        providers["counted"] = {"kind": "openai", "endpoint": up.url}
        gw = start_gateway({"gateway": {"max_upstream_connections_per_origin": 2}, "providers": providers})
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: _chat(gw.base("counted")), range(5)))
        assert answers == ["ok"] * 5
        assert up.peak == 2 and up.total == 2  # never more than two at once; the waiters reused them
        text = httpx.get(f"{gw.url}/metrics").text
        origin = up.url.removesuffix("/v1")
        assert f'leash_upstream_connections{{origin="{origin}",state="idle"}} 2.0' in text


@pytest.mark.slow
def test_upstream_pool_wait_is_bounded_by_the_request_timeouts(start_gateway, upstream):
    with CountingUpstream(delay=3.0) as up:
        providers = provider_block(upstream)
        providers["slow"] = {"kind": "openai", "endpoint": up.url}  # the same origin, no total timeout
        providers["hurried"] = {"kind": "openai", "endpoint": up.url, "timeouts": {"total": "1s"}}
        gw = start_gateway({"gateway": {"max_upstream_connections_per_origin": 1}, "providers": providers})
        with ThreadPoolExecutor(1) as pool:
            holder = pool.submit(_chat, gw.base("slow"))
            deadline = time.monotonic() + 8
            while up.open < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            t0 = time.monotonic()
            with pytest.raises(openai.APIStatusError) as e:
                _chat(gw.base("hurried"))
            waited = time.monotonic() - t0
            assert holder.result() == "ok"  # the one holding the connection is unharmed
        assert e.value.status_code == 504 and "max_upstream_connections_per_origin" in str(e.value.body)
        assert 0.8 < waited < 2.9  # gave up at its own timeouts.total, before the slot came free
        assert up.peak == 1


@pytest.mark.slow
def test_idle_upstream_connections_expire(start_gateway, upstream):
    with CountingUpstream(delay=0.0) as up:
        providers = provider_block(upstream)
        providers["counted"] = {"kind": "openai", "endpoint": up.url}
        gw = start_gateway({"gateway": {"upstream_idle_expiry": 1}, "providers": providers})
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda _: _chat(gw.base("counted")), range(3)))
        assert up.open >= 1
        deadline = time.monotonic() + 8
        while up.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.open == 0  # closed by the gateway's sweeper, seen by the upstream
        assert _chat(gw.base("counted")) == "ok"  # and a new one opened when needed


def test_admin_port_serves_health_and_metrics_apart(start_gateway):
    gw = start_gateway({"gateway": {"admin_port": 0}})
    admin = gw.thread.admin_url
    assert admin is not None and admin.startswith("http://127.0.0.1:") and admin != gw.url
    for path in ("/health", "/metrics"):
        assert httpx.get(f"{gw.url}{path}").status_code == 404
        assert httpx.get(f"{admin}{path}").status_code == 200
    assert "leash_gateway_connections" in httpx.get(f"{admin}/metrics").text
    assert httpx.get(f"{gw.url}/ready").status_code == 200 and httpx.get(f"{admin}/ready").status_code == 200
    assert httpx.post(f"{admin}/v1/mock/chat/completions", json={}).status_code == 404  # no traffic there
    assert _chat(gw.base("mock")) != ""
