"""response-cache: answer a repeated request from a stored answer, under the current policy.

Exact match: the key is a SHA-256 over the tenant, the provider, the path and query, and the
request body in canonical form (JSON with sorted keys, as it goes upstream after every
request module), so tenants never share an entry and any change of model, messages, tools or
parameters is a different request.  A streamed request and a buffered one are different
requests too: a streamed hit is replayed as the stream that was recorded.

The lookup runs last among the request modules: a request that a policy blocks never reaches
the cache.  A hit is answered without calling the provider and goes through the response
modules of the current policy like an upstream answer (a hit never bypasses a block), costs
nothing, and is recorded with ``x-leash-cache: hit``.  An answer is stored only when it
passed the policy unchanged (status 200, complete, no finding on the response side).

``cache-control: no-cache`` in the request skips the lookup (the answer is still stored);
``no-store`` skips both.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator

from leash_cli.cache import CacheStore, Entry, MemoryCache, RedisCache, SqliteCache
from leash_cli.config import _bytes, seconds
from leash_cli.decision import Decision
from leash_cli.exchange import Exchange
from leash_cli.modules import _common
from leash_cli.paths import leash_home

log = logging.getLogger("leash.modules.response_cache")

HIT = {"x-leash-cache": "hit"}
MISS = {"x-leash-cache": "miss"}

#: the calls whose answer depends on the request alone (generation and embeddings), by path ending
DEFAULT_PATHS = (
    "chat/completions",
    "completions",
    "responses",
    "embeddings",
    "messages",
    ":generateContent",
    ":streamGenerateContent",
    ":embedContent",
    ":batchEmbedContents",
    "/converse",
    "/converse-stream",
    "/invoke",
    "/invoke-with-response-stream",
    ":rawPredict",
    ":streamRawPredict",
)

_STATE = "_cache"  # ex.annotations key: (key, may store, verdict and violations count at lookup)


class ResponseCache:
    """Exact-match answers per tenant, with a TTL and size limits (SQLite, Redis or memory)."""

    name = "response-cache"
    version = "1.0"
    priority = 1000  # the last request module: after every policy and transform
    edits_response = False
    on_error = "allow"  # a cache that fails (Redis down, a locked file) is a miss, never a refusal

    class Settings(_common.Settings):
        ttl: float = Field(3600.0, description="how long an answer is served, e.g. 10m, 1h, 1d")
        max_entries: int = Field(10_000, ge=1, description="entries kept (SQLite, memory); the oldest go first")
        max_bytes: int = Field(
            256 * 1024 * 1024, ge=1, description="bytes of answers kept (SQLite, memory), e.g. 256MiB"
        )
        max_entry_bytes: int = Field(1024 * 1024, ge=1, description="a larger answer is not stored, e.g. 1MiB")
        backend: Literal["auto", "sqlite", "redis", "memory"] = Field(
            "auto",
            description="where answers are kept: auto (Redis when `state.backend` is redis, else SQLite), "
            "sqlite, redis (needs `state.backend: redis`), memory (this process only)",
        )
        path: str | None = Field(
            None, description="the SQLite file; default: cache.db in $LEASH_HOME (not the history database)"
        )
        paths: list[str] = Field(
            default_factory=lambda: list(DEFAULT_PATHS),
            description="calls that may be cached, by the end of their path below the provider",
        )

        @field_validator("ttl", mode="before")
        @classmethod
        def _ttl(cls, v: Any) -> float:
            s = seconds(v)
            if s <= 0:
                raise ValueError("must be above 0")
            return s

        @field_validator("max_bytes", "max_entry_bytes", mode="before")
        @classmethod
        def _sizes(cls, v: Any) -> Any:
            return _bytes(v)

    def __init__(self, settings: ResponseCache.Settings, context: Any = None) -> None:
        self.s = settings
        self.paths = tuple(settings.paths)
        self.store: CacheStore = _open_store(settings, getattr(context, "state", None))
        cfg = getattr(context, "config", None)
        #: providers whose upstream credentials the gateway holds: only their answers are shared within a
        #: tenant (with the client's own key passed through, an answer belongs to that key's account, and a
        #: caller with a wrong key must not be answered from it)
        self.held = frozenset(n for n, pc in (getattr(cfg, "providers", None) or {}).items() if _holds(pc))

    # -- the request side ------------------------------------------------------------------
    async def transform(self, ex: Exchange) -> Decision | None:
        if ex.method != "POST" or not ex.path.endswith(self.paths):
            return None
        if ex.key_id is None and ex.provider not in self.held:
            return None  # the client's own provider key: not cached (see ``held``)
        if ex.dialect.binary_stream and ex.stream:
            return None  # event-stream frames are recorded as text: they cannot be replayed
        body = ex.json()
        if not isinstance(body, dict):
            return None
        directives = _directives(ex.request_headers.get("cache-control", ""))
        if "no-store" in directives:
            return Decision("allow", response_headers=MISS)
        key = request_key(ex, body)
        if "no-cache" not in directives:
            try:
                entry = await self.store.get(key)
            except Exception as e:  # the store is down: a miss
                log.warning("response-cache: lookup failed (%s: %s); answering from the provider", type(e).__name__, e)
                entry = None
            if entry is not None:
                ex.cache = "hit"
                ex.cached = entry
                return Decision("allow", response_headers=HIT)
        ex.cache = "miss"
        ex.annotations[_STATE] = (key, ex.verdict, len(ex.violations))
        return Decision("allow", response_headers=MISS)

    # -- after the answer --------------------------------------------------------------------
    async def sink(self, ex: Exchange) -> None:
        state = ex.annotations.get(_STATE)
        if state is None or ex.cache != "miss":
            return
        key, verdict, found = state
        body = ex.response_body
        if (
            ex.status != 200
            or ex.outcome != "ok"
            or ex.verdict != verdict  # the response side redacted or blocked something
            or len(ex.violations) != found  # ... or found something
            or not body
            or len(body) > self.s.max_entry_bytes
        ):
            return
        ctype = ex.response_headers.get("content-type") or ("text/event-stream" if ex.stream else "application/json")
        await self.store.put(key, ex.tenant, Entry(200, ctype, body, 0.0), self.s.ttl)

    def close(self) -> None:
        self.store.close()


#: request headers that change what a provider answers (API versions and beta features)
VARY = ("anthropic-version", "anthropic-beta", "openai-beta", "openai-organization", "openai-project")


def request_key(ex: Exchange, body: dict[str, Any]) -> str:
    """The cache key: tenant, virtual key, provider, path, query, the headers in ``VARY`` and the
    canonical body."""
    h = hashlib.sha256()
    headers = ex.request_headers
    for part in (ex.tenant, ex.key_id or "", ex.provider, ex.path, ex.query, *(headers.get(v, "") for v in VARY)):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def _holds(pc: Any) -> bool:
    """Whether the gateway holds the upstream credentials of a provider (a key, or credentials of its
    own kind's: AWS keys or profile, an Entra ID client, a service-account file)."""
    if getattr(pc, "kind", None) == "mock":
        return True
    fields = ("api_key", "aws_access_key_id", "profile", "client_secret", "credentials_file")
    if any(getattr(pc, f, None) for f in fields):
        return True
    return any(getattr(d, "api_key", None) for d in getattr(pc, "deployments", None) or [])


def _directives(value: str) -> set[str]:
    return {d.strip().split("=", 1)[0].lower() for d in value.split(",") if d.strip()}


def _open_store(s: ResponseCache.Settings, state: Any) -> CacheStore:
    redis = getattr(state, "redis", None)
    backend = s.backend
    if backend == "auto":
        backend = "redis" if redis is not None else "sqlite"
    if backend == "redis":
        if redis is None:
            raise ValueError("backend: redis needs the gateway's state in Redis (state.backend: redis)")
        return RedisCache(redis)
    if backend == "memory":
        return MemoryCache(s.max_entries, s.max_bytes)
    path = Path(s.path).expanduser() if s.path else leash_home() / "cache.db"
    return SqliteCache(path, s.max_entries, s.max_bytes)
