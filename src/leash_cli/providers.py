"""Providers: where a request goes, which wire shape it speaks, and its keys.

The upstream host comes from the config only.  Nothing a client sends (header,
query or body) changes it: the path below ``/v1/{provider}/`` is appended to the
configured endpoint after it is checked for traversal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from leash_cli.config import Config, ConfigError, GatewayConfig, ProviderConfig
from leash_cli.credentials import CredentialError, UpstreamAuth, auth_for
from leash_cli.dialects import Dialect, for_api, for_provider, mock_api, provider_api
from leash_cli.dialects.vertex import scope_of
from leash_cli.exchange import CREDENTIAL_PARAMS
from leash_cli.netconfig import options_for
from leash_cli.upstream import UpstreamOptions

log = logging.getLogger("leash.providers")

#: Hop-by-hop headers (RFC 9110 §7.6.1) plus those leash recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "content-encoding",
    }
)

__all__ = [
    "HOP_BY_HOP",
    "Provider",
    "RouteError",
    "build_providers",
    "clean_rest",
    "client_key",
    "mock_api",
    "request_model",
    "strip_query_params",
]


class RouteError(Exception):
    def __init__(self, status: int, message: str, code: str, api: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.api = api  # the error shape to answer in (None: the call's)


@dataclass(slots=True)
class Provider:
    name: str
    kind: str
    endpoint: str
    base_path: str  # the endpoint's path, without trailing slash
    origin: str  # scheme://host[:port]
    api_key: str | None
    auth_header: str | None
    models: list[str]
    extra_headers: dict[str, str]
    extra_query: dict[str, str]
    connect_timeout: float | None
    read_timeout: float | None
    config: ProviderConfig = field(repr=False)
    # TLS context, proxy, timeouts and limits for the upstream client, built once here (None: mock)
    transport: UpstreamOptions | None = field(default=None, repr=False)
    #: credentials computed per request or refreshed (SigV4, OAuth tokens); None: a static key or the client's
    auth: UpstreamAuth | None = field(default=None, repr=False)
    #: the dialect of the provider's kind (a ``mock`` provider: OpenAI's, for its own paths and keys;
    #: the dialect of each call is ``dialect_for(rest)``)
    dialect: Dialect = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.dialect = for_api(self.kind)

    @classmethod
    def from_config(cls, name: str, pc: ProviderConfig, gateway: GatewayConfig | None = None) -> Provider:
        endpoint = pc.endpoint or ""
        parts = urlsplit(endpoint)
        key = pc.api_key.get_secret_value() if pc.api_key is not None else None
        return cls(
            name=name,
            kind=pc.kind or name,
            endpoint=endpoint,
            base_path=parts.path.rstrip("/"),
            origin=f"{parts.scheme}://{parts.netloc}",
            api_key=key or None,
            auth_header=pc.auth_header.lower() if pc.auth_header else None,
            models=list(pc.models),
            extra_headers=dict(pc.headers),
            extra_query=dict(pc.query),
            connect_timeout=pc.connect_timeout,
            read_timeout=pc.read_timeout,
            config=pc,
            transport=None if pc.kind == "mock" else _transport(name, pc, gateway or GatewayConfig()),
            auth=_auth(name, pc),
        )

    # -- the wire shape ------------------------------------------------------
    def api_for(self, rest: str) -> str:
        """The wire format a call to `rest` speaks (a ``mock`` or ``vertex`` provider's depends on the path)."""
        return provider_api(self.kind, rest)

    def dialect_for(self, rest: str) -> Dialect:
        """The dialect of a call to `rest` (``for_api(api_for(rest))``)."""
        return for_provider(self.kind, rest)

    def check_path(self, rest: str) -> None:
        """Raise :class:`RouteError` for a path the provider must not be asked (see ``clean_rest``;
        a vertex provider with a configured project or location: a path naming another)."""
        clean_rest(rest)
        pc = self.config
        if pc.project is None and pc.location is None:
            return
        scope = scope_of(rest)
        if scope is None:
            return
        project, location = scope
        if pc.project is not None and project != pc.project:
            raise RouteError(
                403,
                f"provider {self.name!r} serves Google Cloud project {pc.project!r} only; "
                f"this request names project {project!r}",
                "project_not_allowed",
                "vertex",  # Google's shape, as Vertex itself answers a call to another project
            )
        if pc.location is not None and location != pc.location:
            raise RouteError(
                400,
                f"provider {self.name!r} serves location {pc.location!r} only (its endpoint is "
                f"{self.origin}); this request names location {location!r}",
                "location_not_allowed",
                "vertex",
            )

    def upstream_path(self, rest: str) -> str:
        """The path below the endpoint for `rest` (already checked by `clean_rest`)."""
        return f"{self.base_path}/{self.dialect.upstream_rest(rest)}"

    def upstream_url(self, rest: str, query: str) -> str:
        url = self.origin + quote(self.upstream_path(rest), safe="/:@!$&'()*+,;=-._~%")
        if self.extra_query:
            pairs = parse_qsl(query, keep_blank_values=True)
            names = {k for k, _ in pairs}
            pairs += [(k, v) for k, v in self.extra_query.items() if k not in names]
            query = urlencode(pairs)
        if query:
            url += "?" + query
        return url

    # -- credentials ---------------------------------------------------------
    @property
    def holds_credentials(self) -> bool:
        """The gateway authenticates upstream itself (a key or an :class:`UpstreamAuth`)."""
        return self.api_key is not None or self.auth is not None

    def apply_credentials(self, headers: dict[str, str], query: str) -> tuple[dict[str, str], str]:
        """Inject the gateway-side key (when configured), replacing the client's.  With an
        :class:`UpstreamAuth`, the client's credential headers are removed here and
        :meth:`authenticate` adds the provider's to each try."""
        auth = self.auth
        if auth is not None:
            for h in auth.client_headers:
                headers.pop(h, None)
            if self.dialect.key_in_query and query:
                query = strip_query_params(query, CREDENTIAL_PARAMS)
        if self.api_key is None:
            return headers, query
        for h in ("authorization", "x-api-key", "api-key", "x-goog-api-key"):
            headers.pop(h, None)
        if self.auth_header:
            value = "Bearer " + self.api_key if self.auth_header == "authorization" else self.api_key
            headers[self.auth_header] = value
        else:
            name, value = self.dialect.auth_header(self.api_key)
            headers[name] = value
        if self.dialect.key_in_query and query:  # the client's ?key= must not reach the provider
            query = strip_query_params(query, CREDENTIAL_PARAMS)
        return headers, query

    async def authenticate(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        """Add the per-request credentials (a signature, a fresh token) to one try's headers."""
        if self.auth is not None:
            await self.auth.apply(method, url, headers, body)

    async def aclose(self) -> None:
        """Release what the credentials hold (a token endpoint's connections); the provider is unused."""
        close = getattr(self.auth, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # closing is best effort: the connections are dropped with the object anyway
                log.debug("closing the credentials of provider %s failed", self.name, exc_info=True)

    def refused(self) -> None:
        """The provider answered 401 to our credentials: an auth that caches a token (``invalidate``)
        drops it, so the next request fetches a new one instead of reusing a revoked token until it expires."""
        forget = getattr(self.auth, "invalidate", None)
        if forget is not None:
            forget()


def _auth(name: str, pc: ProviderConfig) -> UpstreamAuth | None:
    try:
        return auth_for(name, pc)
    except CredentialError as e:
        raise ConfigError("config", [f"providers.{name}: {e}"]) from None


def _transport(name: str, pc: ProviderConfig, gateway: GatewayConfig) -> UpstreamOptions:
    try:
        return options_for(pc, gateway)
    except ValueError as e:  # a certificate that does not load, a bad proxy variable
        raise ConfigError("config", [f"providers.{name}: {e}"]) from None


def clean_rest(rest: str) -> str:
    """Reject paths that could climb out of the configured endpoint.

    Each segment is checked after percent-decoding (what the provider will see):
    no ``.``/``..``, no encoded ``/`` or ``\\``, no empty segment (a leading
    ``//`` would start a new authority); only a trailing slash is allowed.
    """
    if not rest:
        raise RouteError(404, "no API path after the provider name", "not_found")
    segments = rest.split("/")
    for i, seg in enumerate(segments):
        if not seg:
            if i == len(segments) - 1 and i > 0:
                continue  # a trailing slash
            raise RouteError(400, "empty path segments are not allowed", "invalid_path")
        decoded = unquote(seg)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded or "\x00" in decoded:
            raise RouteError(400, "path segments '.', '..' and encoded slashes are not allowed", "invalid_path")
    return rest


_SIGV4 = "AWS4-HMAC-SHA256 "


def client_key(headers: dict[str, str], query: str) -> str | None:
    """The key the client sent, wherever its SDK puts it.  An AWS SigV4 ``Authorization`` gives its
    access key id: boto3 sends bearer tokens over HTTPS only, so against a plain-HTTP leash a leash key
    rides as ``aws_access_key_id`` (any secret; leash replaces the signature, see kind bedrock)."""
    auth = headers.get("authorization")
    if auth:
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        if auth.startswith(_SIGV4):  # an AWS SDK's own signature: its access key id (a leash key, perhaps)
            i = auth.find("Credential=")
            return auth[i + 11 :].split("/", 1)[0] if i > 0 else auth
        return auth
    for h in ("x-api-key", "x-goog-api-key", "api-key"):
        v = headers.get(h)
        if v:
            return v
    if "key=" in query:
        for k, v in parse_qsl(query):
            if k == "key":
                return v
    return None


def strip_query_params(query: str, names: frozenset[str]) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() not in names]
    return urlencode(pairs)


def request_model(kind_api: str, rest: str, body: object) -> tuple[str | None, bool]:
    """(model, stream) of a request, from the body or (Gemini) the path (``Dialect.request_model``)."""
    return for_api(kind_api).request_model(rest, body)


def build_providers(cfg: Config) -> dict[str, Provider]:
    return {name: Provider.from_config(name, pc, cfg.gateway) for name, pc in cfg.providers.items()}
