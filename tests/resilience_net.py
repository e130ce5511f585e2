"""Test servers for the resilience tests: a real CONNECT proxy, misbehaving upstreams,
and a private CA (trustme).  All on 127.0.0.1:0, each in the caller's event loop or in
a thread of its own (for tests that drive the gateway through an SDK)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "RawServer"], Awaitable[None]]


def rss_bytes() -> int:
    """Resident set size of this process now (/proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return rss_bytes()  # pragma: no cover


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    text = head.decode("latin-1")
    length = 0
    for line in text.split("\r\n")[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return text, body


class RawServer:
    """asyncio stream server; ``handler(reader, writer, server)`` per connection; records
    every request (head text, body)."""

    def __init__(self, handler: Handler, ssl_context=None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[tuple[str, bytes]] = []
        self.sent = 0  # bytes a streaming handler managed to write

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def request(self, reader) -> tuple[str, bytes] | None:
        req = await read_request(reader)
        if req is not None:
            self.requests.append(req)
        return req

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, OSError):
            pass
        finally:
            writer.close()


# -- misbehaving upstream handlers ----------------------------------------------------------
def json_response(body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


async def ok_handler(reader, writer, srv: RawServer) -> None:
    while True:
        req = await srv.request(reader)
        if req is None:
            return
        writer.write(json_response(b'{"ok": true, "n": %d}' % len(srv.requests)))
        await writer.drain()


async def drop_after_request(reader, writer, srv: RawServer) -> None:
    """Read the whole request, then drop the connection without a word."""
    await srv.request(reader)
    writer.transport.abort()


def _zero_unit() -> bytes:
    """Raw deflate of 1 MiB of zeros, ended by a full flush: the same bytes every time, so a
    bomb is a repetition of it (computed once, ~1 KiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    c.compress(block)
    c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert unit == c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    return unit


_UNIT = _zero_unit()


def gzip_bomb(total_mib: int = 5 * 1024, content_type: str = "application/json"):
    """A handler answering with ``total_mib`` MiB of zeros (5 GiB by default) as one valid
    gzip stream, generated on the fly 1 MiB at a time (never held in memory), chunked;
    stops when the client goes away.  ``srv.sent`` counts the MiB sent (inflated size)."""

    async def handler(reader, writer, srv: RawServer) -> None:
        await srv.request(reader)
        writer.write(f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: gzip\r\n"
                     "transfer-encoding: chunked\r\n\r\n".encode())
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
        writer.write(b"%x\r\n%s\r\n" % (len(header), header))
        frame = b"%x\r\n%s\r\n" % (len(_UNIT) * 16, _UNIT * 16)  # 16 MiB inflated per frame
        n = 0
        while n + 16 <= total_mib:
            writer.write(frame)
            n += 16
            srv.sent = n << 20
            await writer.drain()
        crc, zeros = 0, bytes(1 << 20)
        for _ in range(n):  # the trailer's CRC-32, computed only if a client read it all
            crc = zlib.crc32(zeros, crc)
        tail = b"\x03\x00" + struct.pack("<II", crc, (n << 20) & 0xFFFFFFFF)
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        await writer.drain()

    return handler


def endless_line(piece: int = 64 * 1024):
    """An event stream whose first line never ends."""

    async def handler(reader, writer, srv: RawServer) -> None:
        await srv.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        first = b"data: {\"choices\": [{\"delta\": {\"content\": \""
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        chunk = b"x" * piece
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while True:
            writer.write(frame)
            srv.sent += piece
            await writer.drain()

    return handler


def gzip_body(data: bytes) -> bytes:
    return gzip.compress(data)


# -- a real forward proxy -----------------------------------------------------------------
class ConnectProxy:
    """A small HTTP forward proxy: CONNECT tunnels (https origins) and absolute-form requests
    (http origins, passed through byte for byte).  Records what it was asked; with ``auth``
    ("user:pass") it answers 407 to requests without the right Proxy-Authorization."""

    def __init__(self, auth: str | None = None, refuse: bool = False, hang: bool = False) -> None:
        self.auth = ("Basic " + base64.b64encode(auth.encode()).decode()) if auth else None
        self.refuse = refuse
        self.hang = hang
        self.connects: list[str] = []
        self.forwards: list[str] = []  # request lines of absolute-form requests

    async def __aenter__(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    def _authorised(self, head: str) -> bool:
        if self.auth is None:
            return True
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "proxy-authorization" and v.strip() == self.auth:
                return True
        return False

    async def _handle(self, reader, writer) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if self.hang:
                await asyncio.sleep(3600)
            method, target, _ = head.split("\r\n", 1)[0].split(" ", 2)
            if not self._authorised(head):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                self.connects.append(target)
                if self.refuse:
                    writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    return
                host, _, port = target.rpartition(":")
                up_r, up_w = await asyncio.open_connection(host.strip("[]"), int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, up_r, up_w)
                return
            # absolute-form: http://host:port/path
            self.forwards.append(head.split("\r\n", 1)[0])
            rest = target.split("://", 1)[1]
            hostport = rest.split("/", 1)[0]
            host, _, port = hostport.rpartition(":")
            up_r, up_w = await asyncio.open_connection(host or hostport, int(port or 80))
            up_w.write(head.encode("latin-1"))
            await _pipe_both(reader, writer, up_r, up_w)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _pipe_both(r1, w1, r2, w2) -> None:
    async def pipe(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                w.close()
            except Exception:
                pass

    await asyncio.gather(pipe(r1, w2), pipe(r2, w1))


# -- running asyncio servers in a thread (for gateway tests driven by SDKs) ------------------
class InThread:
    """Runs an async context manager (a server) in an event loop of its own thread."""

    def __init__(self, make) -> None:
        self.make = make
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.obj = asyncio.run_coroutine_threadsafe(self._enter(), self.loop).result(10)
        return self.obj

    async def _enter(self):
        obj = self.make()
        return await obj.__aenter__()

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._exit(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _exit(self) -> None:
        await self.obj.__aexit__(None, None, None)
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)


# -- a private CA ---------------------------------------------------------------------------
class PrivateCA:
    """trustme CA with a server certificate for 127.0.0.1 / localhost and a client certificate."""

    def __init__(self, tmp: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.client_cert = self.ca.issue_cert("leash-client@example.test")
        self.ca_file = tmp / "private-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.client_file = tmp / "client.pem"  # key and chain in one file
        self.client_cert.private_key_and_cert_chain_pem.write_to_path(str(self.client_file))
        self.client_key = tmp / "client.key"
        self.client_cert.private_key_pem.write_to_path(str(self.client_key))
        self.client_chain = tmp / "client.crt"
        with open(self.client_chain, "wb") as f:
            f.writelines(blob.bytes() for blob in self.client_cert.cert_chain_pems)

    def server_context(self, require_client_cert: bool = False):
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(ctx)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(ctx)
        return ctx
