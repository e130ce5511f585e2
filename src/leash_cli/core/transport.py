"""The seam between the gateway and the wire toward providers.

The local proxy depends on :class:`Transport`, not on a client class;
:class:`leash_cli.upstream.UpstreamClient` is the implementation leash ships
(retries, fallbacks or a test double plug in here).  A transport raises the
errors below: :class:`UpstreamConnectError` when the request never reached the
provider, :class:`UpstreamTimeout` when it did not answer in time, and
:class:`UpstreamError` (e.g. ``UpstreamReset``) when the connection broke --
``UpstreamReset.sent`` says whether the request may have reached the provider (then it
is never resent silently) -- and :class:`UpstreamLimitExceeded` past a response limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from leash_cli.upstream import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamLimitExceeded,
    UpstreamOptions,
    UpstreamReset,
    UpstreamTimeout,
)

__all__ = ["Transport", "UpstreamAnswer", "UpstreamConnectError", "UpstreamError", "UpstreamLimitExceeded",
           "UpstreamOptions", "UpstreamReset", "UpstreamTimeout"]


class UpstreamAnswer(Protocol):
    """A provider's answer once its status line and headers are in."""

    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order

    def header(self, name: str) -> str | None: ...

    async def read(self) -> bytes: ...  # the whole (decoded) body

    def __aiter__(self) -> AsyncIterator[bytes]: ...  # or the body piece by piece (streams)

    def release(self) -> None: ...  # done with it (the connection may be reused)

    def close(self) -> None: ...  # abandon it (the connection is dropped)


@runtime_checkable
class Transport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]] | dict[str, str],
        body: bytes | None,
        *,
        connect_timeout: float | None = ...,
        read_timeout: float | None = ...,
        options: UpstreamOptions | None = ...,  # per provider: TLS, proxy, timeouts, limits (Provider.transport)
    ) -> UpstreamAnswer: ...

    async def close(self) -> None: ...
