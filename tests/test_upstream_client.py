"""Tests for leash_cli.upstream: the gateway's HTTP/1.1 client.

Real servers on 127.0.0.1:0 -- aiohttp.web for well-behaved cases, tiny asyncio
stream servers for the misbehaving ones.  No pytest-asyncio: each test runs its own
``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hashlib
import ipaddress
import os
import socket
import ssl
import time
import zlib

import pytest
from aiohttp import web

from leash_cli.upstream import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamReset,
    UpstreamTimeout,
)


def run(coro, timeout: float = 20.0):
    """Run a test coroutine; LEASH_TEST_UVLOOP=1 runs it on uvloop (the gateway's loop)."""

    async def main():
        return await asyncio.wait_for(coro, timeout)

    if os.environ.get("LEASH_TEST_UVLOOP") == "1":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


# -- servers -------------------------------------------------------------------------------
class Raw:
    """asyncio stream server; ``handler(reader, writer, server)`` per connection."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[str, bytes]] = []
        self.events: dict[str, asyncio.Event] = {}

    def event(self, name: str) -> asyncio.Event:
        return self.events.setdefault(name, asyncio.Event())

    async def __aenter__(self) -> Raw:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled: the test's loop is shutting down
        finally:
            writer.close()

    async def read_request(self, reader) -> tuple[str, bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        text = head.decode("latin-1")
        length = 0
        for line in text.split("\r\n")[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append((text, body))
        return text, body


def http_response(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


async def keepalive_handler(reader, writer, srv: Raw) -> None:
    while True:
        req = await srv.read_request(reader)
        if req is None:
            return
        writer.write(http_response(b'{"n": %d}' % len(srv.requests)))
        await writer.drain()


class Web:
    """aiohttp.web app on 127.0.0.1:0."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context

    async def __aenter__(self) -> Web:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = self.runner.addresses[0][1]
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


def echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "host_count": len(request.headers.getall("host", [])),
                "body_len": len(body),
                "body_sha": hashlib.sha256(body).hexdigest(),
                "body": body[:200].decode("latin-1"),
            }
        )

    async def nocontent(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def encoded(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        data = b'{"hello": "world"}' * 200
        if kind == "gzip":
            body = gzip.compress(data)
        elif kind == "deflate":
            body = zlib.compress(data)
        elif kind == "rawdeflate":
            c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = c.compress(data) + c.flush()
            kind = "deflate"
        else:
            body = data
        return web.Response(body=body, headers={"content-encoding": kind, "content-type": "application/json"})

    async def big(request: web.Request) -> web.StreamResponse:
        n = int(request.query.get("n", 5 << 20))
        resp = web.StreamResponse()
        if request.query.get("chunked"):
            resp.enable_chunked_encoding()
        else:
            resp.content_length = n
        await resp.prepare(request)
        block = bytes(range(256)) * 256  # 64 KiB
        sent = 0
        while sent < n:
            piece = block[: n - sent]
            await resp.write(piece)
            sent += len(piece)
        await resp.write_eof()
        return resp

    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/204", nocontent)
    app.router.add_get("/enc/{kind}", encoded)
    app.router.add_get("/big", big)
    return app


def big_expected(n: int) -> bytes:
    block = bytes(range(256)) * 256
    return (block * (n // len(block) + 1))[:n]


# -- well-behaved --------------------------------------------------------------------------
def test_plain_json_post_and_headers():
    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            body = b'{"model": "gpt-4o-mini", "messages": []}'
            r = await c.request(
                "POST",
                srv.url + "/echo/v1/chat?x=1&y=2",
                {"content-type": "application/json", "authorization": "Bearer sk-1"},
                body,
            )
            assert r.status == 200
            assert r.header("Content-Type").startswith("application/json")
            assert all(k == k.lower() for k, _ in r.headers)
            import json

            data = json.loads(await r.read())
            r.release()
            assert data["method"] == "POST"
            assert data["path"] == "/echo/v1/chat?x=1&y=2"
            assert data["headers"]["host"] == f"127.0.0.1:{srv.port}"
            assert data["headers"]["content-length"] == str(len(body))
            assert data["headers"]["authorization"] == "Bearer sk-1"
            assert data["body"] == body.decode()
            # list headers, GET without a body; reserved names from the caller are dropped
            r = await c.request(
                "GET", srv.url + "/echo", [("x-a", "1"), ("Host", "evil"), ("content-length", "9")], None
            )
            data = json.loads(await r.read())
            assert data["method"] == "GET" and data["headers"]["x-a"] == "1"
            assert data["headers"]["host"] == f"127.0.0.1:{srv.port}" and data["host_count"] == 1
            assert "content-length" not in data["headers"]
            # POST without a body still says Content-Length: 0
            r = await c.request("POST", srv.url + "/echo", {}, None)
            assert json.loads(await r.read())["headers"]["content-length"] == "0"
            await c.close()

    run(main())


def test_default_port_host_header():
    from leash_cli.upstream import _parse_url

    assert _parse_url("http://example.com/a").tail == " /a HTTP/1.1\r\nHost: example.com\r\n"
    assert _parse_url("https://example.com:443").tail == " / HTTP/1.1\r\nHost: example.com\r\n"
    assert _parse_url("https://example.com:8443/x?q=1").tail == " /x?q=1 HTTP/1.1\r\nHost: example.com:8443\r\n"
    assert _parse_url("http://[::1]:81/").tail.endswith("Host: [::1]:81\r\n")
    assert _parse_url("HTTPS://Example.COM/").key == ("https", "example.com", 443, "")  # "": direct, default TLS
    for bad in ("ftp://x/", "/relative", "http:///nohost", "http://u:p@host/", "http://h/a b", "http://h/\r\nX: y"):
        with pytest.raises(ValueError):
            _parse_url(bad)


def test_keepalive_reuse_lifo_and_concurrency():
    async def main():
        async with Raw(keepalive_handler) as srv:
            c = UpstreamClient()
            for _ in range(5):
                r = await c.request("POST", srv.url + "/v1", {"content-type": "application/json"}, b"{}")
                assert r.status == 200
                await r.read()
                r.release()
            assert srv.connections == 1

            async def one():
                r = await c.request("GET", srv.url + "/", {}, None)
                body = await r.read()
                r.release()
                return body

            results = await asyncio.gather(*[one() for _ in range(8)])
            assert all(b.startswith(b'{"n"') for b in results)
            assert 1 < srv.connections <= 8
            conns = srv.connections
            for _ in range(20):  # all idle now; sequential requests reuse the pool
                await one()
            assert srv.connections == conns
            await c.close()

    run(main())


def test_max_idle_per_origin():
    async def main():
        async with Raw(keepalive_handler) as srv:
            c = UpstreamClient(max_idle_per_origin=2)

            async def one():
                r = await c.request("GET", srv.url + "/", {}, None)
                await r.read()

            await asyncio.gather(*[one() for _ in range(6)])
            pool = next(iter(c._pools.values()))
            assert len(pool) == 2
            await c.close()

    run(main())


def test_server_connection_close_not_reused():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(http_response(b"{}", extra="connection: close\r\n"))
        await writer.drain()
        await asyncio.sleep(0.5)  # keep the socket open: the header alone must stop reuse

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            for _ in range(2):
                r = await c.request("GET", srv.url, {}, None)
                assert await r.read() == b"{}"
            assert srv.connections == 2
            await c.close()

    run(main())


def test_chunked_sse_arrives_piece_by_piece():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for i in range(3):
            ev = b'data: {"i": %d}\n\n' % i
            writer.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            await writer.drain()
            await asyncio.wait_for(srv.event(f"got{i}").wait(), 5)
        srv.event("last_sent")  # create
        ev = b"data: [DONE]\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(ev), ev))
        srv.events["last_sent"].set()
        await writer.drain()
        await keepalive_handler(reader, writer, srv)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url + "/v1/chat/completions", {}, b'{"stream": true}')
            assert r.header("content-type") == "text/event-stream"
            pieces = []
            async for piece in r:
                if not pieces:
                    assert not srv.event("last_sent").is_set()
                pieces.append(piece)
                if len(pieces) <= 3:
                    srv.event(f"got{len(pieces) - 1}").set()
            assert len(pieces) == 4
            assert b"".join(pieces).endswith(b"data: [DONE]\n\n")
            r.release()
            # the connection went back to the pool
            r = await c.request("GET", srv.url, {}, None)
            await r.read()
            assert srv.connections == 1
            await c.close()

    run(main())


@pytest.mark.parametrize("kind", ["gzip", "deflate", "rawdeflate"])
def test_compressed_bodies_are_decoded(kind):
    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            r = await c.request("GET", f"{srv.url}/enc/{kind}", {"accept-encoding": "gzip, deflate"}, None)
            assert await r.read() == b'{"hello": "world"}' * 200
            assert r.header("content-encoding") is None  # decoded: the header no longer applies
            assert r.header("content-length") is None
            await c.close()

    run(main())


def test_unknown_encoding_passed_through():
    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            r = await c.request("GET", f"{srv.url}/enc/br", {}, None)
            assert await r.read() == b'{"hello": "world"}' * 200
            assert r.header("content-encoding") == "br"
            await c.close()

    run(main())


def test_gzip_stream_decoded_incrementally():
    data = b"".join(b'data: {"i": %d}\n\n' % i for i in range(200))
    comp = gzip.compress(data)
    cut = len(comp) // 2

    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (comp[:cut], comp[cut:]):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            pieces = [p async for p in r]
            assert len(pieces) >= 2
            assert b"".join(pieces) == data
            await c.close()

    run(main())


def test_bad_gzip_is_protocol_error():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(http_response(b"this is not gzip at all", extra="content-encoding: gzip\r\n"))
        await writer.drain()

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            with pytest.raises(UpstreamReset) as ei:
                r = await c.request("GET", srv.url, {}, None)
                await r.read()
            assert isinstance(ei.value, UpstreamProtocolError)
            await c.close()

    run(main())


def test_read_until_close():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"second")
        await writer.drain()
        writer.close()

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            assert await r.read() == b"first second"
            r.release()
            r = await c.request("GET", srv.url, {}, None)  # the closed connection is not reused
            assert [p async for p in r] and True
            assert srv.connections == 2
            await c.close()

    run(main())


def test_informational_1xx_ignored():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(http_response(b"done"))
        await writer.drain()
        await keepalive_handler(reader, writer, srv)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"x")
            assert r.status == 200 and r.header("link") is None
            assert await r.read() == b"done"
            r = await c.request("POST", srv.url, {}, b"x")
            assert r.status == 200
            assert srv.connections == 1
            await c.close()

    run(main())


def test_204_and_head():
    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url + "/204", {}, None)
            assert r.status == 204 and await r.read() == b""
            r.release()
            r = await c.request("GET", srv.url + "/204", {}, None)
            assert r.status == 204
            assert sum(len(p) for p in c._pools.values()) == 1  # 204 keeps the connection
            r = await c.request("HEAD", srv.url + "/big?n=1000", {}, None)
            assert r.status == 200 and r.header("content-length") == "1000"
            assert await r.read() == b""
            assert [p async for p in r] == []
            r.release()
            r = await c.request("GET", srv.url + "/big?n=1000", {}, None)
            assert await r.read() == big_expected(1000)
            await c.close()

    run(main())


def test_large_body_read_and_upload():
    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            for q in ("", "&chunked=1"):
                r = await c.request("GET", f"{srv.url}/big?n={5 << 20}{q}", {}, None)
                body = await r.read()
                assert len(body) == 5 << 20 and body == big_expected(5 << 20)
            up = big_expected(5 << 20)
            r = await c.request("PUT", srv.url + "/echo", {"content-type": "application/octet-stream"}, up)
            import json

            data = json.loads(await r.read())
            assert data["body_len"] == len(up) and data["body_sha"] == hashlib.sha256(up).hexdigest()
            await c.close()

    run(main(), 60)


def test_flow_control_pauses_a_slow_consumer():
    n = 5 << 20

    async def main():
        async with Web(echo_app()) as srv:
            c = UpstreamClient()
            r = await c.request("GET", f"{srv.url}/big?n={n}", {}, None)
            conn = r._conn
            got = bytearray()
            max_buffered = 0
            paused_seen = False
            async for piece in r:
                got += piece
                max_buffered = max(max_buffered, len(piece))
                await asyncio.sleep(0.02)  # slow consumer: the upstream can fill a lot meanwhile
                paused_seen = paused_seen or conn.paused
            assert bytes(got) == big_expected(n)
            assert paused_seen
            # paused a little above 1 MiB: one socket read on top of the high-water mark at most
            assert max_buffered < (1 << 20) + (1 << 19)
            await c.close()

    run(main(), 60)


# -- misbehaving upstreams ----------------------------------------------------------------
def test_idle_connection_closed_by_server_is_dropped():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(http_response(b"one"))
        await writer.drain()
        # the server's idle timeout: it closes the connection cleanly

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            assert await r.read() == b"one"
            deadline = time.monotonic() + 5  # connection_lost removes it from the pool
            while sum(len(p) for p in c._pools.values()) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert sum(len(p) for p in c._pools.values()) == 0
            r = await c.request("GET", srv.url, {}, None)
            assert await r.read() == b"one"
            assert srv.connections == 2
            await c.close()

    run(main())


def _drop_after_reading_second(reader_writer_hook=None):
    """First connection: answer one request, then read the next one in full and drop the
    connection without a word (the race of an idle timeout, or a crash mid-request)."""

    async def handler(reader, writer, srv):
        first = srv.connections == 1
        await srv.read_request(reader)
        writer.write(http_response(b"ok%d" % srv.connections))
        await writer.drain()
        if first:
            await srv.read_request(reader)
            writer.transport.abort()
            return
        await keepalive_handler(reader, writer, srv)

    return handler


def test_reset_after_request_written_is_never_resent():
    """RFC 9110 §9.2.2: a POST that may have reached the upstream is not sent again."""

    async def main():
        async with Raw(_drop_after_reading_second()) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"a")
            assert await r.read() == b"ok1"
            with pytest.raises(UpstreamReset) as e:
                await c.request("POST", srv.url, {}, b"b")
            assert e.value.sent is True
            assert "after the request was sent" in str(e.value) and "not resent" in str(e.value)
            await asyncio.sleep(0.05)
            assert srv.connections == 1
            assert [b for _, b in srv.requests] == [b"a", b"b"]  # exactly once
            await c.close()

    run(main())


@pytest.mark.parametrize("how", ["argument", "options"])
def test_reset_after_request_written_resent_when_opted_in(how):
    from leash_cli.upstream import UpstreamOptions

    kw = {"retry_reset": True} if how == "argument" else {"options": UpstreamOptions(retry_reset=True)}

    async def main():
        async with Raw(_drop_after_reading_second()) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"a", **kw)
            assert await r.read() == b"ok1"
            r = await c.request("POST", srv.url, {}, b"b", **kw)
            assert await r.read() == b"ok2"
            assert srv.connections == 2
            assert [b for _, b in srv.requests] == [b"a", b"b", b"b"]  # the caller asked for it
            await c.close()

    run(main())


def test_idempotent_get_resent_once_after_reset_without_reply():
    async def main():
        async with Raw(_drop_after_reading_second()) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            assert await r.read() == b"ok1"
            r = await c.request("GET", srv.url, {}, None)
            assert await r.read() == b"ok2"
            assert srv.connections == 2
            await c.close()

    run(main())


def test_pooled_connection_seen_closed_before_writing_is_replaced():
    """The server closed the idle connection; the client notices before writing and the
    request goes once, on a fresh connection."""

    async def handler(reader, writer, srv):
        first = srv.connections == 1
        await srv.read_request(reader)
        writer.write(http_response(b"ok%d" % srv.connections))
        await writer.drain()
        if not first:
            await keepalive_handler(reader, writer, srv)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"a")
            assert await r.read() == b"ok1"
            await asyncio.sleep(0.05)
            r = await c.request("POST", srv.url, {}, b"b")
            assert await r.read() == b"ok2"
            assert [b for _, b in srv.requests] == [b"a", b"b"]
            await c.close()

    run(main())


def test_idle_pooled_connection_probed_before_reuse(monkeypatch):
    """A connection whose FIN the loop has not handled yet is still caught: a pooled connection
    idle a while is polled before reuse, and a readable one (EOF) is dropped unwritten."""
    import leash_cli.upstream as up

    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(http_response(b"ok%d" % srv.connections))
        await writer.drain()
        if srv.connections > 1:
            await keepalive_handler(reader, writer, srv)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"a")
            assert await r.read() == b"ok1"
            (conn,) = c._pools[next(iter(c._pools))]
            conn.transport.pause_reading()  # the loop does not see the FIN
            await asyncio.sleep(0.1)
            assert not conn.closed and not conn.eof
            monkeypatch.setattr(up, "_IDLE_PROBE", 0.0)
            r = await c.request("POST", srv.url, {}, b"b")
            assert await r.read() == b"ok2"
            assert [b for _, b in srv.requests] == [b"a", b"b"]
            await c.close()

    run(main())


def test_no_retry_on_fresh_connection_or_after_bytes():
    async def drop(reader, writer, srv):
        await srv.read_request(reader)  # read the request, close without a word

    async def partial(reader, writer, srv):
        n = srv.connections
        await srv.read_request(reader)
        writer.write(http_response(b"ok"))
        await writer.drain()
        await srv.read_request(reader)
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-le")  # some bytes, then gone
            await writer.drain()

    async def main():
        async with Raw(drop) as srv:
            c = UpstreamClient()
            with pytest.raises(UpstreamReset):
                await c.request("POST", srv.url, {}, b"x")
            assert srv.connections == 1
            await c.close()
        async with Raw(partial) as srv:
            c = UpstreamClient()
            r = await c.request("POST", srv.url, {}, b"x")
            await r.read()
            with pytest.raises(UpstreamReset):
                await c.request("POST", srv.url, {}, b"y")
            assert srv.connections == 1
            await c.close()

    run(main())


def test_reset_mid_body():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()

    async def chunked(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        # a clean FIN without the terminating chunk is still a broken response

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            with pytest.raises(UpstreamReset):
                await r.read()
            r.release()
            assert not c._pools.get(("http", "127.0.0.1", srv.port))
            await c.close()
        async with Raw(chunked) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            got = []
            with pytest.raises(UpstreamReset):
                async for p in r:
                    got.append(p)
            assert got == [b"hello"]
            await c.close()

    run(main())


def test_garbage_response_is_protocol_error():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            with pytest.raises(UpstreamProtocolError):
                await c.request("GET", srv.url, {}, None)
            await c.close()

    run(main())


def test_connect_refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    async def main():
        c = UpstreamClient()
        with pytest.raises(UpstreamConnectError):
            await c.request("GET", f"http://127.0.0.1:{port}/", {}, None)
        with pytest.raises(UpstreamConnectError):
            await c.request("GET", "http://no-such-host.invalid/", {}, None, connect_timeout=5)
        await c.close()

    run(main())


def test_timeout_before_headers():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        await asyncio.sleep(5)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            t0 = time.monotonic()
            with pytest.raises(UpstreamTimeout):
                await c.request("GET", srv.url, {}, None, read_timeout=0.3)
            assert 0.25 < time.monotonic() - t0 < 2
            assert srv.connections == 1  # a timeout is never retried
            await c.close()

    run(main())


@pytest.mark.slow
def test_timeout_idle_mid_stream_and_steady_stream_survives():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        steady = srv.connections == 1
        for _ in range(8 if steady else 1):  # 8 x 0.1 s: longer than the 0.3 s read timeout in total
            writer.write(b"2\r\nok\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
        if steady:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            await keepalive_handler(reader, writer, srv)
        await asyncio.sleep(5)

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None, read_timeout=0.3)
            assert await r.read() == b"ok" * 8
            r = await c.request("GET", srv.url + "/2", {}, None, read_timeout=0.3)  # reuses the connection
            assert await r.read() == b'{"n": 2}'
            assert srv.connections == 1
            await c.close()
        async with Raw(handler) as srv:
            srv.connections = 1  # make the next connection the hanging kind
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None, read_timeout=0.3)
            got = []
            t0 = time.monotonic()
            with pytest.raises(UpstreamTimeout):
                async for p in r:
                    got.append(p)
            assert got == [b"ok"]
            assert 0.25 < time.monotonic() - t0 < 2
            await c.close()

    run(main())


def test_close_mid_stream_drops_the_connection():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        rest = await reader.read()  # b"" once the client goes away
        assert rest == b""
        srv.event("gone").set()

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            r = await c.request("GET", srv.url, {}, None)
            async for p in r:
                assert p == b"hello"
                r.close()
                break
            await asyncio.wait_for(srv.event("gone").wait(), 3)
            with pytest.raises(UpstreamReset):
                await r.read()
            await c.close()

    run(main())


def test_cancel_while_waiting_for_headers_closes_connection():
    async def handler(reader, writer, srv):
        await srv.read_request(reader)
        await reader.read()
        srv.event("gone").set()

    async def main():
        async with Raw(handler) as srv:
            c = UpstreamClient()
            task = asyncio.create_task(c.request("GET", srv.url, {}, None))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(srv.event("gone").wait(), 3)
            await c.close()

    run(main())


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "1\r\nX-Injected: yes"},
        {"x-a": "1\nX-Injected: yes"},
        {"x-a": "1\rX"},
        [("x-a", "ok"), ("x-b", "v\r\n\r\nGET /admin HTTP/1.1")],
        {"x-a\r\nX-Injected": "yes"},
        {"x-a: b\nc": "d"},
        {"bad name": "v"},
        {"x-a": "nul\0"},
    ],
)
def test_header_injection_rejected(headers):
    async def main():
        async with Raw(keepalive_handler) as srv:
            c = UpstreamClient()
            with pytest.raises(ValueError):
                await c.request("GET", srv.url, headers, None)
            # the same name with a clean value is fine afterwards (validated name cache)
            r = await c.request("GET", srv.url, {"x-a": "clean"}, None)
            await r.read()
            assert all("Injected" not in head and "/admin" not in head for head, _ in srv.requests)
            await c.close()

    run(main())


def test_bad_method_rejected():
    async def main():
        c = UpstreamClient()
        with pytest.raises(ValueError):
            await c.request("GET / HTTP/1.1\r\nX: y", "http://127.0.0.1:1/", {}, None)
        await c.close()

    run(main())


# -- TLS -----------------------------------------------------------------------------------
def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    return server_ctx, client_ctx


def test_https_with_trusted_self_signed_cert(tmp_path):
    server_ctx, client_ctx = _self_signed(tmp_path)

    async def main():
        async with Web(echo_app(), ssl_context=server_ctx) as srv:
            c = UpstreamClient(ssl_context=client_ctx)
            import json

            for host in ("127.0.0.1", "localhost"):
                for _ in range(2):
                    r = await c.request("POST", f"https://{host}:{srv.port}/echo", {"x-a": "1"}, b"hi")
                    data = json.loads(await r.read())
                    assert data["body"] == "hi" and data["headers"]["host"] == f"{host}:{srv.port}"
            r = await c.request("GET", f"https://127.0.0.1:{srv.port}/big?n={2 << 20}&chunked=1", {}, None)
            assert await r.read() == big_expected(2 << 20)
            assert len(c._pools) == 2  # one pool per origin, one connection each
            assert all(len(p) == 1 for p in c._pools.values())
            await c.close()

    run(main())


def test_https_untrusted_cert_fails(tmp_path):
    server_ctx, _ = _self_signed(tmp_path)

    async def main():
        async with Web(echo_app(), ssl_context=server_ctx) as srv:
            c = UpstreamClient()  # default context: system / certifi roots
            with pytest.raises(UpstreamConnectError) as ei:
                await c.request("GET", f"https://localhost:{srv.port}/echo", {}, None)
            assert isinstance(ei.value, UpstreamError)
            await c.close()

    run(main())
