"""Admission: from a request's method, path, query, headers and client to an exchange the pipeline may run.

Two steps, because a request's headers and its body arrive apart (ASGI reads
the body; Envoy sends it in a message of its own):

    admit(core, method, raw_path, query, headers, client, t0)  -> Admission
        route (provider from ``/v1/{provider}/{rest}``), the exchange (credentials
        stripped), tenant (``x-leash-tenant`` when trusted), virtual key, the
        ``storage.on_error: block`` rule, unknown provider, path checks,
        a declared body over ``gateway.max_body_bytes``
    admit_body(adm, body)  -> Rejection | None
        body limit, JSON parse, model and stream (the dialect reads them)

Either step may give a :class:`~leash_cli.core.rejection.Rejection`; the
exchange exists from the first step on, so a rejected request is recorded
like any other.  Nothing here knows HTTP frameworks.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from leash_cli.core import rejection as R
from leash_cli.core.ids import new_request_id
from leash_cli.core.live import GatewayState, LiveConfig
from leash_cli.core.rejection import Rejection
from leash_cli.core.trace import Trace
from leash_cli.errors import guess_api
from leash_cli.exchange import CREDENTIAL_PARAMS, Exchange, strip_credentials
from leash_cli.keys import PREFIX as KEY_PREFIX
from leash_cli.metrics import Metrics
from leash_cli.providers import Provider, RouteError, client_key, strip_query_params


class Host(Protocol):
    """What admission reads of the gateway core (``GatewayCore`` is one)."""

    live: LiveConfig
    metrics: Metrics
    keyring: Any  # a KeyRing, or None when leash keys are off
    recorder: Any  # the history recorder, or None when nothing is recorded
    telemetry: Any  # a leash_cli.telemetry.Telemetry, or None when traces are off


#: Where clients put a provider key (and so a leash key): removed once a leash key stands in for it.
CLIENT_KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")

log = logging.getLogger("leash.core")

_NOT_JSON = ("multipart/", "application/octet-stream", "audio/", "image/", "video/", "text/plain")


class Admission:
    """One request on its way through the core: its exchange, its config generation, where it goes."""

    __slots__ = ("ex", "state", "provider", "headers", "query", "flow", "rejection", "virtual_key", "trace")

    def __init__(
        self, ex: Exchange, state: GatewayState, provider: Provider | None, headers: dict[str, str], query: str
    ) -> None:
        self.ex = ex
        self.state = state  # the generation this exchange runs on, to its end
        self.provider = provider
        self.headers = headers  # the client's headers; a leash key's credential headers removed
        self.query = query  # the client's query; a leash key's credential parameters removed
        self.flow: Any = None  # the pipeline's ResponseFlow, once the request stages passed
        self.rejection: Rejection | None = None
        self.virtual_key = False  # a leash key stood in for the provider key
        self.trace: Trace | None = None  # the exchange's trace context, when telemetry is on


def admit(
    core: Host,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    client: str | None,
    t0: float,
    *,
    remote: bool = False,
    serve_mock: bool = True,
) -> Admission:
    """Admit a request by its head.  `headers`: lower-case names (no HTTP/2 pseudo-headers), repeated ones joined.

    `remote`: the clients are not on this host (behind Envoy): the tenant header is trusted and
    leash keys are optional only when the config says so.  The result's ``rejection`` says whether
    to answer at once; either way the adapter ends with ``core.finish(adm)``."""
    st = core.live.state
    _, _, name_rest = raw_path.partition("/v1/")
    pname, _, rest = name_rest.partition("/")
    provider = st.providers.get(pname)
    api = provider.api_for(rest) if provider else guess_api(rest, headers)
    ex = Exchange(
        id=new_request_id(),
        provider=pname,
        kind=provider.kind if provider else "unknown",
        api=api,
        method=method,
        path=rest,
        query=strip_query_params(query, CREDENTIAL_PARAMS) if "key" in query or "token" in query else query,
        request_headers=strip_credentials(headers),
        client=client,
        t_start=t0,
    )
    adm = Admission(ex, st, provider, headers, query)
    telemetry = core.telemetry
    if telemetry is not None:  # the caller's traceparent read, ours set for the upstream
        adm.trace = telemetry.begin(headers)
    if st.remote_trust_tenant_header if remote else st.trust_tenant_header:
        tenant = headers.get("x-leash-tenant")
        if tenant:
            ex.tenant = tenant[:128]
    st.active += 1  # the exchange now runs on this generation (``core.finish`` leaves it)
    core.metrics.in_flight.inc()
    try:
        adm.rejection = _check_head(core, adm, st, provider, pname, rest, remote, serve_mock)
    except Exception as e:  # a bug (or a broken key store) answers a clean 500; the exchange is still recorded
        log.exception("internal error on %s", ex.id)
        ex.error = f"internal error: {type(e).__name__}"
        adm.rejection = R.INTERNAL_ERROR
    return adm


def _check_head(
    core: Host,
    adm: Admission,
    st: GatewayState,
    provider: Provider | None,
    pname: str,
    rest: str,
    remote: bool,
    serve_mock: bool,
) -> Rejection | None:
    ex = adm.ex
    headers = adm.headers
    query = adm.query
    vkey = client_key(headers, query)
    if vkey is not None and vkey.startswith(KEY_PREFIX):
        keyring = core.keyring
        vk, why = keyring.lookup(vkey) if keyring is not None else (None, "leash keys are off")
        if vk is None:
            return R.invalid_api_key(why)
        ex.tenant, ex.key_id = vk.tenant, vk.id
        adm.virtual_key = True
        for h in CLIENT_KEY_HEADERS:
            headers.pop(h, None)
        if query:
            adm.query = strip_query_params(query, CREDENTIAL_PARAMS)
        if provider is not None and provider.kind != "mock" and not provider.holds_credentials:
            return R.no_gateway_key(pname)
    elif st.remote_require_virtual_key if remote else st.require_virtual_key:
        return R.VIRTUAL_KEY_REQUIRED
    rec = core.recorder
    if rec is not None and st.config.storage.on_error == "block" and rec.state == "degraded":
        return R.HISTORY_UNAVAILABLE
    if provider is None:
        return R.unknown_provider(pname, list(st.providers))
    if provider.kind == "mock" and not serve_mock:
        return R.mock_not_routed(pname)
    try:
        provider.check_path(rest)
    except RouteError as e:
        return Rejection(e.status, e.code, e.message, api=e.api)
    limit = st.config.gateway.max_body_bytes
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return R.too_large(limit, declared)
    return None


def admit_body(adm: Admission, body: bytes) -> Rejection | None:
    """Take the request body: its size, JSON, model and stream flag."""
    ex = adm.ex
    provider = adm.provider
    assert provider is not None, "admit_body after a rejected head"
    limit = adm.state.config.gateway.max_body_bytes
    if len(body) > limit:
        return R.too_large(limit)
    ex.request_body = body
    parsed = None
    if body and wants_json(adm.headers):
        parsed = ex.json()
        if ex.json_error is not None:
            return R.invalid_json(ex.json_error)
    # with the query, `stream` means an SSE answer (a Gemini stream without alt=sse is one JSON array)
    ex.model, ex.stream = ex.dialect.request_model(ex.path, parsed, adm.query)
    served = provider.config.deployment_models  # azure: the model a named deployment serves
    if served and ex.model in served:
        ex.annotations["azure_deployment"] = ex.model
        ex.model = served[ex.model]
    if not provider.config.stream_usage:
        ex.annotations["leash_no_stream_usage"] = True
    return None


def wants_json(headers: dict[str, str], body: bytes | None = None) -> bool:
    """Provider APIs take JSON bodies, except uploads (files, audio, images)."""
    ct = headers.get("content-type")
    if ct is None:
        return True
    return not ct.lower().startswith(_NOT_JSON)
