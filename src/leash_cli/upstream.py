"""A lean HTTP/1.1 client for the gateway's hot path: asyncio Protocols + httptools.

The gateway forwards every request to a provider; this is the piece that does it.
It is built for low CPU per request, not for generality:

* one keep-alive pool per origin (scheme, host, port), LIFO reuse;
* optionally at most ``max_connections`` open per origin: past it a request waits (FIFO,
  bounded by its first-byte and total timeouts) for a connection given back or closed;
* pooled connections idle longer than ``pool_idle_timeout`` are closed by a sweep timer;
* the request head is built as one ``bytes`` object and sent with one ``write``;
* responses are parsed by ``httptools.HttpResponseParser`` (llhttp, in C);
* a connection goes back to the pool as soon as its response is complete (the body
  is already buffered in the response object), so forgetting ``release()`` leaks
  nothing;
* the read timeout is one ``loop.call_at`` timer per request that re-arms itself
  from the last-activity timestamp (``data_received`` only stores ``loop.time()``);
* streams are flow-controlled: above ~1 MiB buffered and not consumed, the
  transport stops reading until the consumer catches up.

It never follows redirects and keeps no cookies.  Everything that differs per provider
(TLS context, proxy, timeouts, size limits) comes in one :class:`UpstreamOptions`
object built once per provider at config load (``leash_cli.netconfig``); without one,
the client connects directly with the certifi roots, as before.

Resending (RFC 9110 §9.2.2): a request is sent again only when it provably never
reached the upstream -- a pooled connection found closed (EOF, reset, or readable
while idle) is dropped before anything is written to it, and a write that fails at
once writes nothing.  A connection lost after the request was written and before any
response byte raises :class:`UpstreamReset` with ``sent=True`` and is never resent,
unless the caller opts in (``retry_reset=True``, config ``retry.on: [reset]``).

Errors are :class:`UpstreamError` subclasses, each with a ``reason`` for the record::

    UpstreamConnectError       DNS / refused / TLS handshake / proxy failure      -> 502
      UpstreamProxyError         the proxy refused the CONNECT tunnel               -> 502
    UpstreamTimeout            a timeout                                         -> 504
      UpstreamConnectTimeout     ``connect``: TCP + proxy tunnel + TLS handshake
      UpstreamFirstByteTimeout   ``first_byte``: request written, no answer yet
      UpstreamIdleTimeout        ``idle``: silence between response bytes
      UpstreamTotalTimeout       ``total``: the whole exchange, body included
      UpstreamPoolTimeout        the origin's connection cap stayed full that long
    UpstreamReset              connection lost before the response completed    -> 502
      UpstreamProtocolError      malformed HTTP or undecodable body
    UpstreamLimitExceeded      a response limit                                  -> 502
      UpstreamResponseTooLarge   body above ``max_response_bytes`` (counted decoded)
      UpstreamLineTooLong        an SSE line above ``max_line_bytes``
"""

from __future__ import annotations

import asyncio
import base64
import re
import select
import socket
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote

import httptools

OriginKey = tuple[str, str, int, str]  # (scheme, host, port, route tag): one connection pool each

__all__ = [
    "ProxyURL",
    "UpstreamClient",
    "UpstreamConnectError",
    "UpstreamConnectTimeout",
    "UpstreamError",
    "UpstreamFirstByteTimeout",
    "UpstreamIdleTimeout",
    "UpstreamLimitExceeded",
    "UpstreamLineTooLong",
    "UpstreamOptions",
    "UpstreamPoolTimeout",
    "UpstreamProtocolError",
    "UpstreamProxyError",
    "UpstreamReset",
    "UpstreamResponse",
    "UpstreamResponseTooLarge",
    "UpstreamTimeout",
    "UpstreamTotalTimeout",
]


class UpstreamError(Exception):
    """Base class of every error this client raises about the upstream."""

    reason = "upstream_error"  # short, stable name for records and metrics


class UpstreamConnectError(UpstreamError):
    """DNS failure, connection refused, TLS handshake / certificate failure."""

    reason = "connect_failed"


class UpstreamProxyError(UpstreamConnectError):
    """The HTTP proxy could not be reached or refused the CONNECT tunnel."""

    reason = "proxy_failed"


class UpstreamTimeout(UpstreamError):
    """A timeout (the subclass says which one)."""

    reason = "timeout"


class UpstreamConnectTimeout(UpstreamTimeout):
    """``timeouts.connect``: TCP connect, proxy tunnel and TLS handshake took too long."""

    reason = "connect_timeout"


class UpstreamFirstByteTimeout(UpstreamTimeout):
    """``timeouts.first_byte``: the request was written and nothing came back in time."""

    reason = "first_byte_timeout"


class UpstreamIdleTimeout(UpstreamTimeout):
    """``timeouts.idle``: the response started, then the upstream went silent too long."""

    reason = "idle_timeout"


class UpstreamPoolTimeout(UpstreamTimeout):
    """The origin's connection cap (``max_connections``) stayed full past the request's timeouts."""

    reason = "pool_timeout"


class UpstreamTotalTimeout(UpstreamTimeout):
    """``timeouts.total``: the whole exchange (connect to last body byte) took too long."""

    reason = "total_timeout"


class UpstreamReset(UpstreamError):
    """The connection was lost before the response was complete.

    ``sent`` is True when the request may have reached the upstream (it was written),
    so it must not be resent blindly; False when provably nothing was delivered.
    """

    reason = "reset"

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class UpstreamProtocolError(UpstreamReset):
    """The upstream sent something that is not valid HTTP/1.1, or an undecodable body."""

    reason = "protocol_error"


class UpstreamLimitExceeded(UpstreamError):
    """A response limit was hit; the connection is dropped and memory stays bounded."""

    reason = "limit_exceeded"


class UpstreamResponseTooLarge(UpstreamLimitExceeded):
    """The response body (counted after decompression) is above ``max_response_bytes``."""

    reason = "response_too_large"


class UpstreamLineTooLong(UpstreamLimitExceeded):
    """A line of a streamed (``text/event-stream``) body is above ``max_line_bytes``."""

    reason = "line_too_long"


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """An ``http://[user:pass@]host:port`` forward proxy (CONNECT for https origins)."""

    host: str
    port: int
    auth: str | None = None  # the Proxy-Authorization value, when the URL carries credentials

    @classmethod
    def parse(cls, url: str) -> ProxyURL:
        from urllib.parse import urlsplit

        if "://" not in url:
            url = "http://" + url  # curl and requests accept a bare host:port
        parts = urlsplit(url)
        if parts.scheme.lower() != "http":
            raise ValueError(f"only http:// proxies are supported (CONNECT tunnels for https), got {url!r}")
        if not parts.hostname:
            raise ValueError(f"proxy URL without a host: {url!r}")
        try:
            port = parts.port or 80
        except ValueError as e:
            raise ValueError(f"invalid proxy URL {url!r}: {e}") from None
        auth = None
        if parts.username is not None:
            cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            auth = "Basic " + base64.b64encode(cred).decode("ascii")
        return cls(parts.hostname, port, auth)

    def __str__(self) -> str:  # never shows credentials
        return f"http://{self.host}:{self.port}"


_MIB = 1 << 20


@dataclass(frozen=True, slots=True, eq=False)
class UpstreamOptions:
    """How to reach one provider: built once per provider at config load, passed per request.

    Timeouts are seconds (``None``: no limit).  ``ssl_context=None`` uses the client's
    default (certifi roots); ``proxy=None`` connects directly.
    """

    connect_timeout: float = 10.0
    first_byte_timeout: float | None = 600.0
    idle_timeout: float | None = 600.0
    total_timeout: float | None = None
    max_response_bytes: int | None = 64 * _MIB
    max_line_bytes: int | None = 16 * _MIB
    ssl_context: ssl.SSLContext | None = None
    proxy: ProxyURL | None = None
    retry_reset: bool = False  # opt-in: resend once when dropped after writing, before any reply
    max_connections: int | None = None  # open connections per origin (None: no cap); past it requests wait
    pool_idle_timeout: float | None = None  # close a pooled connection idle this long (None: keep it)
    # parsed URLs for this route (the pool key carries the route tag), filled on use
    _origins: dict[str, _Origin] = field(default_factory=dict, repr=False, compare=False)
    _tag: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        tag = ""
        if self.ssl_context is not None:
            tag = f"ssl{id(self.ssl_context)}"
        if self.proxy is not None:
            tag += f"|{self.proxy}|{self.proxy.auth or ''}"
        object.__setattr__(self, "_tag", tag)


_INF = float("inf")
_NO_CAP = 1 << 62  # "no size limit" as an int: int-to-int comparisons on the hot path


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
_DECODE_STEP = 256 * 1024  # inflate at most this much per step: a gzip bomb never expands at once
_IDLE_PROBE = 1.0  # a pooled connection idle longer than this is probed (poll) before reuse
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # safe to resend when no reply came


class _Origin:
    """A parsed, validated absolute URL (cached)."""

    __slots__ = ("key", "tls", "host", "port", "tail")

    def __init__(self, key: OriginKey, tls: bool, host: str, port: int, tail: str) -> None:
        self.key = key
        self.tls = tls
        self.host = host
        self.port = port
        self.tail = tail  # " <target> HTTP/1.1\r\nHost: <host>\r\n"


def _parse_url(url: str, opts: UpstreamOptions | None = None) -> _Origin:
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
    tag = ""
    extra = ""
    if opts is not None:
        tag = opts._tag
        proxy = opts.proxy
        if proxy is not None and not tls:  # plain http through a proxy: absolute-form target
            target = f"http://{hh}{target}"
            if proxy.auth:
                extra = f"Proxy-Authorization: {proxy.auth}\r\n"
    return _Origin((scheme, host, port, tag), tls, host, port, f" {target} HTTP/1.1\r\nHost: {hh}\r\n{extra}")


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
        return obj.decompress(data, _DECODE_STEP)  # bounded: the rest waits in unconsumed_tail

    def more(self) -> bytes:
        """The next bounded step of output, while input is left over from ``feed``."""
        obj = self.obj
        if obj is None or not obj.unconsumed_tail:
            return b""
        return obj.decompress(obj.unconsumed_tail, _DECODE_STEP)

    def flush(self) -> bytes:
        if self.obj is None:
            if self.pending:
                raise zlib.error("truncated deflate stream")
            return b""
        return self.obj.flush()


class UpstreamResponse:
    """The status and headers of an upstream response; the body arrives behind them."""

    __slots__ = (
        "status",
        "headers",
        "_conn",
        "_parts",
        "_size",
        "_state",
        "_exc",
        "_waiter",
        "_decoder",
        "_head_fut",
        "_raw",
        "_head",
        "_until_close",
        "_timer",
        "_first",
        "_idle",
        "_deadline",
        "_interim",
        "_total",
        "_cap",
        "_line",
        "_max_line",
        "_line_limit",
    )

    def __init__(self, conn: _Conn, head: bool, opts: UpstreamOptions, deadline: float) -> None:
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
        self._first = opts.first_byte_timeout or _INF
        self._idle = opts.idle_timeout or _INF
        self._deadline = deadline  # loop time the whole exchange must end by (inf: none)
        self._interim = False
        self._total = 0  # decoded body bytes so far
        self._cap = opts.max_response_bytes or _NO_CAP
        self._line = 0  # bytes since the last line break (event streams only)
        self._max_line = 0  # set for text/event-stream bodies
        self._line_limit = opts.max_line_bytes or 0

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
        "client",
        "key",
        "loop",
        "transport",
        "parser",
        "resp",
        "last",
        "got_bytes",
        "paused",
        "closed",
        "idle",
        "broken",
        "eof",
        "keep",
        "written",
        "idle_since",
        "idle_for",
        "counted",
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
        self.written = False  # the current request went (at least partly) onto the wire
        self.idle_since = 0.0
        self.idle_for = 0.0  # close it after this long idle in the pool (0: never), from the request's options
        self.counted = False  # holds one of its origin's connection slots (UpstreamClient._open)

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
        t0 = r._total
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            if r._state == _DONE and r._exc is None:  # ours is complete; junk after it
                self.broken = True
                self._finished(r)
            else:
                ctx = e.__context__
                if isinstance(ctx, _Abort):
                    self._fail(ctx.error)
                else:
                    self._fail(UpstreamProtocolError(f"invalid HTTP response from upstream: {e!r}"))
                self.abort()
            w = r._waiter
            if w is not None and not w.done():
                w.set_result(None)
            return
        if r._max_line and r._total != t0 and not self._lines_ok(r, r._total - t0):
            self.abort()
        elif r._state == _DONE:
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
        if self.counted:
            self.counted = False
            client._free(self.key)
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
        why = f": {exc}" if exc is not None else ""
        if r.status or self.got_bytes:
            what = "in the middle of the response body" if r.status else "in the middle of the response headers"
            self._fail(UpstreamReset(f"upstream closed the connection {what}{why}"))
        elif self.written:
            self._fail(
                UpstreamReset(
                    "upstream closed the connection after the request was sent, before any response"
                    f"{why}; not resent, since it may have been processed"
                )
            )
        else:
            self._fail(UpstreamReset(f"upstream connection was closed before the request was sent{why}", sent=False))

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
            elif k == "content-type" and v[:17].lower() == "text/event-stream":
                r._max_line = r._line_limit
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
        if d is None:
            n = len(body)
            r._total += n
            if r._total > r._cap:
                self._check(r)  # raises before the bytes are taken
            r._parts.append(body)
            r._size += n
            return
        try:
            body = d.feed(body)
            while True:
                if body:
                    r._total += len(body)
                    if r._total > r._cap:
                        self._check(r)
                    r._parts.append(body)
                    r._size += len(body)
                body = d.more()
                if not body:
                    break
        except zlib.error as e:
            raise _Abort(UpstreamProtocolError(f"cannot decode the response body: {e}")) from None

    @staticmethod
    def _check(r: UpstreamResponse) -> None:
        """Past ``max_response_bytes``: raised through the parser, which stops feeding at once."""
        raise _Abort(
            UpstreamResponseTooLarge(
                f"upstream response body is larger than max_response_bytes ({r._cap} bytes, counted after "
                "decompression)"
            )
        )

    def _lines_ok(self, r: UpstreamResponse, new: int) -> bool:
        """``max_line_bytes`` for an event stream, once per socket read over the ``new`` body
        bytes it brought.  A read whose last piece ends a line and that could not hold a longer
        line is the common case and costs nothing more; otherwise every line is measured.
        On a line too long, the read's pieces are dropped and the response fails."""
        limit = r._max_line
        parts = r._parts
        if r._line + new <= limit and parts and parts[-1][-1:] == b"\n":
            r._line = 0
            return True
        k = len(parts)  # the pieces this read added: walk back over `new` bytes
        seen = 0
        while k > 0 and seen < new:
            k -= 1
            seen += len(parts[k])
        line = r._line
        for i in range(k, len(parts)):
            body = parts[i]
            j = max(body.rfind(b"\n"), body.rfind(b"\r"))
            if j < 0:
                line += len(body)
            else:
                for piece in body[:j].replace(b"\r", b"\n").split(b"\n"):
                    if line + len(piece) > limit:
                        line += len(piece)
                        break
                    line = 0
                else:
                    line = len(body) - j - 1
            if line > limit:
                del parts[k:]
                r._size = sum(len(p) for p in parts)
                if r._state == _DONE:  # complete in this same read: the limit still wins
                    r._state = _FRESH
                self._fail(
                    UpstreamLineTooLong(f"upstream stream has a line longer than max_line_bytes ({limit} bytes)")
                )
                return False
        r._line = line
        return True

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
                raise _Abort(UpstreamProtocolError(f"cannot decode the response body: {e}")) from None
            if tail:
                r._total += len(tail)
                if r._total > r._cap:
                    self._check(r)
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
        end = r._deadline
        exc: UpstreamTimeout
        if now >= end - 1e-3:
            exc = UpstreamTotalTimeout("upstream exchange took longer than timeouts.total")
        else:
            got = self.got_bytes
            limit = r._idle if got else r._first
            due = now + limit if self.paused else self.last + limit  # paused: we stopped reading, not it
            if now < due - 1e-3:
                due = min(due, end)
                if due != _INF:
                    r._timer = loop.call_at(due, self.on_timer, r)
                return
            where = "response headers" if not r.status else "more of the response body"
            if got:
                exc = UpstreamIdleTimeout(f"no data from upstream for {limit:g}s (timeouts.idle, waiting for {where})")
            else:
                exc = UpstreamFirstByteTimeout(
                    f"no response from upstream within {limit:g}s of sending the request (timeouts.first_byte)"
                )
        r._timer = None
        self._fail(exc)
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
        if self.counted:  # the slot is free now, not when the transport reports the loss
            self.counted = False
            self.client._free(self.key)


def _dropped(conn: _Conn) -> bool:
    """True when an idle pooled connection is readable: EOF, a reset, or unsolicited bytes --
    either way unusable.  Asked of connections idle a while, before anything is written."""
    sock = conn.transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        p = select.poll()
        p.register(sock.fileno(), select.POLLIN)
        return bool(p.poll(0))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no poll() (Windows)
        return False


class _Abort(Exception):
    """Internal: raised through the parser to end the response with ``error``."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(str(error))
        self.error = error


_DEFAULT_OPTIONS = UpstreamOptions()


class UpstreamClient:
    """HTTP/1.1 client with a keep-alive pool per origin.  See the module docstring."""

    __slots__ = (
        "_max_idle",
        "_ssl",
        "_pools",
        "_conns",
        "_names",
        "_methods",
        "_closed",
        "_legacy_opts",
        "_open",
        "_waiters",
        "_sweep",
        "_sweep_at",
        "expired",
        "pool_timeouts",
    )

    def __init__(self, *, max_idle_per_origin: int = 512, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle_per_origin
        self._ssl = ssl_context
        self._pools: dict[OriginKey, list[_Conn]] = {}
        self._conns: set[_Conn] = set()
        self._legacy_opts: dict[tuple[int, float | None, float | None], tuple[UpstreamOptions, UpstreamOptions]] = {}
        self._names: set[str] = set()  # header names already checked (valid tokens, not reserved)
        self._methods: set[str] = set()
        self._closed = False
        self._open: dict[OriginKey, int] = {}  # connections open or being opened, per origin
        self._waiters: dict[OriginKey, deque[asyncio.Future[_Conn | None]]] = {}  # at the cap, FIFO
        self._sweep: asyncio.TimerHandle | None = None  # closes pooled connections idle too long
        self._sweep_at = _INF
        self.expired = 0  # pooled connections closed for being idle past pool_idle_timeout
        self.pool_timeouts = 0  # requests that waited for a connection slot in vain

    # -- public -------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]] | dict[str, str],
        body: bytes | None,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        options: UpstreamOptions | None = None,
        retry_reset: bool | None = None,
    ) -> UpstreamResponse:
        """Send a request; return once the status line and headers are in.

        ``options`` (one per provider, see :class:`UpstreamOptions`) carries TLS, proxy,
        timeouts and limits; ``connect_timeout`` / ``read_timeout`` (the older spelling)
        override its connect and first-byte/idle timeouts.  ``retry_reset=True`` allows
        one resend after the connection dropped with the request written but no reply.

        Raises ValueError for a malformed URL, method or header (CR/LF injection),
        UpstreamConnectError, UpstreamTimeout or UpstreamReset.
        """
        if self._closed:
            raise RuntimeError("UpstreamClient is closed")
        opts = options or _DEFAULT_OPTIONS
        if connect_timeout is not None or read_timeout is not None:
            opts = self._legacy(opts, connect_timeout, read_timeout)
        cache = opts._origins
        origin = cache.get(url)
        if origin is None:
            origin = self._origin(url, opts)
        if method not in self._methods:
            self._check_method(method)
        head = self._head(method, origin, headers, body)
        total = opts.total_timeout
        deadline = asyncio.get_running_loop().time() + total if total else _INF
        pool = self._pools.get(origin.key)
        resent = False
        while pool:
            conn = pool.pop()
            conn.idle = False
            idle = conn.loop.time() - conn.idle_since
            if (
                conn.closed
                or conn.eof
                or conn.transport.is_closing()
                or (conn.idle_for and idle >= conn.idle_for)
                or (idle > _IDLE_PROBE and _dropped(conn))
            ):
                conn.abort()  # seen closed before anything was written: provably not delivered
                continue
            try:
                return await self._send(conn, head, body, method, opts, deadline)
            except UpstreamReset as e:
                if not self._may_resend(e, conn, method, opts, retry_reset):
                    raise
                resent = True
                break  # provably not delivered (or safe / opted in): once more, on a fresh connection
        while True:
            conn = await self._acquire(origin, opts, deadline)
            try:
                return await self._send(conn, head, body, method, opts, deadline)
            except UpstreamReset as e:
                if resent or not self._may_resend(e, conn, method, opts, retry_reset):
                    raise
                resent = True

    def _may_resend(
        self, e: UpstreamReset, conn: _Conn, method: str, opts: UpstreamOptions, retry_reset: bool | None
    ) -> bool:
        """RFC 9110 §9.2.2: resend only what provably never arrived, an idempotent method, or
        when the caller opted in -- and never once any byte of a response came back."""
        if self._closed or conn.got_bytes or type(e) is not UpstreamReset:
            return False
        if not e.sent or method in _IDEMPOTENT:
            return True
        return opts.retry_reset if retry_reset is None else retry_reset

    def stats(self) -> list[tuple[str, int, int, int]]:
        """``(origin, open, idle, waiting)`` per origin (``scheme://host:port``), for /metrics."""
        out: dict[str, list[int]] = {}
        for key in {*self._open, *self._pools, *self._waiters}:
            row = out.setdefault(f"{key[0]}://{key[1]}:{key[2]}", [0, 0, 0])
            row[0] += self._open.get(key, 0)
            row[1] += len(self._pools.get(key, ()))
            row[2] += sum(1 for f in self._waiters.get(key, ()) if not f.done())
        return [(k, v[0], v[1], v[2]) for k, v in sorted(out.items()) if any(v)]

    async def close(self) -> None:
        """Close every connection, idle or busy."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for q in self._waiters.values():
            for f in q:
                if not f.done():
                    f.set_exception(UpstreamConnectError("client closed"))
        self._waiters.clear()
        conns = list(self._conns)
        self._pools.clear()
        for c in conns:
            c.idle = False
            c.abort()
        if conns:
            await asyncio.sleep(0)

    # -- internals ------------------------------------------------------------------------
    def _origin(self, url: str, opts: UpstreamOptions) -> _Origin:
        origin = _parse_url(url, opts)
        cache = opts._origins
        if len(cache) >= _URL_CACHE_MAX:
            cache.clear()
        cache[url] = origin
        return origin

    def _legacy(self, opts: UpstreamOptions, connect: float | None, read: float | None) -> UpstreamOptions:
        """Options with the older ``connect_timeout`` / ``read_timeout`` arguments applied (cached)."""
        key = (id(opts), connect, read)
        got = self._legacy_opts.get(key)
        if got is None or got[0] is not opts:
            if len(self._legacy_opts) >= 64:
                self._legacy_opts.clear()
            new = UpstreamOptions(
                connect_timeout=opts.connect_timeout if connect is None else connect,
                first_byte_timeout=opts.first_byte_timeout if read is None else read,
                idle_timeout=opts.idle_timeout if read is None else read,
                total_timeout=opts.total_timeout,
                max_response_bytes=opts.max_response_bytes,
                max_line_bytes=opts.max_line_bytes,
                ssl_context=opts.ssl_context,
                proxy=opts.proxy,
                retry_reset=opts.retry_reset,
                max_connections=opts.max_connections,
                pool_idle_timeout=opts.pool_idle_timeout,
                _origins=opts._origins,
            )
            got = self._legacy_opts[key] = (opts, new)
        return got[1]

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

    async def _connect(self, origin: _Origin, opts: UpstreamOptions, deadline: float) -> _Conn:
        loop = asyncio.get_running_loop()
        ctx = None
        if origin.tls:
            ctx = opts.ssl_context or self._ssl
            if ctx is None:
                ctx = self._ssl = _default_ssl_context()
        key = origin.key
        timeout = opts.connect_timeout
        left = deadline - loop.time()
        total = left < timeout
        if total:
            timeout = max(left, 0.0)
        proxy = opts.proxy
        try:
            if proxy is None:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: _Conn(self, key, loop),
                        origin.host,
                        origin.port,
                        ssl=ctx,
                        server_hostname=origin.host if ctx is not None else None,
                    ),
                    timeout,
                )
            else:
                conn = await asyncio.wait_for(self._via_proxy(loop, proxy, origin, ctx), timeout)
        except TimeoutError:
            where = f"{origin.host}:{origin.port}" + (f" through proxy {proxy}" if proxy is not None else "")
            if total:
                raise UpstreamTotalTimeout(f"connecting to {where}: timeouts.total ran out") from None
            raise UpstreamConnectTimeout(f"connecting to {where} timed out after {timeout:g}s") from None
        except UpstreamConnectError:
            raise
        except (OSError, ssl.SSLError) as e:  # includes DNS (gaierror) and certificate errors
            via = f" through proxy {proxy}" if proxy is not None else ""
            raise UpstreamConnectError(f"cannot connect to {origin.host}:{origin.port}{via}: {e}") from None
        if self._closed:
            conn.abort()
            raise UpstreamConnectError("client closed")
        self._conns.add(conn)
        return conn

    async def _via_proxy(
        self, loop: asyncio.AbstractEventLoop, proxy: ProxyURL, origin: _Origin, ctx: ssl.SSLContext | None
    ) -> _Conn:
        """A connection through an HTTP proxy: a CONNECT tunnel (then TLS) for https origins;
        for http origins the proxy gets absolute-form requests on a plain connection."""
        key = origin.key
        try:
            infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise UpstreamProxyError(f"cannot resolve proxy {proxy}: {e}") from None
        sock: socket.socket | None = None
        err: OSError | None = None
        for family, type_, proto, _, addr in infos:
            s = socket.socket(family, type_, proto)
            s.setblocking(False)
            try:
                await loop.sock_connect(s, addr)
            except OSError as e:
                s.close()
                err = e
                continue
            sock = s
            break
        if sock is None:
            raise UpstreamProxyError(f"cannot connect to proxy {proxy}: {err}")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.tls:
                await self._tunnel(loop, sock, proxy, origin)
            _, conn = await loop.create_connection(
                lambda: _Conn(self, key, loop),
                sock=sock,
                ssl=ctx,
                server_hostname=origin.host if ctx is not None else None,
            )
        except BaseException:
            sock.close()
            raise
        return conn

    @staticmethod
    async def _tunnel(loop: asyncio.AbstractEventLoop, sock: socket.socket, proxy: ProxyURL, origin: _Origin) -> None:
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        target = f"{host}:{origin.port}"
        auth = f"Proxy-Authorization: {proxy.auth}\r\n" if proxy.auth else ""
        await loop.sock_sendall(sock, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                raise UpstreamProxyError(f"proxy {proxy} sent an oversized answer to CONNECT")
            data = await loop.sock_recv(sock, 4096)
            if not data:
                raise UpstreamProxyError(f"proxy {proxy} closed the connection during CONNECT {target}")
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise UpstreamProxyError(f"proxy {proxy} answered CONNECT with {line[:100]!r}")
        if not 200 <= int(parts[1]) < 300:
            raise UpstreamProxyError(f"proxy {proxy} refused CONNECT {target}: {line[:200]}")
        if rest:  # the origin cannot speak before our TLS ClientHello
            raise UpstreamProxyError(f"proxy {proxy} sent data after its CONNECT answer")

    async def _send(
        self, conn: _Conn, head: bytes, body: bytes | None, method: str, opts: UpstreamOptions, deadline: float
    ) -> UpstreamResponse:
        loop = conn.loop
        r = UpstreamResponse(conn, method == "HEAD", opts, deadline)
        fut = r._head_fut = loop.create_future()
        conn.resp = r
        conn.got_bytes = False
        conn.keep = False
        conn.idle_for = opts.pool_idle_timeout or 0.0
        now = conn.last = loop.time()
        due = min(now + r._first, deadline)
        if due != _INF:
            r._timer = loop.call_at(due, conn.on_timer, r)
        t = conn.transport
        if body and len(body) > _INLINE_BODY_MAX:
            t.write(head)
            t.write(body)
        elif body:
            t.write(head + body)
        else:
            t.write(head)
        # a write into a dead socket fails at once and closes the transport: nothing went out
        conn.written = not t.is_closing()
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
        if r.status == 407 and opts.proxy is not None:  # the forward proxy itself refused (plain http origins)
            r.close()
            raise UpstreamProxyError(f"proxy {opts.proxy} requires authentication (407)")
        return r

    # -- the per-origin cap and idle expiry -------------------------------------------
    async def _acquire(self, origin: _Origin, opts: UpstreamOptions, deadline: float) -> _Conn:
        """A new connection to ``origin`` -- or, at the origin's ``max_connections``, the first
        connection given back or the slot of one closed, waited for in turn."""
        key = origin.key
        cap = opts.max_connections
        if cap is not None and self._open.get(key, 0) >= cap:
            got = await self._wait_slot(origin, cap, opts, deadline)
            if got is not None:
                return got  # a keep-alive connection handed over as it came back
        else:  # the slot is taken now: concurrent requests never overshoot the cap
            self._open[key] = self._open.get(key, 0) + 1
        try:
            conn = await self._connect(origin, opts, deadline)
        except BaseException:
            self._free(key)
            raise
        conn.counted = True
        return conn

    async def _wait_slot(self, origin: _Origin, cap: int, opts: UpstreamOptions, deadline: float) -> _Conn | None:
        """Queue for ``origin``: a connection handed over, or None (a slot passed on, already counted)."""
        loop = asyncio.get_running_loop()
        wait = opts.first_byte_timeout or _INF
        until = min(loop.time() + wait, deadline)
        fut: asyncio.Future[_Conn | None] = loop.create_future()
        q = self._waiters.get(origin.key)
        if q is None:
            q = self._waiters[origin.key] = deque()
        q.append(fut)

        def expire() -> None:
            if not fut.done():
                self.pool_timeouts += 1
                why = "timeouts.total" if until >= deadline else "timeouts.first_byte"
                fut.set_exception(
                    UpstreamPoolTimeout(
                        f"no connection to {origin.host}:{origin.port} came free in time ({why}): all "
                        f"{cap} allowed by max_upstream_connections_per_origin were busy"
                    )
                )

        timer = loop.call_at(until, expire) if until != _INF else None
        try:
            return await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:  # handed over, then cancelled
                got = fut.result()
                if got is None:
                    self._free(origin.key)
                else:
                    self._put(got)
            try:
                q.remove(fut)
            except ValueError:
                pass
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _free(self, key: OriginKey) -> None:
        """A connection slot of ``key`` is free: it passes to the first waiter, else the count drops."""
        q = self._waiters.get(key)
        while q:
            f = q.popleft()
            if not f.done():
                f.set_result(None)
                return
        if q is not None:
            del self._waiters[key]
        n = self._open.get(key, 0) - 1
        if n > 0:
            self._open[key] = n
        else:
            self._open.pop(key, None)

    def _sweep_idle(self) -> None:
        """Close the pooled connections idle past their ``pool_idle_timeout``; re-arm for the next."""
        self._sweep = None
        self._sweep_at = _INF
        nxt = _INF
        loop: asyncio.AbstractEventLoop | None = None
        for pool in list(self._pools.values()):
            for c in list(pool):
                if not c.idle_for:
                    continue
                loop = c.loop
                due = c.idle_since + c.idle_for
                if due <= loop.time() + 1e-3:
                    pool.remove(c)
                    c.idle = False
                    self.expired += 1
                    c.abort()
                elif due < nxt:
                    nxt = due
        if loop is not None and nxt != _INF:
            self._arm_sweep(loop, nxt)

    def _arm_sweep(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if due < self._sweep_at:
            if self._sweep is not None:
                self._sweep.cancel()
            self._sweep_at = due
            self._sweep = loop.call_at(due, self._sweep_idle)

    def _put(self, conn: _Conn) -> None:
        if self._closed:
            conn.abort()
            return
        q = self._waiters.get(conn.key)
        while q:  # someone waits at the cap: hand it over, warm
            f = q.popleft()
            if not f.done():
                f.set_result(conn)
                return
        pool = self._pools.get(conn.key)
        if pool is None:
            pool = self._pools[conn.key] = []
        if len(pool) >= self._max_idle:
            conn.abort()
            return
        conn.idle = True
        conn.idle_since = conn.last
        pool.append(conn)
        if conn.idle_for:
            self._arm_sweep(conn.loop, conn.idle_since + conn.idle_for)
