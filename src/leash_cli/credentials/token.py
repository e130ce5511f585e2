"""A bearer token fetched on demand, shared by every request, refreshed before it expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from leash_cli.upstream import UpstreamConnectError

__all__ = ["CachedToken", "TokenError"]


class TokenError(UpstreamConnectError):
    """A token could not be obtained (the token endpoint refused or did not answer).

    An :class:`UpstreamConnectError`: the request was never sent, so the gateway treats it as
    a failed connection (another deployment or a fallback may take it; else a 502, recorded).
    """


class CachedToken:
    """``await token.get()`` returns a valid token, fetching one when there is none or the
    current one expires within ``margin`` seconds.  Concurrent callers share one fetch.

    ``fetch`` returns ``(token, expires_at)`` with ``expires_at`` in ``time.time()`` seconds;
    it may raise :class:`TokenError`.  A failed fetch is not cached: the next request tries
    again (after ``retry_after`` seconds, so a dead endpoint is not hammered per request).
    """

    __slots__ = ("_fetch", "_margin", "_retry_after", "_token", "_expires", "_lock", "_failed_at", "_error", "_early")

    def __init__(
        self, fetch: Callable[[], Awaitable[tuple[str, float]]], *, margin: float = 300.0, retry_after: float = 1.0
    ) -> None:
        self._fetch = fetch
        self._margin = margin
        self._retry_after = retry_after
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None
        self._failed_at = 0.0
        self._error: TokenError | None = None
        self._early = margin  # refresh this long before expiry: the margin, or half a short token's life

    def _fresh(self, now: float) -> bool:
        return self._token is not None and now < self._expires - self._early

    async def get(self) -> str:
        now = time.time()
        if self._fresh(now):
            assert self._token is not None
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.time()
            if self._fresh(now):
                assert self._token is not None
                return self._token
            if self._error is not None and now - self._failed_at < self._retry_after:
                if self._token is not None and now < self._expires:
                    return self._token  # still valid, only inside the margin: use it while the endpoint is down
                raise self._error
            try:
                token, expires = await self._fetch()
            except TokenError as e:
                self._error, self._failed_at = e, time.time()  # after the attempt (it may have taken its timeout)
                if self._token is not None and now < self._expires:
                    return self._token
                raise
            self._token, self._expires, self._error = token, expires, None
            self._early = min(self._margin, max(expires - time.time(), 0.0) / 2)
            return token

    def invalidate(self) -> None:
        """Forget the token (the provider answered 401 to it)."""
        self._token, self._expires = None, 0.0
