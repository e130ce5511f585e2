"""Configuration: YAML in, validated pydantic models out.

Where the file comes from (first match wins): ``--config``, ``$LEASH_CONFIG``,
``./leash.yaml``, ``./configs/gateway/config.yaml``, else the embedded default.

``${VAR}`` and ``${VAR:-default}`` are expanded inside string values (never in
keys, and never by re-parsing the expanded text as YAML).  Every validation
error names the file, the key path, what was expected and the line.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from leash_cli.presets import PRESETS, PresetName
from leash_cli.resources import default_config_path

ProviderKind = Literal[
    "openai",
    "anthropic",
    "google",
    "mock",
    "azure",  # azure: Azure OpenAI (issue #21)
    "bedrock",  # bedrock: AWS Bedrock runtime (issue #21)
    "vertex",  # vertex: Google Vertex AI (issue #21)
]
PROVIDER_KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic", "google", "mock", "azure", "bedrock", "vertex")
_KIND_OF: dict[str, ProviderKind] = {k: k for k in PROVIDER_KINDS}  # a provider's NAME, when it is a kind

RetryOn = Literal[429, 500, 502, 503, 504, "connect", "timeout", "reset"]
_DEFAULT_RETRY_ON: tuple[RetryOn, ...] = (429, 500, 502, 503, 504, "connect")

DEFAULT_ENDPOINTS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
    "mock": "mock://local",
    # azure: no default, each resource has its own endpoint (https://RESOURCE.openai.azure.com)
    "bedrock": "https://bedrock-runtime.{region}.amazonaws.com",  # bedrock: from its `region`
}


# vertex: the endpoint follows the location (no one default)
def vertex_endpoint(location: str) -> str:
    """Vertex AI's endpoint for `location`, as the SDKs pick it: ``global`` the global host, ``us`` /
    ``eu`` the multi-region ones, else the regional one."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


_VERTEX_LOCATION = re.compile(r"[a-z][a-z0-9-]{1,62}")  # us-central1, europe-west4, global, us, eu
_VERTEX_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]{0,127}")

CONFIG_SEARCH = ("leash.yaml", "configs/gateway/config.yaml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GatewayConfig(Strict):
    """Where the gateway listens, its limits and timeouts, and who may use it."""

    host: str = Field(
        "127.0.0.1",
        description="address to bind (`leash up --host` overrides); off loopback a virtual key is required by default",
    )
    port: int = Field(
        8080, ge=0, le=65535, description="port to bind (`leash up --port` overrides; 0 picks a free one)"
    )
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest request body accepted (413 above)")
    max_header_bytes: int = Field(
        64 * 1024,
        gt=0,
        description="largest request head accepted, all header names and values together (431 headers_too_large above)",
    )
    max_scan_chars: int = Field(
        2 * 1024 * 1024,
        gt=0,
        description="most characters of text the scanner modules read of one request, one buffered "
        "response or one stream; see on_scan_limit",
    )
    on_scan_limit: Literal["block", "allow"] = Field(
        "block",
        description="past max_scan_chars: block (413 scan_limit_exceeded for a request, the response "
        "or stream stopped with the same code; fail closed) or allow (the text beyond the cap passes "
        "unscanned, recorded as a SCAN_LIMIT violation)",
    )
    connect_timeout: float = Field(10.0, gt=0, description="seconds to connect to an upstream")
    read_timeout: float = Field(600.0, gt=0, description="seconds of silence allowed between upstream bytes")
    log_format: Literal["text", "json"] = Field(
        "text", description="`json` for JSON-lines logs (`leash up --log-format` overrides)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="least severe log level shown")
    access_log: bool = Field(
        False,
        description="accepted for compatibility; leash logs no per-request access "
        "lines (the history records every exchange)",
    )
    trust_tenant_header: bool | None = Field(
        None, description="take the tenant from X-Leash-Tenant; default: on only while bound to loopback"
    )
    require_virtual_key: bool | None = Field(
        None,
        description="refuse requests without a valid leash key (lk-...); default: on unless bound to "
        "loopback (always on behind Envoy unless set to false)",
    )
    workers: int = Field(
        1,
        ge=1,
        description="must be 1: the gateway runs one process (its limits, budgets and history "
        "writer are per process); scale out with `leash export compose --replicas`",
    )
    admin_key: str | None = Field(
        None,
        description="when set, /health and /metrics answer only requests carrying it (Authorization: "
        "Bearer <key> or X-Leash-Admin-Key), 401 otherwise; /ready stays open (it says only ready or not)",
    )

    admin_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="serve /health and /metrics on this port of admin_host instead (the main port then "
        "answers them 404; /ready stays on both); an alternative or addition to admin_key; 0 picks a free one",
    )
    admin_host: str = Field("127.0.0.1", description="address the admin_port binds")
    max_connections: int | None = Field(
        None,
        ge=1,
        description="client connections open at once; a connection beyond it is answered 503 and closed at "
        "once (counted in leash_gateway_connections_refused_total); default: half the process's "
        "open-file limit (ulimit -n), at least 64",
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds (or a duration: 10s) a client connection has to send a complete request head, "
        "counted from its connection or the first byte of each request; then it is closed (408)",
    )
    max_upstream_connections_per_origin: int | None = Field(
        512,
        ge=1,
        description="connections open at once to one upstream origin (scheme, host, port); a request past "
        "it waits for one to come free, at most its first_byte / total timeouts (then 504 "
        "pool_timeout); null: no cap",
    )
    upstream_idle_expiry: float | None = Field(
        60.0,
        gt=0,
        description="seconds (or a duration) a pooled keep-alive connection to an upstream may stay idle "
        "before it is closed; null: kept until the upstream closes it",
    )

    @field_validator("header_timeout", "upstream_idle_expiry", mode="before")
    @classmethod
    def _gw_durations(cls, v: Any) -> Any:
        return _seconds(v)

    @field_validator("workers")
    @classmethod
    def _one_worker(cls, v: int) -> int:
        if v != 1:
            raise ValueError(
                f"workers: {v} is not supported: a gateway is one process (its rate limits, budgets and "
                "history writer live in it); run several gateways behind a load balancer instead "
                "(`leash export compose --replicas N`, with storage.url and state shared)"
            )
        return v

    trust: Literal["certifi", "system"] = Field(
        "certifi",
        description="root certificates for upstream TLS: certifi (Mozilla's bundle, shipped with leash) "
        "or system (the operating system's trust store, via truststore); SSL_CERT_FILE / "
        "SSL_CERT_DIR, when set, replace the certifi bundle",
    )


def _seconds(v: Any) -> Any:
    """A duration field: a number of seconds, or a string such as 5s, 200ms, 2m; null stays null."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        return parse_duration(v)
    return v


def _bytes(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return parse_size(v)
    return v


class TimeoutsConfig(Strict):
    """Upstream timeouts, in seconds or as durations (5s, 200ms, 2m); null: no limit."""

    connect: float | None = Field(
        None, gt=0, description="TCP connect, proxy tunnel and TLS handshake (default: connect_timeout)"
    )
    first_byte: float | None = Field(
        None, gt=0, description="from the request written to the first response byte (default: read_timeout)"
    )
    idle: float | None = Field(
        None,
        gt=0,
        description="longest silence between response bytes once the answer has started (default: read_timeout)",
    )
    total: float | None = Field(None, gt=0, description="the whole upstream exchange, body included (default: none)")

    @field_validator("connect", "first_byte", "idle", "total", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return _seconds(v)


class TLSConfig(Strict):
    """TLS towards one provider."""

    ca_file: str | None = Field(
        None,
        description="PEM file of the CA certificates to trust for this provider, instead of the gateway trust "
        "(a private CA)",
    )
    cert_file: str | None = Field(None, description="PEM client certificate (mutual TLS); may also hold the key")
    key_file: str | None = Field(None, description="PEM private key of cert_file, when not inside it")
    verify: bool = Field(True, description="verify the provider's certificate and host name; false only for tests")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        path = Path(v).expanduser()
        if not path.is_file():
            raise ValueError(f"file not found: {v}")
        return str(path)

    @model_validator(mode="after")
    def _pairs(self) -> TLSConfig:
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file")
        return self


_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SHORT_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds(value: Any) -> float:
    """A duration as seconds: a number (seconds) or text such as 200ms, 5s, 1.5m, 1h."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 200ms, 5s, 1m or 1d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _SHORT_DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 200ms, 5s or 1m, got {value!r}")
    return float(m.group(1)) * _SHORT_UNITS[m.group(2)]


class DeploymentConfig(Strict):
    """One upstream behind a provider name: its own endpoint and key, and its share of the traffic."""

    name: str = Field(description="the deployment's name (in x-leash-deployment, /health and the metrics)")
    endpoint: str | None = Field(None, description="base URL; default: the provider's endpoint")
    api_key: SecretStr | None = Field(
        None,
        description="the key injected upstream for this deployment; default: "
        "the provider's api_key (never logged or stored)",
    )
    weight: int = Field(
        1,
        ge=0,
        description="share of the traffic under `balance: weighted` (0: only when no other deployment is available)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError(f"deployment name {v!r} may hold only letters, digits, '-', '_' and '.'")
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http(s) URL such as https://api.openai.com/v1")
        return v.rstrip("/")


RETRY_ON = (429, 500, 502, 503, 504, "connect", "timeout", "reset")


class RetryConfig(Strict):
    """When and how often leash sends a request again (to another deployment when one is healthy)."""

    attempts: int = Field(0, ge=0, le=10, description="retries after the first try (0: none)")
    backoff: float = Field(
        0.2,
        description="base of the exponential backoff (full jitter: a random wait up to backoff * 2^retry), e.g. 200ms",
    )
    max_backoff: float = Field(5.0, description="the longest wait between two tries, e.g. 5s")
    on: list[RetryOn] = Field(
        default_factory=lambda: list(_DEFAULT_RETRY_ON),
        description="what is retried: an answered status (429, 500, 502, 503, 504), `connect` (the request never "
        "left: connection refused, DNS, connect timeout), `timeout` (no answer in time) and `reset` "
        "(the connection dropped after the request was written); `timeout` and `reset` may send a "
        "request the provider already received again, so they are opt-in",
    )

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true: it means the key `on`
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @field_validator("backoff", "max_backoff", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return seconds(v)


class CircuitBreakerConfig(Strict):
    """Per deployment: stop sending to one that keeps failing, try it again after a pause."""

    failure_threshold: int = Field(
        5,
        ge=1,
        description="consecutive failures (connect errors, timeouts, resets, 5xx answers) that open the breaker",
    )
    recovery_timeout: float = Field(
        30.0, description="how long an open breaker stays open before trial requests (half-open), e.g. 30s"
    )
    half_open_requests: int = Field(
        1,
        ge=1,
        description="trial requests let through while half-open; that many "
        "successes close the breaker, one failure opens it again",
    )

    @field_validator("recovery_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return seconds(v)


class HealthCheckConfig(Strict):
    """An active probe per deployment: a GET every `interval`; failures count toward the breaker."""

    interval: float = Field(10.0, description="time between probes, e.g. 10s")
    timeout: float = Field(2.0, description="a probe with no answer by then fails, e.g. 2s")
    path: str | None = Field(
        None,
        description="path below the endpoint; default by kind: /models (OpenAI), "
        "/v1/models (Anthropic), /v1beta/models (Google), /openai/models (Azure). An answer "
        "below 500 other than 429 is healthy",
    )

    @field_validator("interval", "timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        s = seconds(v)
        if s <= 0:
            raise ValueError("must be above 0")
        return s


class FallbackConfig(Strict):
    """Another provider to try when this one's deployments are exhausted or open."""

    provider: str = Field(description="a configured provider of the same wire format")
    model: str | None = Field(None, description="the model to ask it for instead of the client's")


class ProviderConfig(Strict):
    """One upstream, reached at /v1/NAME/... (NAME is the key under `providers:`)."""

    kind: ProviderKind | None = Field(
        None, description="wire format; default: the provider's NAME when it is one of the kinds"
    )
    endpoint: str | None = Field(
        None, description="base URL the request path is appended to; default: the kind's public API"
    )
    api_key: SecretStr | None = Field(None, description="gateway-side key injected upstream (else the client's passes)")
    auth_header: str | None = Field(
        None,
        description="header that carries api_key upstream (default by kind: "
        "authorization, x-api-key, x-goog-api-key; Azure: api-key)",
    )
    models: list[str] = Field(
        default_factory=list,
        description="documentation and the start-up banner; does not restrict models (see model-policy)",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers sent upstream")
    query: dict[str, str] = Field(default_factory=dict, description="extra query parameters (e.g. Azure api-version)")
    connect_timeout: float | None = Field(None, gt=0, description="seconds; default: gateway.connect_timeout")
    read_timeout: float | None = Field(None, gt=0, description="seconds; default: gateway.read_timeout")
    timeouts: TimeoutsConfig = Field(
        default_factory=TimeoutsConfig,
        description="upstream timeouts {connect, first_byte, idle, total}; unset ones come from connect_timeout / "
        "read_timeout",
    )
    max_response_bytes: int | None = Field(
        64 * 1024 * 1024,
        gt=0,
        description="largest upstream response body, counted after decompression (e.g. "
        "64MiB); above it the answer is a 502 and the connection is dropped; "
        "null: no limit",
    )
    max_line_bytes: int | None = Field(
        16 * 1024 * 1024,
        gt=0,
        description="longest line of a streamed (SSE) upstream response (e.g. 16MiB); above "
        "it the stream ends with an error; null: no limit",
    )
    tls: TLSConfig = Field(
        default_factory=TLSConfig, description="TLS towards this provider: {ca_file, cert_file, key_file, verify}"
    )
    proxy: str | None = Field(
        None,
        description="HTTP proxy for this provider (http://[user:pass@]host:port; https origins go through a "
        "CONNECT tunnel); none or null: connect directly; unset: HTTPS_PROXY / HTTP_PROXY / "
        "ALL_PROXY / NO_PROXY from the environment",
    )
    stream_usage: bool = Field(
        True,
        description="ask OpenAI-style streams for their usage "
        "(stream_options.include_usage); off for servers that refuse it",
    )
    deployments: list[DeploymentConfig] = Field(
        default_factory=list,
        description="several upstreams behind this provider name; default: one, from endpoint and api_key",
    )
    balance: Literal["weighted", "least-busy", "latency", "ordered"] = Field(
        "weighted",
        description="how a deployment is picked: weighted round robin, least-busy (fewest requests "
        "in flight), latency (lowest moving average), ordered (the first available)",
    )
    retry: RetryConfig = Field(default_factory=RetryConfig, description="retries with backoff (none by default)")
    circuit_breaker: CircuitBreakerConfig | None = Field(
        None,
        description="per-deployment circuit breaker; default: none (deployments are skipped only while "
        "cooling down after a 429 with Retry-After)",
    )
    health_check: HealthCheckConfig | None = Field(None, description="optional active probe of each deployment")
    fallbacks: list[str | FallbackConfig] = Field(
        default_factory=list,
        description="other providers of the same wire format, tried in order once this "
        "one's deployments are exhausted or open: a name, or "
        "{provider: NAME, model: MODEL} to ask for another model",
    )
    # bedrock provider only (AWS): the region, and how leash signs (api_key: a Bedrock API key instead)
    region: str | None = Field(
        None, description="bedrock: AWS region (required); picks https://bedrock-runtime.REGION.amazonaws.com"
    )
    aws_access_key_id: SecretStr | None = Field(
        None, description="bedrock: access key id leash signs with (SigV4); with aws_secret_access_key"
    )
    aws_secret_access_key: SecretStr | None = Field(None, description="bedrock: secret access key (never stored)")
    aws_session_token: SecretStr | None = Field(None, description="bedrock: session token of temporary keys")
    profile: str | None = Field(
        None,
        description="bedrock: a named AWS profile (~/.aws/config); without keys, profile or api_key: "
        "the standard AWS credential chain",
    )
    # vertex only
    project: str | None = Field(
        None,
        description="vertex: the Google Cloud project requests may name in their path (others: 403); "
        "default: any (the credentials' permissions decide)",
    )
    location: str | None = Field(
        None,
        description="vertex: the region (e.g. us-central1, or global); picks the endpoint and is the only "
        "location requests may name; needed unless endpoint is set",
    )
    credentials_file: str | None = Field(
        None,
        description="vertex: a service-account JSON key file; default: application-default credentials "
        "(needs the leash[vertex] extra either way)",
    )
    # mock provider only
    delay_ms: float = Field(0.0, ge=0, description="mock: delay before the answer")
    chunks: int = Field(5, ge=1, le=10000, description="mock: number of streamed content events")
    chunk_delay_ms: float = Field(0.0, ge=0, description="mock: delay between streamed events")
    description: str | None = Field(None, description="free text for people reading the config")
    # OpenAI-compatible servers (issue #21): a preset fills endpoint, auth_header and pricing_provider
    preset: PresetName | None = Field(
        None,
        description="an OpenAI-compatible server whose endpoint, auth header and pricing provider id "
        "to use: groq, mistral, together, fireworks, deepseek, openrouter, xai, ollama, vllm, lmstudio "
        "(explicit keys win); implies kind openai",
    )
    pricing_provider: str | None = Field(
        None,
        description="the genai-prices provider id this provider's models are priced under (e.g. groq, azure); "
        "none: only the config's pricing: table; default: the preset's, else the provider's name, then "
        "its kind's",
    )
    # azure: Microsoft Entra ID (client credentials) instead of an api-key, and the deployments' models
    tenant_id: str | None = Field(
        None, description="azure: the Entra ID tenant for a token by client credentials (instead of api_key)"
    )
    client_id: str | None = Field(None, description="azure: the application (client) id of the Entra ID app")
    client_secret: SecretStr | None = Field(
        None, description="azure: the Entra ID app's client secret (never logged or stored)"
    )
    token_endpoint: str | None = Field(
        None,
        description="azure: the OAuth token endpoint; default "
        "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token",
    )
    token_scope: str = Field(
        "https://cognitiveservices.azure.com/.default", description="azure: the scope the token is asked for"
    )
    deployment_models: dict[str, str] = Field(
        default_factory=dict,
        description="azure: the model each deployment serves (deployment name -> model), for pricing and "
        "model-policy; usually written as the mapping form of `deployments: {name: model}`",
    )

    @model_validator(mode="before")
    @classmethod
    def _deployments_mapping(cls, data: Any) -> Any:
        # azure: `deployments: {deployment: model}` is the deployments' models, not a list of upstreams
        if isinstance(data, dict) and isinstance(data.get("deployments"), dict):
            if data.get("deployment_models"):
                raise ValueError(
                    "deployments: give the deployment -> model map once (deployments or deployment_models)"
                )
            data = dict(data)
            models = data.pop("deployments")
            bad = [k for k, v in models.items() if not isinstance(v, str) or not v]
            if bad:
                raise ValueError(
                    f"deployments: the mapping form takes deployment name -> model name; {bad[0]!r} is not"
                )
            data["deployment_models"] = {str(k): v for k, v in models.items()}
        return data

    @field_validator("max_response_bytes", "max_line_bytes", mode="before")
    @classmethod
    def _sizes(cls, v: Any) -> Any:
        return _bytes(v)

    @field_validator("proxy", mode="before")
    @classmethod
    def _proxy(cls, v: Any) -> Any:
        if v is False:
            return "none"
        if isinstance(v, str) and v.strip().lower() not in ("", "none", "direct", "off", "false"):
            from leash_cli.upstream import ProxyURL

            ProxyURL.parse(v.strip())  # ValueError: said with the key and line
            return v.strip()
        if isinstance(v, str):
            return "none"
        return v

    def proxy_setting(self) -> str | None:
        """The proxy URL to use, ``"none"`` for a direct connection, None: from the environment."""
        if self.proxy is None and "proxy" in self.model_fields_set:
            return "none"  # an explicit `proxy: null`
        return self.proxy

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.match(r"^(https?|mock)://[^/\s]+", v):
            raise ValueError("expected an http(s) URL such as https://api.openai.com/v1")
        return v.rstrip("/")

    @field_validator("token_endpoint")
    @classmethod
    def _token_endpoint_is_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(
                "expected an http(s) URL such as https://login.microsoftonline.com/TENANT/oauth2/v2.0/token"
            )
        return v


class Condition(Strict):
    """One condition a module applies under; all of a module's conditions must hold."""

    field: Literal["tenant", "provider", "model", "path", "kind"] = Field(description="what the condition reads")
    operator: Literal["eq", "ne", "in", "not_in", "regex"] = Field("eq", description="how it compares")
    value: Any = Field(description="a string, or a list for in / not_in, or a regular expression for regex")


class ModuleConfig(Strict):
    """A module's entry under ``modules:``.

    Keys other than the ones below are the module's own settings and are
    merged into ``config`` (so ``rate-limiter: {requests_per_minute: 60}`` and
    ``rate-limiter: {config: {requests_per_minute: 60}}`` mean the same).
    """

    enabled: bool = Field(True, description="false keeps the entry but loads nothing")
    priority: int | None = Field(None, description="order within a stage, lower first; default: the module's own")
    mode: Literal["enforce", "shadow"] = Field(
        "enforce", description="shadow: record what the module would do (shadow_block), enforce nothing"
    )
    on_error: Literal["block", "allow"] | None = Field(
        None,
        description="when the module raises or overruns its timeout: block (503 module_error, fail closed) "
        "or allow (skip it); default: block, allow for inspect-only and sink-only modules",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        description="seconds; default 2 (a module run off the event loop is abandoned when it passes it, "
        "and its on_error decides)",
    )
    offload: Literal["auto", "always", "never"] | None = Field(
        None,
        description="where a synchronous stage runs: always in a worker thread (its timeout enforced "
        "while it runs), never (on the event loop), auto (in a worker thread once the body is 64 KiB or "
        "more); default: the module's own (auto for the scanners, never for the cheap built-ins, always "
        "for modules from modules_dir or plugins)",
    )
    conditions: list[Condition] = Field(default_factory=list, description="apply only where all of these hold")
    config: dict[str, Any] = Field(
        default_factory=dict, description="the module's own settings (also accepted inline, beside the keys above)"
    )

    @model_validator(mode="before")
    @classmethod
    def _collect_settings(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, bool):
            return {"enabled": data}
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        extra = {k: v for k, v in data.items() if k not in known}
        if not extra:
            return data
        out = {k: v for k, v in data.items() if k in known}
        out["config"] = {**extra, **(data.get("config") or {})}
        return out


class QuotaConfig(Strict):
    """A tenant's own limits, enforced before the modules (as `tenant-quota`)."""

    requests_per_minute: int | None = Field(None, ge=0, description="requests a minute (429 quota_exceeded above)")
    requests_per_hour: int | None = Field(None, ge=0, description="requests an hour")
    requests_per_day: int | None = Field(None, ge=0, description="requests a day")
    tokens_per_day: int | None = Field(None, ge=0, description="input + output tokens a day")
    cost_limit_usd: float | None = Field(
        None, ge=0, description="budget in USD per cost_period (429 budget_exceeded above; worst case reserved)"
    )
    cost_period: Literal["day", "month"] = Field("day", description="the budget's window")


class TenantConfig(Strict):
    """One tenant (the NAME a virtual key or X-Leash-Tenant resolves to)."""

    name: str | None = Field(
        None, description="display name shown beside the tenant's id in `leash stats --by tenant` and the TUI"
    )
    description: str | None = Field(None, description="free text for people reading the config")
    policies: list[str] | None = Field(
        None, description="exactly the modules that apply to this tenant; default: every enabled module"
    )
    quotas: QuotaConfig = Field(default_factory=QuotaConfig, description="the tenant's limits")
    allowed_providers: list[str] | None = Field(None, description="providers it may call; default: all")
    allowed_models: list[str] | None = Field(None, description="model globs it may call; default: all")
    blocked_models: list[str] = Field(default_factory=list, description="model globs it may not call")


class StorageConfig(Strict):
    """The history: a SQLite file (``path``) or a PostgreSQL database (``url``), written off the hot path."""

    enabled: bool = Field(True, description="false records nothing (as `leash up --no-record`)")
    path: str | None = Field(
        None, description="the database; default $LEASH_HOME/leash.db (~/.leash/leash.db); `--db` overrides"
    )
    url: str | None = Field(
        None,
        description="a PostgreSQL database for the history and virtual keys, shared by every gateway: "
        "postgresql://user@host:5432/leash (default: $LEASH_DATABASE_URL, else the SQLite file "
        "storage.path)",
    )
    bodies: Literal["full", "redacted", "none"] = Field(
        "redacted",
        description="what is kept of request and response bodies: `redacted` masks what the scanner "
        "modules found (even under `action: log`, when the upstream got it unchanged) and "
        "credential-looking strings, and keeps no raw stream events; `full` keeps them "
        "verbatim (found credentials are still masked); `none` keeps no bodies or texts",
    )
    max_body_bytes: int = Field(256 * 1024, ge=0, description="bodies stored above this size are truncated")
    retention: str | None = Field("30d", description="prune rows older than this (e.g. 30d, 12h); null keeps all")
    max_rows: int | None = Field(None, ge=1, description="prune the oldest rows beyond this many; null: no cap")
    on_error: Literal["continue", "block"] = Field(
        "continue",
        description="while the history cannot be written: keep serving (rows held in memory) or "
        "refuse traffic (503 history_unavailable)",
    )
    flush_interval_ms: int = Field(
        5, ge=1, le=10000, description="rows leave the gateway at least this often (the thread writer commits them)"
    )
    commit_interval_ms: int = Field(
        50,
        ge=1,
        le=10000,
        description="the writer process commits at least this often (rows it holds are "
        "not lost if the gateway dies; larger transactions cost less per row)",
    )
    batch_size: int = Field(500, ge=1, description="most rows in one transaction")
    max_pending_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024 * 1024,
        description="most bytes of rows held in memory for the writer (besides at most 100,000 rows); "
        "beyond it the oldest are dropped and counted",
    )
    max_lag: str = Field(
        "30s",
        description="the history turns degraded (/health, /ready 503, leash_store_degraded; "
        "storage.on_error: block then refuses traffic) while its oldest unwritten row is older than this",
    )
    writer: Literal["process", "thread"] = Field(
        "process",
        description="where rows are written: a process of their own (the gateway keeps its core and "
        "its GIL), or a thread of the gateway",
    )
    audit_key_file: str | None = Field(
        None,
        description="the HMAC key that signs audit checkpoints, kept outside the database; default "
        "$LEASH_AUDIT_KEY, else $LEASH_HOME/audit.key (made, mode 0600, on first use)",
    )
    audit_checkpoint_interval: str = Field(
        "60s",
        description="how often the writer signs a checkpoint of the audit chain while rows arrive "
        "(and always at shutdown)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"(?i)^postgres(ql)?://", v):
            raise ValueError(f"expected a PostgreSQL URL such as postgresql://user@host:5432/leash, got {v!r}")
        return v

    @field_validator("max_pending_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return _bytes(v)

    @field_validator("retention", "audit_checkpoint_interval", "max_lag")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parse_duration(v)
        return v


class TelemetryConfig(Strict):
    """OpenTelemetry traces: one trace per exchange, exported over OTLP/HTTP in batches (needs the
    ``otel`` extra: ``pip install 'leash-cli[otel]'``).  Off unless an endpoint is set here or in
    ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``$OTEL_EXPORTER_OTLP_ENDPOINT``; read at start."""

    otlp_endpoint: str | None = Field(
        None,
        description="the collector's OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (`/v1/traces` is added "
        "to a URL without a path); default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else "
        "$OTEL_EXPORTER_OTLP_ENDPOINT; unset: no traces",
    )
    service_name: str | None = Field(
        None, description="the traces' service.name; default $OTEL_SERVICE_NAME, else `leash`"
    )
    sample_ratio: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="the share of new traces kept (by trace id, as OpenTelemetry's TraceIdRatioBased); "
        "a request with a traceparent follows its caller's sampled flag",
    )
    capture_content: bool = Field(
        False,
        description="put the prompt and completion text on the exchange span (gen_ai.input.messages, "
        "gen_ai.output.messages); off by default: no text leaves leash in a trace",
    )

    @field_validator("otlp_endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"(?i)^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL such as http://127.0.0.1:4318, got {v!r}")
        return v

    @model_validator(mode="after")
    def _installed(self) -> TelemetryConfig:
        if self.otlp_endpoint is not None:
            from importlib.util import find_spec

            try:
                found = find_spec("opentelemetry.sdk") is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                raise ValueError("telemetry needs the OpenTelemetry SDK: pip install 'leash-cli[otel]'")
        return self


class PriceConfig(Strict):
    """Prices in USD per million tokens."""

    input: float = Field(ge=0, description="prompt tokens")
    output: float = Field(ge=0, description="completion tokens")
    cached_input: float | None = Field(None, ge=0, description="cache reads; default: input")
    cache_write: float | None = Field(None, ge=0, description="cache creation; default: input")
    reasoning: float | None = Field(None, ge=0, description="reasoning tokens; default: output")


class Config(Strict):
    """The whole file."""

    version: int | str | None = Field(None, description="free-form; not interpreted")
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="listener, limits and access")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="the history")
    providers: dict[str, ProviderConfig] = Field(default_factory=dict, description="upstreams by name")
    modules: dict[str, ModuleConfig] = Field(default_factory=dict, description="pipeline modules by name")
    modules_dir: str | None = Field(None, description="a folder of .py module files, relative to the config file")
    tenants: dict[str, TenantConfig] = Field(default_factory=dict, description="tenants by name")
    pricing: dict[str, PriceConfig] = Field(
        default_factory=dict, description="price overrides by model (exact name, else longest prefix)"
    )
    state: str | None = Field(None, description="shared state for limits: redis://host:port/db, else in memory")
    telemetry: TelemetryConfig = Field(
        default_factory=TelemetryConfig, description="OpenTelemetry traces over OTLP/HTTP (off by default)"
    )

    @field_validator("providers")
    @classmethod
    def _kinds(cls, v: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name, p in v.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"provider name {name!r} may hold only letters, digits, '-', '_' and '.'")
            if p.preset is not None:
                _apply_preset(name, p)
            if p.kind is None:
                kind = _KIND_OF.get(name)
                if kind is None:
                    raise ValueError(f"provider {name!r} needs a 'kind' (one of {', '.join(PROVIDER_KINDS)})")
                p.kind = kind
            _check_azure(name, p)
            if p.kind == "bedrock":
                _check_bedrock(name, p)
            elif p.region or p.aws_access_key_id or p.aws_secret_access_key or p.aws_session_token or p.profile:
                raise ValueError(
                    f"providers.{name}: region, aws_access_key_id, aws_secret_access_key, aws_session_token "
                    f"and profile are for kind bedrock, not {p.kind}"
                )
            if p.kind == "vertex" or p.project or p.location or p.credentials_file:
                _check_vertex(name, p)
            if p.endpoint is None:
                if p.kind == "vertex" and p.location:
                    p.endpoint = vertex_endpoint(p.location)
                else:
                    p.endpoint = DEFAULT_ENDPOINTS[p.kind].format(region=p.region)
        for name, p in v.items():
            _check_routing(name, p, v)
        return v

    # convenience -----------------------------------------------------------
    def provider(self, name: str) -> ProviderConfig | None:
        return self.providers.get(name)


_AWS_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def _check_bedrock(name: str, p: ProviderConfig) -> None:
    """A bedrock provider's region and credentials (errors name the key and what was expected)."""
    key = f"providers.{name}"
    if not p.region:
        raise ValueError(f"{key}.region: kind bedrock needs the AWS region, e.g. region: us-east-1")
    if not _AWS_REGION.fullmatch(p.region):
        raise ValueError(f"{key}.region: {p.region!r} is not an AWS region name such as us-east-1 or eu-central-1")
    has_id, has_secret = p.aws_access_key_id is not None, p.aws_secret_access_key is not None
    if has_id != has_secret:
        raise ValueError(f"{key}: aws_access_key_id and aws_secret_access_key go together; one of them is missing")
    if p.aws_session_token is not None and not has_id:
        raise ValueError(f"{key}.aws_session_token: needs aws_access_key_id and aws_secret_access_key")
    if has_id and p.profile:
        raise ValueError(f"{key}: give either aws_access_key_id / aws_secret_access_key or profile, not both")
    if p.api_key is not None and (has_id or p.profile):
        raise ValueError(
            f"{key}.api_key: a Bedrock API key replaces SigV4; drop the AWS keys or profile, or the api_key"
        )


#: Wire formats: a provider may fall back to another of the same family (more kinds join these families).
WIRE_FAMILY = {
    "openai": "openai",
    "azure": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "mock": "mock",
    "bedrock": "bedrock",
    "vertex": "vertex",
}


def _apply_preset(name: str, p: ProviderConfig) -> None:
    """Fill what a ``preset:`` gives and the provider does not say itself."""
    key = f"providers.{name}"
    if p.kind not in (None, "openai"):
        raise ValueError(f"{key}.preset: presets are OpenAI-compatible servers; kind {p.kind!r} takes none")
    preset = PRESETS[p.preset or ""]
    p.kind = "openai"
    if p.endpoint is None:
        p.endpoint = preset.endpoint
    if p.auth_header is None:
        p.auth_header = preset.auth_header
    if p.pricing_provider is None:
        p.pricing_provider = preset.pricing_provider


_ENTRA_KEYS = ("tenant_id", "client_id", "client_secret", "token_endpoint")


def _check_azure(name: str, p: ProviderConfig) -> None:
    """kind azure: an endpoint, one way to authenticate; the azure-only keys nowhere else."""
    key = f"providers.{name}"
    entra = [k for k in _ENTRA_KEYS if getattr(p, k) is not None]
    if p.kind != "azure":
        if entra:
            raise ValueError(f"{key}.{entra[0]}: Entra ID credentials are for kind azure, not {p.kind}")
        if p.deployment_models:
            raise ValueError(
                f"{key}.deployments: the mapping form {{deployment: model}} is for kind azure; kind {p.kind} takes "
                "a list of deployments ({name, endpoint, api_key, weight})"
            )
        return
    if p.endpoint is None:
        raise ValueError(
            f"{key}.endpoint: kind azure needs the resource's endpoint, e.g. https://RESOURCE.openai.azure.com"
        )
    if entra:
        missing = [k for k in ("client_id", "client_secret") if getattr(p, k) is None]
        if p.tenant_id is None and p.token_endpoint is None:
            missing.insert(0, "tenant_id")
        if missing:
            raise ValueError(f"{key}.{missing[0]}: an Entra ID token needs tenant_id, client_id and client_secret")
        if p.api_key is not None and p.api_key.get_secret_value():
            raise ValueError(f"{key}.api_key: give either api_key or Entra ID credentials (tenant_id, ...), not both")


def _check_vertex(name: str, p: ProviderConfig) -> None:
    """A vertex provider's project, location and key file; the keys only on kind vertex."""
    key = f"providers.{name}"
    if p.kind != "vertex":
        used = [k for k in ("project", "location", "credentials_file") if getattr(p, k)]
        raise ValueError(f"{key}.{used[0]}: only for kind vertex (this provider is kind {p.kind})")
    if p.location is not None and not _VERTEX_LOCATION.fullmatch(p.location):
        raise ValueError(f"{key}.location: expected a Vertex AI location such as us-central1 or global")
    if p.project is not None and not _VERTEX_PROJECT.fullmatch(p.project):
        raise ValueError(f"{key}.project: expected a Google Cloud project id such as my-project-123")
    if p.endpoint is None and p.location is None:
        raise ValueError(f"{key}.location: kind vertex needs a location (e.g. us-central1 or global), or an endpoint")
    if p.credentials_file:
        path = Path(p.credentials_file).expanduser()
        if not path.is_file():
            raise ValueError(f"{key}.credentials_file: file not found: {p.credentials_file}")
        p.credentials_file = str(path)


def _check_routing(name: str, p: ProviderConfig, providers: dict[str, ProviderConfig]) -> None:
    """Deployments and fallbacks of provider `name`; errors name the key."""
    key = f"providers.{name}"
    if p.kind == "mock" and (p.deployments or p.fallbacks or p.health_check):
        raise ValueError(f"{key}: a mock provider has no deployments, fallbacks or health_check")
    seen: set[str] = set()
    for i, d in enumerate(p.deployments):
        if d.name in seen:
            raise ValueError(f"{key}.deployments[{i}].name: {d.name!r} is used twice")
        seen.add(d.name)
    if p.deployments and not any(d.weight for d in p.deployments) and p.balance == "weighted":
        raise ValueError(f"{key}.deployments: every weight is 0, so nothing would be sent")
    if p.retry.max_backoff < p.retry.backoff:
        raise ValueError(f"{key}.retry.max_backoff: shorter than retry.backoff")
    family = WIRE_FAMILY.get(p.kind or name, p.kind or name)
    names: set[str] = set()
    for i, f in enumerate(p.fallbacks):
        fb = f if isinstance(f, str) else f.provider
        where = f"{key}.fallbacks[{i}]"
        if fb == name:
            raise ValueError(f"{where}: a provider cannot fall back to itself")
        if fb in names:
            raise ValueError(f"{where}: {fb!r} is listed twice")
        names.add(fb)
        other = providers.get(fb)
        if other is None:
            configured = ", ".join(sorted(providers)) or "(none)"
            raise ValueError(f"{where}: unknown provider {fb!r}; configured providers: {configured}")
        ofam = WIRE_FAMILY.get(other.kind or fb, other.kind or fb)
        if ofam != family or ofam == "mock":
            raise ValueError(
                f"{where}: {fb!r} speaks {other.kind}, not the {p.kind} wire format of {name!r}; "
                "a fallback must speak the same one"
            )


@dataclass
class LoadedConfig:
    config: Config
    path: Path | None  # None: the embedded default
    source: str  # "flag", "env", "cwd", "embedded"

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "embedded default"


class ConfigError(Exception):
    """A config file that cannot be used: says the file, key path, line and why."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        head = f"invalid config {self.file}:"
        return "\n".join([head, *("  " + p for p in self.problems)])


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _ENV.sub(lambda m: env.get(m.group(1)) or (m.group(2) if m.group(2) is not None else ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(text: str) -> float:
    """'30d' -> seconds.  Units: ms, s, m, h, d, w."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"expected a duration such as 30d, 12h, 15m, 90s or 200ms, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.I)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def parse_size(text: str) -> int:
    """'64MiB' -> 67108864.  Units: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (of 1024)."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"expected a size such as 64MiB, 500KB or 1048576, got {text!r}")
    unit = (m.group(2) or "").lower().rstrip("b")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def find_config(explicit: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    if explicit:
        return Path(explicit), "flag"
    env = os.environ.get("LEASH_CONFIG")
    if env:
        return Path(env), "env"
    for rel in CONFIG_SEARCH:
        p = Path.cwd() / rel
        if p.is_file():
            return p, "cwd"
    return None, "embedded"


def load_config(explicit: str | os.PathLike | None = None) -> LoadedConfig:
    path, source = find_config(explicit)
    if path is None:
        cfg = parse_config_text(default_config_path().read_text(), "<embedded default>")
        return LoadedConfig(cfg, None, source)
    if not path.is_file():
        raise ConfigError(str(path), ["file not found"])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read: {e.strerror or e}"]) from None
    return LoadedConfig(parse_config_text(text, str(path)), path.resolve(), source)


def parse_config_text(text: str, filename: str) -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(filename, [f"{where}not valid YAML ({getattr(e, 'problem', None) or e})"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(filename, ["the top level must be a mapping of keys (gateway:, providers:, ...)"])
    data = expand_env(data)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(filename, [_describe(err, node) for err in e.errors()]) from None


def _describe(err: ErrorDetails, node: yaml.Node | None) -> str:
    line = _line_of(node, err["loc"])
    where = f"line {line}: " if line else ""
    dotted = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        parent = _model_at(err["loc"][:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(key, list(parent.model_fields), n=1)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
            else:
                hint = f" (expected one of: {', '.join(parent.model_fields)})"
        return f"{where}{dotted}: unknown key{hint}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    got_text = ""
    if err["type"] not in ("missing",) and not isinstance(got, (dict, list)):
        got_text = f", got {got!r}"
    return f"{where}{dotted}: {msg}{got_text}"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that a location path points into, if any."""
    model: Any = Config
    i = 0
    while i < len(loc):
        part = loc[i]
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = field.annotation
        origin = getattr(ann, "__origin__", None)
        if origin is dict:
            model = ann.__args__[1]
            i += 2
            continue
        if origin is list:
            model = ann.__args__[0]
            i += 2
            continue
        model = ann
        i += 1
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (or of its closest parent)."""
    line = None
    cur = node
    for part in loc:
        if cur is None:
            break
        if isinstance(cur, yaml.MappingNode):
            nxt = None
            for k, v in cur.value:
                if str(k.value) == str(part):
                    line = k.start_mark.line + 1
                    nxt = v
                    break
            cur = nxt
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and part < len(cur.value):
            cur = cur.value[part]
            line = cur.start_mark.line + 1
        else:
            break
    return line


def mask_secrets(data: Any) -> Any:
    """A copy of a config dump with keys and secrets masked, for `leash config show`."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if isinstance(v, str) and _SECRETISH.search(str(k)) and v:
                out[k] = mask(v)
            else:
                out[k] = mask_secrets(v)
        return out
    if isinstance(data, list):
        return [mask_secrets(v) for v in data]
    return data


_SECRETISH = re.compile(r"(api[_-]?key|token|secret|password|authorization|subscription|^key$|cookie|^proxy$)", re.I)


def mask(value: str) -> str:
    if len(value) <= 8:
        return "****"
    return value[:3] + "****" + value[-2:]


def line_for(loaded: LoadedConfig, loc: tuple) -> int | None:
    """The 1-based line of a key path in the loaded config file (None for the embedded default)."""
    try:
        from leash_cli.resources import default_config_path

        text = loaded.path.read_text() if loaded.path else default_config_path().read_text()
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except Exception:
        return None
    return _line_of(node, loc)
