"""Envoy's ext_proc messages in, calls to the gateway core (``leash_cli.core``), ext_proc answers out.

One :class:`StreamHandler` per gRPC stream, i.e. per HTTP request: the response
messages carry no path, so the admission lives on the stream.

    request headers  -> ``core.admit`` (route, tenant, virtual key, body limit; remote clients),
                        then the header mutation toward the provider (credentials, extra headers)
    request body     -> ``core.run_request`` (JSON checks, the request stages); a Rejection
                        becomes an ImmediateResponse in the provider's error shape; a changed
                        body becomes a body mutation with ``content-length`` fixed
    response headers -> ``relay.answered``; SSE: switch the response body to STREAMED (``mode_override``)
    response body    -> ``core.relay``: buffered, ``relay.buffered`` (a block becomes an
                        ImmediateResponse); streamed, ``StreamRelay.feed`` per message and
                        ``StreamRelay.tail`` at the end; a cache hit, ``relay.cached`` at once
    stream end       -> ``core.finish`` (usage, cost, metrics, history)

Nothing here does I/O besides the pipeline's own; ``server.py`` speaks gRPC.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3 import http_status_pb2

from leash_cli.core import rejection as R
from leash_cli.core.admission import CLIENT_KEY_HEADERS, Admission
from leash_cli.core.balance import Deployment, pick
from leash_cli.core.headers import leash_headers, overhead
from leash_cli.core.ids import new_request_id  # noqa: F401 (the old name)
from leash_cli.core.rejection import Rejection, reject, upstream_unavailable
from leash_cli.core.relay import Reply, StreamRelay, answered, buffered, cached
from leash_cli.exchange import Exchange
from leash_cli.extproc.envoy import ROUTE_HEADER, module_host_picks
from leash_cli.upstream import UpstreamError

#: kind bedrock signs each request over its body (SigV4): not possible from Envoy's header phase yet
UNSUPPORTED_HERE = Rejection(
    501,
    "unsupported_provider_kind",
    "kind bedrock signs requests with AWS SigV4 over the body, which the Envoy module host cannot do yet; "
    "use the local gateway (leash up)",
)

log = logging.getLogger("leash.extproc")

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_CONTINUE = pb.CommonResponse.CONTINUE
_STREAMED = processing_mode_pb2.ProcessingMode.STREAMED
_NONE = processing_mode_pb2.ProcessingMode.NONE
_BLOCK_DETAILS = "leash_block"  # ImmediateResponse.details: how Envoy's logs tell a block from a failure


def headers_of(msg: Any) -> dict[str, str]:
    """Envoy's HeaderMap as a dict of lower-case names (repeated headers joined)."""
    out: dict[str, str] = {}
    for h in msg.headers.headers:
        val = h.raw_value.decode("latin-1") if h.raw_value else h.value
        name = h.key.lower()
        out[name] = out[name] + ", " + val if name in out else val
    return out


def header_option(name: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, raw_value=value.encode("latin-1", "replace")),
        append_action=_OVERWRITE,
    )


def mutation(set_headers: dict[str, str] | None = None, remove: list[str] | None = None) -> pb.HeaderMutation:
    return pb.HeaderMutation(
        set_headers=[header_option(k, v) for k, v in (set_headers or {}).items()],
        remove_headers=remove or [],
    )


class StreamHandler:
    """The state of one HTTP request as its ext_proc messages arrive."""

    __slots__ = (
        "host",
        "adm",
        "deployment",
        "raw_path",
        "query",
        "done",
        "relay",
        "streamed",
        "passthrough",
        "_finished",
        "request_overhead",
    )

    def __init__(self, host: Any) -> None:
        self.host = host
        self.adm: Admission | None = None  # set for a /v1/ request (an exchange to record)
        #: the deployment this module host picked (a provider whose deployments have their own keys)
        self.deployment: Deployment | None = None
        self.raw_path = ""
        self.query = ""  # the query toward the provider
        self.done = False  # the response is complete
        self.relay: StreamRelay | None = None  # a streamed answer
        self.streamed = False
        self.passthrough = False  # response body not processed (not JSON/SSE, or encoded)
        self._finished = False
        self.request_overhead = 0.0

    @property
    def ex(self) -> Exchange | None:
        return self.adm.ex if self.adm is not None else None

    @property
    def flow(self) -> Any:
        return self.adm.flow if self.adm is not None else None

    @property
    def tracked(self) -> bool:
        return self.adm is not None

    # -- dispatch ---------------------------------------------------------------
    async def handle(self, req: pb.ProcessingRequest) -> pb.ProcessingResponse:
        which = req.WhichOneof("request")
        if which == "request_headers":
            return await self.on_request_headers(req.request_headers)
        if which == "request_body":
            return await self.on_request_body(req.request_body)
        if which == "response_headers":
            return await self.on_response_headers(req.response_headers)
        if which == "response_body":
            return await self.on_response_body(req.response_body)
        if which == "request_trailers":
            return pb.ProcessingResponse(request_trailers=pb.TrailersResponse())
        if which == "response_trailers":
            return pb.ProcessingResponse(response_trailers=pb.TrailersResponse())
        log.warning("unexpected ext_proc message %r", which)
        return pb.ProcessingResponse()

    # -- request ----------------------------------------------------------------
    async def on_request_headers(self, msg: pb.HttpHeaders) -> pb.ProcessingResponse:
        t0 = time.perf_counter()
        headers = headers_of(msg)
        raw_path, _, client_query = headers.get(":path", "/").partition("?")
        if not raw_path.startswith("/v1/"):
            return _headers_continue()  # not ours (Envoy's routes decide); nothing to record
        method = headers.get(":method", "GET")
        for k in [k for k in headers if k.startswith(":")]:
            del headers[k]
        self.raw_path = raw_path
        sent_keys = [h for h in CLIENT_KEY_HEADERS if h in headers]
        adm = self.adm = self.host.core.admit(
            method, raw_path, client_query, headers, _client_address(headers), t0, remote=True, serve_mock=False
        )
        if adm.rejection is not None:
            return self.reject(adm.rejection)
        provider = adm.provider
        if provider.kind == "bedrock":  # SigV4 covers the body: Envoy sends it after this header phase
            return self.reject(UNSUPPORTED_HERE)
        query = adm.query
        # toward the provider: leash's own headers go, a leash key's stand-in goes, the gateway's key comes
        remove: list[str] = [k for k in headers if k.startswith("x-leash-")]
        if adm.virtual_key:
            remove += sent_keys
        set_h: dict[str, str] = {}
        cred = {k: headers[k] for k in CLIENT_KEY_HEADERS if k in headers}
        if provider.extra_headers:
            set_h.update({k.lower(): v for k, v in provider.extra_headers.items()})
        target = provider
        if provider.config.deployments and module_host_picks(provider):
            d = self._pick(adm, provider.name)
            if d is None:
                return self.reject(upstream_unavailable(provider.name, self._retry_in(adm, provider.name)))
            target = d.target
            set_h[ROUTE_HEADER] = d.name  # Envoy routes to this deployment's cluster (and strips the header)
        new_cred, new_query = target.apply_credentials(dict(cred), query)
        for k in cred:
            if k not in new_cred:
                remove.append(k)
        set_h.update({k: v for k, v in new_cred.items() if cred.get(k) != v})
        if provider.extra_query:
            pairs = parse_qsl(new_query, keep_blank_values=True)
            names = {k for k, _ in pairs}
            extra = [(k, v) for k, v in provider.extra_query.items() if k not in names]
            if extra:
                new_query = urlencode(pairs + extra)
        if new_query != client_query:
            set_h[":path"] = raw_path + ("?" + new_query if new_query else "")
        if adm.trace is not None:  # telemetry: the provider sees the exchange's trace (core/trace.py)
            set_h["traceparent"] = headers["traceparent"]
        auth = provider.auth
        if auth is not None and not getattr(auth, "signs_body", True):
            # a bearer token (vertex) depends on nothing in the request: it is added here, with the head
            remove += [h for h in auth.client_headers if h in headers]
            try:
                await provider.authenticate(method, provider.upstream_url(adm.ex.path, new_query), set_h, None)
            except UpstreamError as e:  # a TokenError: never sent unauthenticated
                return self.reject(R.upstream_unreachable(provider.name, e, connect=True))
        remove = [h for h in dict.fromkeys(remove) if h not in set_h]
        self.query = new_query
        if msg.end_of_stream:  # no body: the request stages run now
            block = await self._run_request(b"")
            if block is not None:
                return block
            return pb.ProcessingResponse(request_headers=self._headers_response(provider, set_h, remove))
        self.request_overhead += time.perf_counter() - t0
        return pb.ProcessingResponse(request_headers=self._headers_response(provider, set_h, remove))

    @staticmethod
    def _headers_response(provider: Any, set_h: dict[str, str], remove: list[str]) -> pb.HeadersResponse:
        # several deployments: Envoy picks the route again after the mutation (the routing header the
        # module host set, or the one a client sent and leash removed)
        return pb.HeadersResponse(
            response=pb.CommonResponse(
                header_mutation=mutation(set_h, remove), clear_route_cache=bool(provider.config.deployments)
            )
        )

    def _pick(self, adm: Admission, name: str) -> Deployment | None:
        """leash's balancer and breakers choose the deployment (taking a half-open trial slot)."""
        route = adm.state.routes.get(name)
        if route is None:
            return None
        now = time.monotonic()
        d = pick(route.deployments, route.balance, now, [])
        if d is None or (d.breaker is not None and not d.breaker.acquire(now)):
            return None
        d.in_flight += 1
        self.deployment = d
        return d

    @staticmethod
    def _retry_in(adm: Admission, name: str) -> float:
        route = adm.state.routes.get(name)
        now = time.monotonic()
        waits = [d.breaker.retry_in(now) for d in (route.deployments if route else []) if d.breaker is not None]
        return min(waits, default=1.0)

    def _settle(self, status: int | None) -> None:
        """The picked deployment's answer goes to its breaker (a 5xx, Envoy's own 503 when it ejected
        the deployment included); no answer: the trial slot is given back."""
        d, self.deployment = self.deployment, None
        if d is None:
            return
        d.in_flight -= 1
        b = d.breaker
        if b is None:
            return
        if status is not None and status >= 500:
            b.failure(time.monotonic())
        elif status is None or status == 429:
            b.release()
        else:
            b.success()

    async def on_request_body(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        if self.adm is None or self.done:
            return pb.ProcessingResponse(request_body=pb.BodyResponse())
        t0 = time.perf_counter()
        body = msg.body
        block = await self._run_request(body)
        if block is not None:
            return block
        ex = self.adm.ex
        common = pb.CommonResponse()
        if ex.request_body is not body and ex.request_body != body:
            common.body_mutation.body = ex.request_body
            common.header_mutation.CopyFrom(mutation({"content-length": str(len(ex.request_body))}))
        self.request_overhead += time.perf_counter() - t0
        return pb.ProcessingResponse(request_body=pb.BodyResponse(response=common))

    async def _run_request(self, body: bytes) -> pb.ProcessingResponse | None:
        adm = self.adm
        assert adm is not None
        rej = await self.host.core.run_request(adm, body)
        if rej is not None:
            return self.reject(rej)
        adm.ex.t_upstream_start = time.perf_counter()
        if adm.ex.cached is not None:  # response-cache: the stored answer, through the response stages
            return await self._answer_cached()
        return None

    async def _answer_cached(self) -> pb.ProcessingResponse:
        adm = self.adm
        assert adm is not None
        ex = adm.ex
        reply = await cached(ex, adm.flow)
        self.done = True
        return self._immediate(reply, "leash_cache_hit")

    def _immediate(self, reply: Reply, details: str) -> pb.ProcessingResponse:
        """A reply the core made, as an ImmediateResponse (Envoy sets its content-length)."""
        ex = self.ex
        assert ex is not None
        hdrs = {k.decode("latin-1"): v.decode("latin-1") for k, v in reply.headers if k != b"content-length"}
        hdrs.update(self._leash_headers(overhead(ex, time.perf_counter())))
        ex.t_end = time.perf_counter()
        return pb.ProcessingResponse(
            immediate_response=pb.ImmediateResponse(
                status=http_status_pb2.HttpStatus(code=reply.status),
                headers=mutation(hdrs),
                body=reply.body,
                details=details,
            )
        )

    def reject(self, rej: Rejection) -> pb.ProcessingResponse:
        """An ImmediateResponse in the provider's error shape; the exchange ends here."""
        adm = self.adm
        assert adm is not None
        ex = adm.ex
        body, hdrs = reject(ex, rej)
        hdrs.update(self._leash_headers(overhead(ex, time.perf_counter())))
        self.done = True
        ex.t_end = time.perf_counter()
        return pb.ProcessingResponse(
            immediate_response=pb.ImmediateResponse(
                status=http_status_pb2.HttpStatus(code=rej.status),
                headers=mutation(hdrs),
                body=body,
                details=_BLOCK_DETAILS if rej.block is not None else f"leash_{rej.code}",
            )
        )

    def fail(self, error: BaseException) -> pb.ProcessingResponse | None:
        """A bug while handling a message: a clean 500 if the client has no answer yet (else None)."""
        if self.adm is None or self.done:
            return None
        self.adm.ex.error = f"internal error: {type(error).__name__}"
        return self.reject(R.INTERNAL_ERROR)

    def _leash_headers(self, seconds: float) -> dict[str, str]:
        assert self.adm is not None
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in leash_headers(self.adm.ex, seconds, [])}

    # -- response ---------------------------------------------------------------
    async def on_response_headers(self, msg: pb.HttpHeaders) -> pb.ProcessingResponse:
        ex = self.ex
        if ex is None or self.done or self.flow is None:
            return pb.ProcessingResponse(response_headers=pb.HeadersResponse())
        now = time.perf_counter()
        ex.t_upstream_headers = now
        headers = headers_of(msg)
        status = headers.get(":status", "0")
        pairs = [(k, v) for k, v in headers.items() if k[:1] != ":"]
        secrets = self.adm.state.secrets if self.adm is not None else None
        masked: dict[str, str] = {}
        if secrets:  # a hostile upstream echoing a configured secret in a header: the client gets it masked
            pairs = secrets.headers(pairs)
            masked = {k: v for k, v in pairs if v != headers[k]}
        answered(ex, int(status) if status.isdigit() else None, pairs)
        if self.deployment is not None:
            self._settle(ex.status)
        ctype = headers.get("content-type", "")
        set_h = {**masked, **self._leash_headers(self.request_overhead)}
        resp = pb.ProcessingResponse(
            response_headers=pb.HeadersResponse(response=pb.CommonResponse(header_mutation=mutation(set_h)))
        )
        if msg.end_of_stream:
            ex.t_upstream_end = now
            self.done = True
            return resp
        if ctype.startswith("text/event-stream"):
            self.streamed = True
            self.relay = StreamRelay(ex, self.flow, secrets)
            resp.mode_override.response_body_mode = _STREAMED
        elif headers.get("content-encoding", "identity") not in ("identity", "") or not _textual(ctype):
            # an encoded or binary body: nothing to read in it; let it pass untouched
            self.passthrough = True
            resp.mode_override.response_body_mode = _NONE
        return resp

    async def on_response_body(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        ex = self.ex
        if ex is None or self.flow is None or (self.done and not self.streamed):
            return pb.ProcessingResponse(response_body=pb.BodyResponse())
        if self.streamed:
            return await self._on_stream_chunk(msg)
        ex.t_upstream_end = time.perf_counter()
        body = msg.body
        secrets = self.adm.state.secrets if self.adm is not None else None
        reply = await buffered(ex, self.flow, ex.status or 200, [], secrets.bytes(body) if secrets else body)
        self.done = True
        if reply.blocked:  # the head went out already: the error replaces the whole answer
            return self._immediate(reply, _BLOCK_DETAILS)
        ex.t_end = time.perf_counter()
        out = reply.body
        if out is body or out == body:
            return pb.ProcessingResponse(response_body=pb.BodyResponse())
        common = pb.CommonResponse(header_mutation=mutation({"content-length": str(len(out))}))
        common.body_mutation.body = out
        return pb.ProcessingResponse(response_body=pb.BodyResponse(response=common))

    async def _on_stream_chunk(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        ex, relay = self.ex, self.relay
        assert ex is not None and relay is not None
        chunk = msg.body
        outs = await relay.feed(chunk)
        if msg.end_of_stream:
            ex.t_upstream_end = time.perf_counter()
            outs += await relay.tail()
            self.done = True
            ex.t_end = time.perf_counter()
        new = b"".join(outs)
        if new:
            self.flow.sent()  # handed to Envoy for the client (the time to first token is taken here)
        if new == chunk:
            return pb.ProcessingResponse(response_body=pb.BodyResponse())
        common = pb.CommonResponse()
        if new:
            common.body_mutation.body = new
        else:
            common.body_mutation.clear_body = True
        return pb.ProcessingResponse(response_body=pb.BodyResponse(response=common))

    # -- the end ----------------------------------------------------------------
    def finish(self, error: str | None = None) -> None:
        """Record the exchange (once), whatever way the stream ended."""
        adm = self.adm
        if self._finished or adm is None:
            return
        self._finished = True
        ex = adm.ex
        self._settle(None)  # a picked deployment that gave no answer (a block, a client that left)
        relay = self.relay
        if not self.done and relay is not None and relay.ended:
            # the client had the answer's last event and left before Envoy passed on the upstream's
            # end of stream (an SDK closes on ``[DONE]``): a complete answer, not a cancelled one
            self.done = True
            ex.t_end = ex.t_end or time.perf_counter()
        if not self.done:
            if adm.flow is None and ex.status is None:
                ex.outcome, ex.error, ex.status = (
                    "client_cancelled",
                    error or "request ended before leash answered",
                    499,
                )
            elif ex.outcome in ("ok", "upstream_error"):
                ex.outcome = "client_cancelled"
                ex.error = ex.error or error or "stream ended before the response was complete"
                ex.status = ex.status or 499
        if relay is not None:
            relay.record()
        if ex.t_upstream_start is not None and ex.t_upstream_end is None:
            ex.t_upstream_end = time.perf_counter()
        self.host.core.finish(adm)  # usage, cost, metrics, history; never raises


def _headers_continue() -> pb.ProcessingResponse:
    return pb.ProcessingResponse(request_headers=pb.HeadersResponse())


def _textual(ctype: str) -> bool:
    c = ctype.lower()
    return not c or "json" in c or c.startswith("text/")


def _client_address(headers: dict[str, str]) -> str | None:
    xff = headers.get("x-envoy-external-address") or headers.get("x-forwarded-for")
    if xff:
        return xff.split(",", 1)[0].strip()[:64]
    return None
