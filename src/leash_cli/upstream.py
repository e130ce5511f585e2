"""A lean HTTP/1.1 client for the gateway's hot path: asyncio Protocols + httptools.

The gateway forwards every request to a provider; this is the piece that does it.
It is built for low CPU per request, not for generality:

* one keep-alive pool per origin (scheme, host, port), LIFO reuse;
* the request head is built as one ``bytes`` object and sent with one ``write``;
* responses are parsed by ``httptools.HttpResponseParser`` (llhttp, in C);
* a connection goes back to the pool as soon as its response is complete (the body
  is already buffered in the response object), so forgetting ``release()`` leaks
  nothing;
* the read timeout is one ``loop.call_at`` timer per request that re-arms itself
  from the last-activity timestamp (``data_received`` only stores ``loop.time()``);
* streams are flow-controlled: above ~1 MiB buffered and not consumed, the
  transport stops reading until the consumer catches up.

It never follows redirects, keeps no cookies and ignores proxy settings from the
environment.  Errors are :class:`UpstreamError` subclasses::

    UpstreamConnectError  DNS / refused / TLS handshake failure   -> 502
    UpstreamTimeout       connect timeout, or read idle too long  -> 504
    UpstreamReset         connection lost before the response completed -> 502
      UpstreamProtocolError  malformed HTTP or undecodable body (a kind of reset)
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools

OriginKey = tuple[str, str, int]  # (scheme, host, port): one connection pool each

__all__ = [
    "UpstreamClient",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamReset",
    "UpstreamResponse",
    "UpstreamTimeout",
]


class UpstreamError(Exception):
    """Base class of every error this client raises about the upstream."""


class UpstreamConnectError(UpstreamError):
    """DNS failure, connection refused, TLS handshake / certificate failure."""


class UpstreamTimeout(UpstreamError):
    """Connect timeout, or no bytes from the upstream for ``read_timeout`` seconds."""


class UpstreamReset(UpstreamError):
    """The connection was lost before the response was complete."""


class UpstreamProtocolError(UpstreamReset):
    """The upstream sent something that is not valid HTTP/1.1, or an undecodable body."""


_HIGH_WATER = 1 << 20  # pause reading above this many buffered, unconsumed body bytes
_URL_CACHE_MAX = 4096
_NAME_CACHE_MAX = 4096
_INLINE_BODY_MAX = 256 * 1024  # below this, head + body go out as one write
# headers the client owns; silently dropped when a caller passes them
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET_BAD = re.compile(r"[\x00-\x20\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_FRESH, _DONE = 0, 1  # response states: body still coming / complete (or failed)


class _Origin:
    """A parsed, validated absolute URL (cached)."""

    __slots__ = ("key", "tls", "host", "port", "tail")

    def __init__(self, key: OriginKey, tls: bool, host: str, port: int, tail: str) -> None:
        self.key = key
        self.tls = tls
        self.host = host
        self.port = port
        self.tail = tail  # " <target> HTTP/1.1\r\nHost: <host>\r\n"


def _parse_url(url: str) -> _Origin:
    from urllib.parse import urlsplit

    if _TARGET_BAD.search(url):
        raise ValueError(f"invalid character in URL: {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"invalid URL {url!r}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not supported")
    host = parts.hostname
    tls = scheme == "https"
    default = 443 if tls else 80
    if port is None:
        port = default
    hh = f"[{host}]" if ":" in host else host
    if port != default:
        hh = f"{hh}:{port}"
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return _Origin((scheme, host, port), tls, host, port, f" {target} HTTP/1.1\r\nHost: {hh}\r\n")


def _default_ssl_context() -> ssl.SSLContext:
    try:
        import certifi

        ctx = ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi is normally there
        ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class _Decoder:
    """Incremental gzip / deflate (zlib-wrapped or raw) decoding."""

    __slots__ = ("obj", "kind", "pending")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pending = b""
        self.obj: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if kind == "gzip" else None

    def feed(self, data: bytes) -> bytes:
        obj = self.obj
        if obj is None:  # deflate: sniff the zlib header on the first two bytes
            data = self.pending + data
            if len(data) < 2:
                self.pending = data
                return b""
            self.pending = b""
            wrapped = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            obj = self.obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return obj.decompress(data)

    def flush(self) -> bytes:
        if self.obj is None:
            if self.pending:
                raise zlib.error("truncated deflate stream")
            return b""
        return self.obj.flush()


class UpstreamResponse:
    """The status and headers of an upstream response; the body arrives behind them."""

    __slots__ = (
        "status", "headers", "_conn", "_parts", "_size", "_state", "_exc", "_waiter", "_decoder",
        "_head_fut", "_raw", "_head", "_until_close", "_timer", "_timeout", "_interim",
    )

    def __init__(self, conn: _Conn, head: bool, timeout: float) -> None:
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self._conn: _Conn | None = conn
        self._parts: list[bytes] = []
        self._size = 0
        self._state = _FRESH
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: _Decoder | None = None
        self._head_fut: asyncio.Future[UpstreamResponse] | None = None
        self._raw: list[tuple[bytes, bytes]] = []
        self._head = head  # request method was HEAD
        self._until_close = False
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = timeout
        self._interim = False

    def __repr__(self) -> str:
        return f"<UpstreamResponse {self.status}>"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    async def read(self) -> bytes:
        """The whole body, decoded.  Raises UpstreamTimeout / UpstreamReset."""
        parts = self._parts
        while self._state != _DONE:
            if self._exc is not None:
                raise self._exc
            await self._wait()
        if self._exc is not None:
            raise self._exc
        self._parts = []
        self._size = 0
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        while True:
            parts = self._parts
            if parts:
                self._parts = []
                self._size = 0
                conn = self._conn
                if conn is not None and conn.paused:
                    conn.resume()
                return parts[0] if len(parts) == 1 else b"".join(parts)
            if self._exc is not None:
                raise self._exc
            if self._state == _DONE:
                raise StopAsyncIteration
            await self._wait()

    async def _wait(self) -> None:
        conn = self._conn
        if conn is None:  # pragma: no cover - cannot happen with a live body
            raise UpstreamReset("response closed")
        if conn.paused:
            conn.resume()
        self._size = 0  # whatever is buffered is being consumed (read() keeps it in a list)
        fut = self._waiter = conn.loop.create_future()
        try:
            await fut
        finally:
            self._waiter = None

    def release(self) -> None:
        """Done with this response.  If its body was complete on a keep-alive connection,
        the connection is already back in the pool; otherwise the connection is closed."""
        if self._state != _DONE or self._exc is not None:
            self.close()

    def close(self) -> None:
        """Abort now: drop the connection so the upstream sees it go (client left mid-stream)."""
        if self._state == _DONE and self._exc is None:
            return
        conn = self._conn
        if self._exc is None:
            self._exc = UpstreamReset("response closed by the caller")
        self._state = _DONE
        self._parts = []
        self._size = 0
        _Conn._disarm(self)
        if conn is not None and conn.resp is self:
            conn.abort()


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection; carries one request at a time."""

    __slots__ = (
        "client", "key", "loop", "transport", "parser", "resp", "last", "got_bytes", "paused",
        "closed", "idle", "broken", "eof", "keep",
    )

    def __init__(self, client: UpstreamClient, key: OriginKey, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.key = key
        self.loop = loop
        self.transport: asyncio.Transport  # set by connection_made, before create_connection returns the connection
        self.parser = httptools.HttpResponseParser(self)
        self.resp: UpstreamResponse | None = None
        self.last = 0.0
        self.got_bytes = False
        self.paused = False
        self.closed = False
        self.idle = False
        self.broken = False
        self.eof = False
        self.keep = False

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection's transport

    def data_received(self, data: bytes) -> None:
        r = self.resp
        if r is None or r._state == _DONE:  # unsolicited bytes: the connection is unusable
            self.abort()
            return
        self.last = self.loop.time()
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            if r._state == _DONE and r._exc is None:  # ours is complete; junk after it
                self.broken = True
                self._finished(r)
            else:
                ctx = e.__context__
                if isinstance(ctx, _Decode):
                    self._fail(UpstreamProtocolError(f"cannot decode the response body: {ctx.args[0]}"))
                else:
                    self._fail(UpstreamProtocolError(f"invalid HTTP response from upstream: {e!r}"))
                self.abort()
            w = r._waiter
            if w is not None and not w.done():
                w.set_result(None)
            return
        if r._state == _DONE:
            self._finished(r)
        elif r._size > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        w = r._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def eof_received(self) -> bool | None:
        self.eof = True  # a read-until-close body ends here; connection_lost follows
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        client = self.client
        client._conns.discard(self)
        if self.idle:
            self.idle = False
            pool = client._pools.get(self.key)
            if pool is not None:
                try:
                    pool.remove(self)
                except ValueError:
                    pass
        r = self.resp
        if r is None or r._state == _DONE:
            return
        if r._until_close and r.status and exc is None:  # read-until-close body: EOF ends it
            try:
                if r._decoder is not None:
                    tail = r._decoder.flush()
                    if tail:
                        r._parts.append(tail)
                        r._size += len(tail)
            except zlib.error as e:
                self._fail(UpstreamProtocolError(f"cannot decode the response body: {e}"))
                return
            r._state = _DONE
            self._disarm(r)
            w = r._waiter
            if w is not None and not w.done():
                w.set_result(None)
            return
        what = "before the response headers" if not r.status else "in the middle of the response body"
        self._fail(UpstreamReset(f"upstream closed the connection {what}"
                                 + (f": {exc}" if exc is not None else "")))

    # -- httptools callbacks ----------------------------------------------------------
    def on_message_begin(self) -> None:
        r = self.resp
        if r is not None and r.status:  # a second response: not ours
            raise httptools.HttpParserError("unexpected data after the response")

    def on_header(self, name: bytes, value: bytes) -> None:
        r = self.resp
        assert r is not None  # the parser runs only while a response is awaited (data_received)
        r._raw.append((name, value))

    def on_headers_complete(self) -> None:
        r = self.resp
        assert r is not None
        status = self.parser.get_status_code()
        raw = r._raw
        r._raw = []
        if 100 <= status < 200:  # informational: ignore, the real answer follows
            r._interim = True
            return
        r._interim = False
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
        length = chunked = False
        encoding = None
        for k, v in headers:
            if k == "content-length":
                length = True
            elif k == "transfer-encoding":
                chunked = "chunked" in v.lower()
            elif k == "content-encoding":
                encoding = v.strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            r._decoder = _Decoder("deflate" if encoding == "deflate" else "gzip")
            headers = [(k, v) for k, v in headers if k != "content-encoding" and k != "content-length"]
        r.status = status
        r.headers = headers
        if r._head or status == 204 or status == 304:
            r._state = _DONE
            if r._head:
                self.broken = True  # the parser may wait for a body that never comes
        elif not length and not chunked:
            r._until_close = True
        f = r._head_fut
        if f is not None and not f.done():
            f.set_result(r)

    def on_body(self, body: bytes) -> None:
        r = self.resp
        assert r is not None
        if r._state == _DONE:  # body bytes after HEAD headers: dropped
            return
        d = r._decoder
        if d is not None:
            try:
                body = d.feed(body)
            except zlib.error as e:
                raise _Decode(str(e)) from None
            if not body:
                return
        r._parts.append(body)
        r._size += len(body)

    def on_message_complete(self) -> None:
        r = self.resp
        assert r is not None
        if r._interim:
            return
        self.keep = self.parser.should_keep_alive()  # only valid inside the callbacks
        if r._state == _DONE:  # HEAD / 204 / 304
            return
        d = r._decoder
        if d is not None:
            try:
                tail = d.flush()
            except zlib.error as e:
                raise _Decode(str(e)) from None
            if tail:
                r._parts.append(tail)
                r._size += len(tail)
        r._state = _DONE

    # -- internals ------------------------------------------------------------------------
    def _finished(self, r: UpstreamResponse) -> None:
        """The response is complete: disarm its timer and give the connection back."""
        self._disarm(r)
        r._conn = None
        self.resp = None
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.broken or r._until_close or self.closed or not self.keep:
            self.abort()
            return
        self.client._put(self)

    @staticmethod
    def _disarm(r: UpstreamResponse) -> None:
        t = r._timer
        if t is not None:
            r._timer = None
            t.cancel()

    def _fail(self, exc: BaseException) -> None:
        r = self.resp
        if r is None or r._state == _DONE:
            return
        r._exc = exc
        r._state = _DONE
        self._disarm(r)
        f = r._head_fut
        if f is not None and not f.done():
            f.set_exception(exc)
        w = r._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def on_timer(self, r: UpstreamResponse) -> None:
        if self.resp is not r or r._state == _DONE:
            return
        loop = self.loop
        now = loop.time()
        if self.paused:  # we stopped reading, not the upstream: not idle
            r._timer = loop.call_at(now + r._timeout, self.on_timer, r)
            return
        deadline = self.last + r._timeout
        if now < deadline - 1e-3:
            r._timer = loop.call_at(deadline, self.on_timer, r)
            return
        r._timer = None
        where = "response headers" if not r.status else "more of the response body"
        self._fail(UpstreamTimeout(f"no data from upstream for {r._timeout:g}s (waiting for {where})"))
        self.abort()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if not self.closed:
                self.transport.resume_reading()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()


class _Decode(Exception):
    """Internal: raised through the parser when the body cannot be decoded."""


class UpstreamClient:
    """HTTP/1.1 client with a keep-alive pool per origin.  See the module docstring."""

    __slots__ = ("_max_idle", "_ssl", "_pools", "_conns", "_urls", "_names", "_methods", "_closed")

    def __init__(self, *, max_idle_per_origin: int = 512, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle_per_origin
        self._ssl = ssl_context
        self._pools: dict[OriginKey, list[_Conn]] = {}
        self._conns: set[_Conn] = set()
        self._urls: dict[str, _Origin] = {}
        self._names: set[str] = set()  # header names already checked (valid tokens, not reserved)
        self._methods: set[str] = set()
        self._closed = False

    # -- public -------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]] | dict[str, str],
        body: bytes | None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
    ) -> UpstreamResponse:
        """Send a request; return once the status line and headers are in.

        Raises ValueError for a malformed URL, method or header (CR/LF injection),
        UpstreamConnectError, UpstreamTimeout or UpstreamReset.
        """
        if self._closed:
            raise RuntimeError("UpstreamClient is closed")
        origin = self._urls.get(url)
        if origin is None:
            origin = self._origin(url)
        if method not in self._methods:
            self._check_method(method)
        head = self._head(method, origin, headers, body)
        pool = self._pools.get(origin.key)
        while pool:
            conn = pool.pop()
            conn.idle = False
            if conn.closed or conn.transport.is_closing():
                conn.abort()
                continue
            try:
                return await self._send(conn, head, body, method, read_timeout)
            except UpstreamReset:
                if conn.got_bytes or self._closed:
                    raise
                break  # the server dropped the idle connection under us: once more, fresh
        conn = await self._connect(origin, connect_timeout)
        return await self._send(conn, head, body, method, read_timeout)

    async def close(self) -> None:
        """Close every connection, idle or busy."""
        self._closed = True
        conns = list(self._conns)
        self._pools.clear()
        for c in conns:
            c.idle = False
            c.abort()
        if conns:
            await asyncio.sleep(0)

    # -- internals ------------------------------------------------------------------------
    def _origin(self, url: str) -> _Origin:
        origin = _parse_url(url)
        if len(self._urls) >= _URL_CACHE_MAX:
            self._urls.clear()
        self._urls[url] = origin
        return origin

    def _check_method(self, method: str) -> None:
        if not _TOKEN.fullmatch(method):
            raise ValueError(f"invalid HTTP method {method!r}")
        if len(self._methods) < 64:
            self._methods.add(method)

    def _head(self, method: str, origin: _Origin, headers: Any, body: bytes | None) -> bytes:
        names = self._names
        if type(headers) is dict:
            known = names.issuperset(headers)
            items: Any = headers.items()
        else:
            items = headers
            known = names.issuperset([h[0] for h in headers])
        if known:  # every name already validated: one join, then count CR / LF
            block = "".join([f"{k}: {v}\r\n" for k, v in items])
            n = len(headers)
        else:
            block, n = self._slow_block(items)
        # every header line has exactly one CR and one LF: any more means injection
        if block.count("\n") != n or block.count("\r") != n or "\0" in block:
            raise ValueError("CR, LF or NUL in a header value")
        if body is not None:
            end = f"Content-Length: {len(body)}\r\n\r\n"
        elif method in _BODY_METHODS:
            end = "Content-Length: 0\r\n\r\n"
        else:
            end = "\r\n"
        try:
            return f"{method}{origin.tail}{block}{end}".encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("header values must be latin-1 encodable") from None

    def _slow_block(self, items: Any) -> tuple[str, int]:
        """Validate names one by one (first sight of a name); drop the ones we own."""
        names = self._names
        lines = []
        for k, v in items:
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("header names and values must be str")
            if k not in names:
                if not _TOKEN.fullmatch(k):
                    raise ValueError(f"invalid header name {k!r}")
                if k.lower() in _RESERVED:
                    continue
                if len(names) < _NAME_CACHE_MAX:
                    names.add(k)
            lines.append(f"{k}: {v}\r\n")
        return "".join(lines), len(lines)

    async def _connect(self, origin: _Origin, timeout: float) -> _Conn:
        loop = asyncio.get_running_loop()
        ctx = None
        if origin.tls:
            ctx = self._ssl
            if ctx is None:
                ctx = self._ssl = _default_ssl_context()
        key = origin.key
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Conn(self, key, loop), origin.host, origin.port,
                    ssl=ctx, server_hostname=origin.host if ctx is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"connecting to {origin.host}:{origin.port} timed out after {timeout:g}s") from None
        except (OSError, ssl.SSLError) as e:  # includes DNS (gaierror) and certificate errors
            raise UpstreamConnectError(f"cannot connect to {origin.host}:{origin.port}: {e}") from None
        if self._closed:
            conn.abort()
            raise UpstreamConnectError("client closed")
        self._conns.add(conn)
        return conn

    async def _send(self, conn: _Conn, head: bytes, body: bytes | None, method: str, timeout: float) -> UpstreamResponse:
        loop = conn.loop
        r = UpstreamResponse(conn, method == "HEAD", timeout)
        fut = r._head_fut = loop.create_future()
        conn.resp = r
        conn.got_bytes = False
        conn.keep = False
        now = conn.last = loop.time()
        r._timer = loop.call_at(now + timeout, conn.on_timer, r)
        t = conn.transport
        if body and len(body) > _INLINE_BODY_MAX:
            t.write(head)
            t.write(body)
        elif body:
            t.write(head + body)
        else:
            t.write(head)
        try:
            await fut
        except BaseException:
            r._head_fut = None
            if conn.resp is r:  # cancelled while waiting: the connection is in an unknown state
                conn._disarm(r)
                r._state = _DONE
                conn.abort()
            raise
        r._head_fut = None
        return r

    def _put(self, conn: _Conn) -> None:
        if self._closed:
            conn.abort()
            return
        pool = self._pools.get(conn.key)
        if pool is None:
            pool = self._pools[conn.key] = []
        if len(pool) >= self._max_idle:
            conn.abort()
            return
        conn.idle = True
        pool.append(conn)
