"""The exchange: one request/response pair as the pipeline sees it.

It knows nothing of HTTP frameworks.  The local proxy (``proxy.py``) and the
Envoy ext_proc host build the same object and hand it to the same pipeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from leash_cli.dialects import Dialect, for_api
from leash_cli.dialects.base import BodyUnreadable, Text, Usage

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_PARAMS",
    "OUTCOMES",
    "BodyNotWritable",
    "BodyUnreadable",
    "Exchange",
    "Usage",
    "Violation",
    "strip_credentials",
]

#: Headers that carry credentials; never stored, logged or shown.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "x-leash-key",
    }
)

#: Query parameters that carry credentials.
CREDENTIAL_PARAMS = frozenset({"key", "api_key", "api-key", "access_token"})

OUTCOMES = ("ok", "upstream_error", "blocked", "error", "client_cancelled")


@dataclass(slots=True)
class Violation:
    """A finding of a policy module, stored in the ``violations`` table."""

    module: str
    type: str
    action: str  # block | redact | log | shadow_block | alert
    severity: str = "medium"
    detail: str = ""
    start: int | None = None
    end: int | None = None
    field: str | None = None
    score: float | None = None


class BodyNotWritable(ValueError):
    """A module rewrote the request body (a redaction) and it cannot be serialised again."""


@dataclass(slots=True)
class Exchange:
    id: str
    provider: str  # configured provider name, e.g. "openai", "groq"
    kind: str  # provider kind: openai | anthropic | google | mock
    api: str  # wire shape of this call: openai | anthropic | google (fixed once built: see ``dialect``)
    method: str
    path: str  # path below the provider, e.g. "chat/completions"
    query: str = ""  # query string with credentials removed
    tenant: str = "default"
    key_id: str | None = None  # leash virtual key id, when one was used
    client: str | None = None  # client address
    request_headers: dict[str, str] = field(default_factory=dict)  # credentials removed
    request_body: bytes = b""
    model: str | None = None
    stream: bool = False
    # timing (perf_counter seconds unless stated)
    started_at: float = field(default_factory=time.time)  # wall clock
    t_start: float = field(default_factory=time.perf_counter)
    t_upstream_start: float | None = None
    t_upstream_headers: float | None = None
    t_first_token: float | None = None
    t_upstream_end: float | None = None
    t_end: float | None = None
    # response
    status: int | None = None
    outcome: str = "ok"
    error: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes | None = None  # buffered body, or the stream as the client saw it
    response_text: str | None = None  # reassembled completion text (streams and bodies)
    stream_events: list[bytes] | None = None  # raw SSE events, kept when storage.bodies == full
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    cost_detail: dict[str, Any] | None = None
    violations: list[Violation] = field(default_factory=list)
    verdict: str = "allowed"  # allowed | blocked | redacted | shadow_blocked
    module_timings: dict[str, float] = field(default_factory=dict)  # module -> seconds
    annotations: dict[str, Any] = field(default_factory=dict)
    cache: str | None = None  # response-cache: "hit" (answered from the cache) or "miss"
    cached: Any = None  # response-cache: the stored answer (``leash_cli.cache.Entry``) on a hit
    modules: tuple = ()  # the pipeline slots that apply to this exchange (set by the pipeline)
    _json: Any = None
    _json_error: str | None = None
    _json_parsed: bool = False
    _texts: Any = None
    _dirty: bool = False
    _edits: int = 0  # counts rewrites of the request body (a shadow module's are undone)
    _dialect: Dialect | None = None

    # -- the wire format -----------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        """The dialect of ``api`` (looked up on first use, then held)."""
        d = self._dialect
        if d is None:
            d = self._dialect = for_api(self.api)
        return d

    # -- request body -------------------------------------------------------
    def json(self) -> Any:
        """The request body parsed as JSON (None when empty or not JSON)."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.request_body:
                try:
                    self._json = orjson.loads(self.request_body)
                except orjson.JSONDecodeError as e:
                    self._json_error = str(e)
        return self._json

    @property
    def json_error(self) -> str | None:
        self.json()
        return self._json_error

    def set_json(self, body: Any) -> None:
        """Replace the request body (a transform)."""
        self._json = body
        self._json_parsed = True
        self._json_error = None
        self._texts = None
        self._dirty = False
        self._edits += 1
        self.request_body = orjson.dumps(body)

    # -- normalized text ------------------------------------------------------
    def texts(self) -> list[Text]:
        """Every string the model will read, with role and JSON path (see ``dialects``)."""
        texts = self._texts
        if texts is None:
            texts = self._texts = self.dialect.request_texts(self.json())
        return texts

    @property
    def prompt_text(self) -> str:
        return "\n".join(t.text for t in self.texts())

    def replace_text(self, path: tuple, value: str) -> None:
        """Rewrite one string of the request body in place (a redaction)."""
        self.dialect.write_text(self.json(), path, value)
        self._texts = None
        self._dirty = True
        self._edits += 1

    def commit_body(self) -> bool:
        """Serialize the body after in-place rewrites; True when it changed."""
        if not self._dirty:
            return False
        try:
            self.request_body = orjson.dumps(self._json)
        except orjson.JSONEncodeError as e:  # orjson reads 1,024 levels of nesting and writes 254
            raise BodyNotWritable(
                f"the request body could not be written back after a module rewrote it ({e}): "
                "it nests JSON more than 254 levels deep"
            ) from e
        self._dirty = False
        return True

    # -- timings ------------------------------------------------------------
    @property
    def upstream_seconds(self) -> float | None:
        if self.t_upstream_start is None or self.t_upstream_end is None:
            return None
        return self.t_upstream_end - self.t_upstream_start

    @property
    def total_seconds(self) -> float | None:
        if self.t_end is None:
            return None
        return self.t_end - self.t_start

    @property
    def overhead_seconds(self) -> float | None:
        """Time spent in leash: the total less the time waiting on the upstream."""
        total = self.total_seconds
        if total is None:
            return None
        up = self.upstream_seconds or 0.0
        return max(total - up, 0.0)

    @property
    def ttft_seconds(self) -> float | None:
        if self.t_first_token is None:
            return None
        return self.t_first_token - self.t_start


_CREDENTIAL_WORDS = ("key", "token", "secret", "password", "auth", "signature", "session")
_IS_CREDENTIAL: dict[str, bool] = {}  # header name -> verdict (clients send the same few names)


def _is_credential(name: str) -> bool:
    verdict = _IS_CREDENTIAL.get(name)
    if verdict is None:
        low = name.lower()
        verdict = low in CREDENTIAL_HEADERS or any(w in low for w in _CREDENTIAL_WORDS)
        if len(_IS_CREDENTIAL) < 4096:
            _IS_CREDENTIAL[name] = verdict
    return verdict


def strip_credentials(headers: dict[str, str]) -> dict[str, str]:
    """Headers without credentials: the known ones, and any whose name says it holds one
    (``ocp-apim-subscription-key``, ``x-auth-token`` ...)."""
    return {k: v for k, v in headers.items() if not _is_credential(k)}
