"""Envoy's ext_proc messages in, the same :class:`~leash_cli.exchange.Exchange` and
:class:`~leash_cli.pipeline.Pipeline` as the local proxy, ext_proc answers out.

One :class:`StreamHandler` per gRPC stream, i.e. per HTTP request: the response
messages carry no path, so the exchange lives on the stream.

    request headers  -> route (provider from ``:path``), tenant, virtual key, credentials
    request body     -> JSON checks, ``await pipeline.request(ex)``; a Block becomes an
                        ImmediateResponse in the provider's error shape; a changed body
                        becomes a body mutation with ``content-length`` fixed
    response headers -> SSE: switch the response body to STREAMED (``mode_override``)
    response body    -> buffered: ``await flow.body(...)``; streamed: ``flow.event`` per
                        complete SSE event, ``flow.tail()`` at the end
    stream end       -> ``pipeline.finish(ex, flow)`` (usage, cost, metrics, history)

Nothing here does I/O besides the pipeline's own; ``server.py`` speaks gRPC.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from urllib.parse import parse_qsl

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3 import http_status_pb2

from leash_cli.errors import error_body, guess_api
from leash_cli.exchange import CREDENTIAL_PARAMS, Exchange, strip_credentials
from leash_cli.keys import PREFIX as KEY_PREFIX
from leash_cli.pipeline import Block
from leash_cli.providers import HOP_BY_HOP, RouteError, clean_rest, client_key, request_model, strip_query_params
from leash_cli.proxy import _wants_json
from leash_cli.sse import SSESplitter

log = logging.getLogger("leash.extproc")

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_CONTINUE = pb.CommonResponse.CONTINUE
_STREAMED = processing_mode_pb2.ProcessingMode.STREAMED
_NONE = processing_mode_pb2.ProcessingMode.NONE
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
_BLOCK_DETAILS = "leash_block"  # ImmediateResponse.details: how Envoy's logs tell a block from a failure


class _Ids:
    """Request ids in the proxy's format (13 hex digits of µs + 11 random), from a pooled urandom read:
    one ``os.urandom`` call per request costs ~0.1 ms on some VMs."""

    __slots__ = ("_pool", "_i")

    def __init__(self) -> None:
        self._pool = b""
        self._i = 0

    def __call__(self) -> str:
        if self._i + 6 > len(self._pool):
            self._pool, self._i = os.urandom(6 * 4096), 0
        r = self._pool[self._i:self._i + 6]
        self._i += 6
        return f"{time.time_ns() // 1000:013x}{r.hex()[:11]}"


new_request_id = _Ids()


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

    __slots__ = ("host", "ex", "flow", "pipeline", "provider", "headers", "query", "raw_path", "tracked",
                 "done", "splitter", "sent", "streamed", "passthrough", "_finished", "request_overhead",
                 "_t_request_done")

    def __init__(self, host: Any) -> None:
        self.host = host
        self.ex: Exchange | None = None
        self.flow = None
        self.pipeline = None
        self.provider = None
        self.headers: dict[str, str] = {}
        self.query = ""
        self.raw_path = ""
        self.tracked = False  # an exchange to record (a /v1/ request)
        self.done = False  # the response is complete
        self.splitter: SSESplitter | None = None
        self.sent: list[bytes] = []
        self.streamed = False
        self.passthrough = False  # response body not processed (not JSON/SSE, or encoded)
        self._finished = False
        self.request_overhead = 0.0
        self._t_request_done: float | None = None

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
        host = self.host
        st = host.state
        headers = self.headers = headers_of(msg)
        path = headers.get(":path", "/")
        self.raw_path, _, query = path.partition("?")
        self.query = query
        if not self.raw_path.startswith("/v1/"):
            return _headers_continue()  # not ours (Envoy's routes decide); nothing to record
        self.tracked = True
        self.pipeline = st.pipeline
        _, _, name_rest = self.raw_path.partition("/v1/")
        pname, _, rest = name_rest.partition("/")
        provider = self.provider = st.providers.get(pname)
        api = provider.api_for(rest) if provider else guess_api(rest, headers)
        ex = self.ex = Exchange(
            id=new_request_id(),
            provider=pname,
            kind=provider.kind if provider else "unknown",
            api=api,
            method=headers.get(":method", "GET"),
            path=rest,
            query=strip_query_params(query, CREDENTIAL_PARAMS) if "key" in query or "token" in query else query,
            request_headers=strip_credentials({k: v for k, v in headers.items() if not k.startswith(":")}),
            client=_client_address(headers),
            t_start=t0,
        )
        if host.trust_tenant_header:
            tenant = headers.get("x-leash-tenant")
            if tenant:
                ex.tenant = tenant[:128]
        host.metrics.in_flight.inc()
        set_h: dict[str, str] = {}
        remove: list[str] = [k for k in headers if k.startswith("x-leash-")]
        vkey = client_key(headers, query)
        if vkey is not None and vkey.startswith(KEY_PREFIX):
            keyring = host.keyring
            vk, why = keyring.lookup(vkey) if keyring is not None else (None, "leash keys are off")
            if vk is None:
                return self.reject(401, "invalid_api_key", why)
            ex.tenant, ex.key_id = vk.tenant, vk.id
            for h in _CREDENTIAL_HEADERS:
                if h in headers:
                    remove.append(h)
                    headers.pop(h, None)
            query = strip_query_params(query, CREDENTIAL_PARAMS) if query else query
            if provider is not None and provider.kind != "mock" and provider.api_key is None:
                return self.reject(403, "no_gateway_key",
                                   f"provider {pname!r} holds no api_key on the gateway, "
                                   "so leash keys cannot be used with it")
        elif host.require_virtual_key:
            return self.reject(401, "virtual_key_required",
                               "this gateway requires a leash key (lk-...) in place of the provider key")
        rec = host.gateway.recorder
        if rec is not None and st.config.storage.on_error == "block" and rec.state == "degraded":
            return self.reject(503, "history_unavailable", "the gateway cannot write its audit history, so it "
                                                           "refuses traffic (storage.on_error: block)")
        if provider is None:
            names = ", ".join(sorted(st.providers)) or "(none)"
            return self.reject(404, "unknown_provider", f"unknown provider {pname!r}; configured providers: {names}")
        if provider.kind == "mock":
            return self.reject(501, "mock_not_routed", f"provider {pname!r} is a mock; it is not served behind Envoy")
        try:
            clean_rest(rest)
        except RouteError as e:
            return self.reject(e.status, e.code, e.message)
        limit = st.config.gateway.max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return self.reject(413, "request_too_large",
                               f"request body of {declared} bytes exceeds the limit of {limit} bytes")
        # credentials and extra headers toward the provider
        cred = {k: v for k, v in headers.items() if k in _CREDENTIAL_HEADERS}
        if provider.extra_headers:
            set_h.update({k.lower(): v for k, v in provider.extra_headers.items()})
        new_cred, new_query = provider.apply_credentials(dict(cred), query)
        for k in cred:
            if k not in new_cred:
                remove.append(k)
        set_h.update({k: v for k, v in new_cred.items() if cred.get(k) != v})
        if provider.extra_query:
            pairs = parse_qsl(new_query, keep_blank_values=True)
            names = {k for k, _ in pairs}
            extra = [(k, v) for k, v in provider.extra_query.items() if k not in names]
            if extra:
                from urllib.parse import urlencode

                new_query = urlencode(pairs + extra)
        if new_query != self.query:
            set_h[":path"] = self.raw_path + ("?" + new_query if new_query else "")
        remove = [h for h in dict.fromkeys(remove) if h not in set_h]
        self.query = new_query
        if msg.end_of_stream:  # no body: the request stages run now
            block = await self._run_request(b"")
            if block is not None:
                return block
            return pb.ProcessingResponse(request_headers=pb.HeadersResponse(response=pb.CommonResponse(
                header_mutation=mutation(set_h, remove))))
        self.request_overhead += time.perf_counter() - t0
        return pb.ProcessingResponse(request_headers=pb.HeadersResponse(response=pb.CommonResponse(
            header_mutation=mutation(set_h, remove))))

    async def on_request_body(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        if not self.tracked or self.ex is None or self.done:
            return pb.ProcessingResponse(request_body=pb.BodyResponse())
        t0 = time.perf_counter()
        body = msg.body
        limit = self.host.state.config.gateway.max_body_bytes
        if len(body) > limit:
            return self.reject(413, "request_too_large", f"request body exceeds the limit of {limit} bytes")
        block = await self._run_request(body)
        if block is not None:
            return block
        ex = self.ex
        common = pb.CommonResponse()
        if ex.request_body is not body and ex.request_body != body:
            common.body_mutation.body = ex.request_body
            common.header_mutation.CopyFrom(mutation({"content-length": str(len(ex.request_body))}))
        self.request_overhead += time.perf_counter() - t0
        return pb.ProcessingResponse(request_body=pb.BodyResponse(response=common))

    async def _run_request(self, body: bytes) -> pb.ProcessingResponse | None:
        ex = self.ex
        assert ex is not None
        ex.request_body = body
        parsed = None
        if body and _wants_json(self.headers, body):
            parsed = ex.json()
            if ex.json_error is not None:
                return self.reject(400, "invalid_json", f"request body is not valid JSON: {ex.json_error}")
        ex.model, ex.stream = request_model(ex.api, ex.path, parsed)
        if ex.api == "google" and ex.stream and "alt=sse" not in self.query:
            ex.stream = False
        block = await self.pipeline.request(ex)
        if block is not None:
            ex.outcome = "blocked"
            ex.verdict = "blocked"
            return self.reject(block.status, block.code, block.message, block.headers, outcome="blocked", block=block)
        self.flow = self.pipeline.response(ex)
        ex.t_upstream_start = time.perf_counter()
        return None

    def reject(self, status: int, code: str, message: str, extra: dict[str, str] | None = None,
               outcome: str = "error", block: Block | None = None) -> pb.ProcessingResponse:
        """An ImmediateResponse in the provider's error shape; the exchange ends here."""
        ex = self.ex
        assert ex is not None
        body = error_body(ex.api, status, message, code)
        ex.status = status
        if ex.outcome == "ok":
            ex.outcome = outcome
        ex.error = ex.error or f"{code}: {message}"
        ex.response_body = body
        hdrs = {"content-type": "application/json", **{k.lower(): str(v) for k, v in (extra or {}).items()}}
        ex.response_headers = dict(hdrs)
        hdrs.update(self._leash_headers(time.perf_counter() - ex.t_start))
        self.done = True
        ex.t_end = time.perf_counter()
        return pb.ProcessingResponse(immediate_response=pb.ImmediateResponse(
            status=http_status_pb2.HttpStatus(code=status),
            headers=mutation(hdrs),
            body=body,
            details=_BLOCK_DETAILS if block is not None else f"leash_{code}",
        ))

    def _leash_headers(self, overhead: float) -> dict[str, str]:
        ex = self.ex
        assert ex is not None
        out = {str(k).lower(): str(v) for k, v in (ex.annotations.get("response_headers") or {}).items()}
        out["x-leash-request-id"] = ex.id
        out["x-leash-overhead-ms"] = f"{overhead * 1000:.3f}"
        return out

    # -- response ---------------------------------------------------------------
    async def on_response_headers(self, msg: pb.HttpHeaders) -> pb.ProcessingResponse:
        ex = self.ex
        if not self.tracked or ex is None or self.done or self.flow is None:
            return pb.ProcessingResponse(response_headers=pb.HeadersResponse())
        now = time.perf_counter()
        ex.t_upstream_headers = now
        headers = headers_of(msg)
        status = headers.get(":status", "0")
        ex.status = int(status) if status.isdigit() else None
        if (ex.status or 0) >= 400:
            ex.outcome = "upstream_error"
        ex.response_headers = strip_credentials(
            {k: v for k, v in headers.items() if not k.startswith(":") and k not in HOP_BY_HOP})
        ctype = headers.get("content-type", "")
        set_h = self._leash_headers(self.request_overhead)
        resp = pb.ProcessingResponse(response_headers=pb.HeadersResponse(response=pb.CommonResponse(
            header_mutation=mutation(set_h))))
        if msg.end_of_stream:
            ex.t_upstream_end = now
            self.done = True
            return resp
        if ctype.startswith("text/event-stream"):
            self.streamed = True
            self.splitter = SSESplitter()
            resp.mode_override.response_body_mode = _STREAMED
        elif headers.get("content-encoding", "identity") not in ("identity", "") or not _textual(ctype):
            # an encoded or binary body: nothing to read in it; let it pass untouched
            self.passthrough = True
            resp.mode_override.response_body_mode = _NONE
        return resp

    async def on_response_body(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        ex = self.ex
        if not self.tracked or ex is None or self.flow is None or (self.done and not self.streamed):
            return pb.ProcessingResponse(response_body=pb.BodyResponse())
        if self.streamed:
            return await self._on_stream_chunk(msg)
        flow = self.flow
        ex.t_upstream_end = time.perf_counter()
        body = msg.body
        out = await flow.body(body)
        self.done = True
        if flow.block is not None:
            b = flow.block
            ex.outcome = "blocked"
            return self.reject(b.status, b.code, b.message, b.headers, outcome="blocked", block=b)
        ex.response_body = out
        ex.t_end = time.perf_counter()
        if out is body or out == body:
            return pb.ProcessingResponse(response_body=pb.BodyResponse())
        common = pb.CommonResponse(header_mutation=mutation({"content-length": str(len(out))}))
        common.body_mutation.body = out
        return pb.ProcessingResponse(response_body=pb.BodyResponse(response=common))

    async def _on_stream_chunk(self, msg: pb.HttpBody) -> pb.ProcessingResponse:
        ex = self.ex
        flow = self.flow
        assert ex is not None and self.splitter is not None
        chunk = msg.body
        outs: list[bytes] = []
        if chunk and ex.t_first_token is None:
            ex.t_first_token = time.perf_counter()
        if not flow.stopped:
            for raw in self.splitter.feed(chunk):
                outs.extend(await flow.event(raw))
                if flow.stopped:
                    ex.outcome = "blocked"
                    ex.error = ex.error or (f"stream stopped by {flow.block.module}" if flow.block else None)
                    break
        if msg.end_of_stream:
            ex.t_upstream_end = time.perf_counter()
            if not flow.stopped:
                rest = self.splitter.flush()
                if rest.strip():
                    outs.extend(await flow.event(rest))
                outs.extend(await flow.tail())
            self.done = True
        self.sent.extend(outs)
        if msg.end_of_stream:
            ex.t_end = time.perf_counter()
        new = b"".join(outs)
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
        if self._finished or not self.tracked or self.ex is None:
            return
        self._finished = True
        ex = self.ex
        self.host.metrics.in_flight.dec()
        if not self.done:
            if self.flow is None and ex.status is None:
                ex.outcome, ex.error, ex.status = "client_cancelled", error or "request ended before leash answered", 499
            elif ex.outcome in ("ok", "upstream_error"):
                ex.outcome = "client_cancelled"
                ex.error = ex.error or error or "stream ended before the response was complete"
                ex.status = ex.status or 499
        if self.streamed:
            ex.response_body = b"".join(self.sent)
        if ex.t_upstream_start is not None and ex.t_upstream_end is None:
            ex.t_upstream_end = time.perf_counter()
        if ex.t_end is None:
            ex.t_end = time.perf_counter()
        try:
            self.pipeline.finish(ex, self.flow)
        except Exception:  # never let recording break serving
            log.exception("could not record %s", ex.id)


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
