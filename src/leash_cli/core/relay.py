"""The response side of an exchange, whatever protocol carries it to the client.

An adapter hands the core what the provider answered; the core runs it through
the response stages (``adm.flow``) and gives back what to send:

    answered(ex, status, headers)           the provider's head, on the exchange (status, outcome, headers)
    reply = await buffered(ex, flow, status, headers, body)
                                            a whole body: the reply to send (a block: the error instead)
    relay = StreamRelay(ex, flow, secrets)  a stream, event by event:
        outs = await relay.feed(chunk)      the events complete in `chunk`, to write now (in one write)
        relay.broken(error) / relay.malformed(error)
                                            the upstream broke off: an error event ends the stream
        outs = await relay.tail()           once the upstream ended: what the stages still held, the error
        relay.record()                      what the client got, as recorded
    reply = await cached(ex, flow)          a response-cache hit (buffered, or a whole stream)

The adapter adds leash's own headers (``core.headers``) when it writes the head,
calls ``flow.sent()`` after each write, and owns its protocol's I/O (and the
client leaving).  Nothing here imports a web framework or gRPC.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leash_cli.core import rejection as R
from leash_cli.core.secrets import SecretMask
from leash_cli.core.transport import UpstreamError, UpstreamTimeout
from leash_cli.exchange import Exchange, strip_credentials
from leash_cli.providers import HOP_BY_HOP

log = logging.getLogger("leash.proxy")  # (the name operators filter on since the local gateway logged these)

Headers = list[tuple[bytes, bytes]]

_CACHE_STREAM = "text/event-stream"


@dataclass(slots=True)
class Reply:
    """What to send: status, headers (wire form, leash's own not yet added) and the body."""

    status: int
    headers: Headers
    body: bytes
    blocked: bool = False  # a module stopped the answer (the body is the error)
    stream: bool = False  # a whole stream (a cache hit): no content-length among the headers


def answered(ex: Exchange, status: int | None, headers: Iterable[tuple[str, str]]) -> None:
    """The provider's status and headers (lower-case names), on the exchange as recorded."""
    ex.status = status
    ex.response_headers = strip_credentials({k: v for k, v in headers if k not in HOP_BY_HOP})
    if status is not None and status >= 400:
        ex.outcome = "upstream_error"


async def buffered(ex: Exchange, flow: Any, status: int, headers: Headers, body: bytes) -> Reply:
    """A whole response body through the response stages; a block answers with the module's
    error in the caller's shape instead (``rejection.reject``)."""
    body = await flow.body(body)
    block = flow.block
    if block is not None:
        ex.outcome = "blocked"
        body, extra = R.reject(ex, R.Rejection.of_block(block))
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        status = block.status
    ex.response_body = body
    headers.append((b"content-length", str(len(body)).encode()))
    return Reply(status, headers, body, block is not None)


class StreamRelay:
    """One streamed answer (server-sent events, or Bedrock's event-stream messages: the dialect's
    splitter cuts them) through the response stages.  ``sent`` is what the client was given;
    ``ended``: its last event ends a complete answer (``Dialect.stream_end``), so a client that
    leaves now, before the upstream closed, left with the whole answer."""

    __slots__ = ("ex", "flow", "splitter", "secrets", "sent", "broke")

    def __init__(self, ex: Exchange, flow: Any, secrets: SecretMask | None = None) -> None:
        self.ex = ex
        self.flow = flow
        self.splitter = ex.dialect.splitter()
        self.secrets = secrets or None
        self.sent: list[bytes] = []
        self.broke: bytes | None = None  # the error event of a stream the upstream broke off

    async def feed(self, chunk: bytes) -> list[bytes]:
        """The events complete in `chunk`, through the response stages: what to write now (events that
        arrived together leave together, in one write).  Once a module stopped the stream: nothing."""
        flow = self.flow
        outs: list[bytes] = []
        if flow.stopped:
            return outs
        secrets = self.secrets
        for raw in self.splitter.feed(chunk):
            outs += await flow.event(secrets.bytes(raw) if secrets else raw)
            if flow.stopped:
                ex = self.ex
                ex.outcome = "blocked"
                ex.error = ex.error or (f"stream stopped by {flow.block.module}" if flow.block else None)
                break
        if outs:
            self.sent += outs
        return outs

    def broken(self, error: UpstreamError) -> None:
        """The upstream broke off mid-stream: the client learns it in its provider's own stream format
        (its SDK raises), not by a silent end."""
        ex = self.ex
        cause = R.upstream_cause(error)
        ex.outcome = "upstream_error"
        ex.error = f"upstream stream broke off: {cause}"
        log.warning("%s %s/%s: %s", ex.id, ex.provider, ex.path, ex.error)
        timeout = isinstance(error, UpstreamTimeout)
        self.broke = ex.dialect.stream_error(
            ex.path,
            504 if timeout else 502,
            f"provider {ex.provider!r} {'stopped sending' if timeout else 'broke off'} its response "
            f"mid-stream: {cause}",
            "upstream_timeout" if timeout else "upstream_reset",
        )

    def malformed(self, error: Exception) -> None:
        """A corrupt event-stream message: nothing after it can be read (or scanned)."""
        ex = self.ex
        ex.outcome = "upstream_error"
        ex.error = f"upstream sent a malformed stream: {error}"
        log.warning("%s %s/%s: %s", ex.id, ex.provider, ex.path, ex.error)
        self.broke = ex.dialect.stream_error(
            "", 502, f"provider {ex.provider!r} sent a malformed stream: {error}", "upstream_malformed"
        )

    async def tail(self) -> list[bytes]:
        """Once the upstream ended: the last event (without its blank line), what the stages still hold,
        and the error event of a broken stream last.  Each item is its own write."""
        flow = self.flow
        # an event the upstream broke off in the middle of is dropped, as an SSE client drops it at EOF
        rest = self.splitter.flush() if not flow.stopped and self.broke is None else b""
        if rest and self.secrets:
            rest = self.secrets.bytes(rest)
        tail: list[bytes] = list(await flow.event(rest)) if rest.strip() else []
        tail += await flow.tail()
        if self.broke is not None:
            tail.append(self.broke)
        self.sent += tail
        return tail

    @property
    def ended(self) -> bool:
        """The last event the client was given ends a complete answer (read only when a client left)."""
        sent = self.sent
        return bool(sent) and self.broke is None and not self.flow.stopped and self.ex.dialect.stream_end(sent[-1])

    def record(self) -> None:
        """What the client got, on the exchange (a binary stream's messages as their JSON)."""
        d = self.ex.dialect
        sent = self.sent
        self.ex.response_body = b"".join(map(d.recorded_event, sent) if d.binary_stream else sent)


async def cached(ex: Exchange, flow: Any) -> Reply:
    """A response-cache hit (``ex.cached``) through the response stages, whole: a stored stream's
    events leave together, as events that arrive together do."""
    entry = ex.cached
    assert entry is not None
    ex.t_upstream_start = ex.t_upstream_headers = ex.t_upstream_end = time.perf_counter()
    ctype = entry.content_type
    ex.status = entry.status
    ex.response_headers = {"content-type": ctype}
    headers: Headers = [(b"content-type", ctype.encode("latin-1"))]
    if not ctype.startswith(_CACHE_STREAM):
        return await buffered(ex, flow, entry.status, headers, entry.body)
    relay = StreamRelay(ex, flow)
    outs = await relay.feed(entry.body)
    outs += await relay.tail()
    relay.record()
    flow.sent()
    return Reply(entry.status, headers, b"".join(outs), flow.stopped, stream=True)
