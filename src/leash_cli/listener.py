"""The gateway's listening side: a connection cap and a header-read timeout on uvicorn's protocol.

uvicorn holds a connection open for as long as its client keeps sending a request head a byte at
a time (its keep-alive timer runs only between requests), and accepts every connection the kernel
hands it.  :func:`gated_protocol` subclasses uvicorn's httptools protocol with both limits:

* ``gateway.max_connections``: a connection beyond it is answered ``503 too_many_connections``
  and closed in ``connection_made``, before anything is read (counted);
* ``gateway.header_timeout``: from a connection's start, and from the first byte of each request
  on it, the client has that long to finish the request head; then ``408 header_timeout`` (or,
  when it sent nothing, a plain close).  The timer is one ``call_later`` per request head,
  cancelled in ``on_headers_complete``.

Both limits are read from the live config on each connection, so a reload changes them.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionGate", "default_max_connections", "gated_protocol"]


def default_max_connections() -> int:
    """Half the process's open-file limit (the other half: upstream connections, the history,
    logs), at least 64."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover
        return 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 65536
    return max(64, soft // 2)


def _answer(status: str, code: str, message: str) -> bytes:
    body = b'{"error": {"message": "%s", "type": "%s", "code": "%s"}}' % (
        message.encode(),
        code.encode(),
        code.encode(),
    )
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status.encode(), len(body))
        + body
    )


class ConnectionGate:
    """The counters and limits every connection of one gateway shares (read by /metrics).

    ``settings()`` returns the live ``gateway`` config section (``max_connections``, ``header_timeout``).
    """

    __slots__ = ("settings", "open", "peak", "refused", "header_timeouts", "_default_max")

    def __init__(self, settings: Callable[[], Any]) -> None:
        self.settings = settings
        self.open = 0
        self.peak = 0
        self.refused = 0
        self.header_timeouts = 0
        self._default_max = default_max_connections()

    def limit(self) -> int:
        n = self.settings().max_connections
        return self._default_max if n is None else n


def gated_protocol(gate: ConnectionGate) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``gate``'s connection cap and header-read timeout."""

    class GatedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._admitted = False
            self._head_timer: asyncio.TimerHandle | None = None
            self._head_started = False  # a byte of the current request head has come

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            limit = gate.limit()
            if gate.open >= limit:
                gate.refused += 1
                self.transport = transport
                transport.write(
                    _answer(
                        "503 Service Unavailable",
                        "too_many_connections",
                        f"the gateway has {limit} connections open (gateway.max_connections); try again later",
                    )
                )
                transport.close()
                return
            self._admitted = True
            gate.open += 1
            if gate.open > gate.peak:
                gate.peak = gate.open
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            if self._admitted:
                self._admitted = False
                gate.open -= 1
            elif self.parser is not None and self.flow is None:  # refused: never entered uvicorn's books
                self.parser = None
                return
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._admitted:
                return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_started = True
            if self._head_timer is None:
                self._arm_head_timer()

        def on_headers_complete(self) -> None:
            self._disarm_head_timer()
            self._head_started = False
            super().on_headers_complete()

        def _arm_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(gate.settings().header_timeout, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            t = self._head_timer
            if t is not None:
                self._head_timer = None
                t.cancel()

        def _head_timed_out(self) -> None:
            self._head_timer = None
            t = self.transport
            if t is None or t.is_closing():
                return
            gate.header_timeouts += 1
            if self._head_started:
                secs = gate.settings().header_timeout
                t.write(
                    _answer(
                        "408 Request Timeout",
                        "header_timeout",
                        f"the request head did not arrive within {secs:g}s (gateway.header_timeout)",
                    )
                )
            t.close()

    return GatedHttpToolsProtocol
