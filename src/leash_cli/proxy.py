"""The local reverse proxy: ``/v1/{provider}/{rest}`` -> the provider's endpoint.

The hot path is plain ASGI (no routing framework per request); Starlette
serves the rest (``/health``, ``/ready``, ``/metrics``) and the lifespan.
The upstream client is leash's own lean HTTP/1.1 client (``upstream.py``), chosen by
measurement over aiohttp and httpx (see the README).

Every request becomes an :class:`~leash_cli.exchange.Exchange` that goes
through the :class:`~leash_cli.pipeline.Pipeline`; this module only speaks
HTTP on both sides of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leash_cli import __version__, mock
from leash_cli.config import Config, LoadedConfig
from leash_cli.errors import error_body, guess_api
from leash_cli.exchange import CREDENTIAL_PARAMS, Exchange, strip_credentials
from leash_cli.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from leash_cli.metrics import Metrics
from leash_cli.pipeline import Pipeline
from leash_cli.providers import HOP_BY_HOP, Provider, RouteError, build_providers, clean_rest, request_model
from leash_cli.providers import client_key, strip_query_params
from leash_cli.sse import SSESplitter
from leash_cli.upstream import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamError,
    UpstreamLimitExceeded,
    UpstreamReset,
    UpstreamTimeout,
)
from leash_cli.keys import PREFIX as KEY_PREFIX

log = logging.getLogger("leash.proxy")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

_JSON_CT = (b"content-type", b"application/json")
_UPSTREAM_ACCEPT_ENCODING = "gzip, deflate"
_LOOPBACK = ("127.", "::1", "localhost")


class _ClientGone(Exception):
    pass


_ID_RANDOM = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy


def new_request_id() -> str:
    """Sortable, unique: 13 hex digits of microseconds since the epoch + 11 random.

    (Not ``os.urandom``: a syscall per request that releases the GIL on the hot path.)"""
    return f"{time.time_ns() // 1000:013x}{_ID_RANDOM.getrandbits(44):011x}"


@dataclass(slots=True)
class GatewayState:
    """Everything a request needs, swapped as one on reload."""

    loaded: LoadedConfig
    providers: dict[str, Provider]
    pipeline: Pipeline
    trust_tenant_header: bool
    require_virtual_key: bool

    @property
    def config(self) -> Config:
        return self.loaded.config


class Gateway:
    """The proxy application.  ``gateway.app`` is the ASGI callable."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        recorder: Any = None,
        pricer: Any = None,
        metrics: Metrics | None = None,
        keyring: Any = None,
        overrides: dict[str, Any] | None = None,
        pipeline_factory: Callable[["Gateway", LoadedConfig], Pipeline] | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.recorder = recorder
        if recorder is not None:
            self.metrics.bind_recorder(recorder)
        self.pricer = pricer
        self.started = time.time()
        self.client: UpstreamClient | None = None
        self.ready = False
        self._pipeline_factory = pipeline_factory or _default_pipeline
        from leash_cli.state import open_state

        self.limits = open_state(loaded.config.state)  # rate limits, quotas, budgets: kept across reloads
        self.keyring = keyring
        self.overrides: dict[str, Any] = dict(overrides or {})
        self.state = self.build_state(loaded)
        self._starlette = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/ready", self.ready_endpoint),
                Route("/metrics", self.metrics_endpoint),
            ],
            lifespan=self._lifespan,
        )

    # -- state ----------------------------------------------------------------
    def build_state(self, loaded: LoadedConfig) -> GatewayState:
        cfg = loaded.config
        if getattr(self, "state", None) is not None and self.pricer is not None:
            from leash_cli.pricing import Pricer

            self.pricer = Pricer(cfg.pricing)  # pricing: overrides apply after a reload
        for key, value in self.overrides.items():  # command-line flags outlive reloads
            setattr(cfg.gateway, key, value)
        loopback = cfg.gateway.host.startswith(_LOOPBACK)
        trust = cfg.gateway.trust_tenant_header
        if trust is None:
            trust = loopback
        require = cfg.gateway.require_virtual_key
        if require is None:
            require = not loopback
        return GatewayState(
            loaded=loaded,
            providers=build_providers(cfg),
            pipeline=self._pipeline_factory(self, loaded),
            trust_tenant_header=trust,
            require_virtual_key=require,
        )

    def swap_state(self, state: GatewayState) -> None:
        """Install a new config; in-flight requests finish on the old one, whose modules
        are closed a little later (a logger's file and thread, for instance)."""
        old, self.state = self.state, state
        if self.recorder is not None and hasattr(self.recorder, "storage"):
            self.recorder.storage = state.config.storage  # storage.bodies and retention apply to new rows
        if old is not state:
            import threading

            timer = threading.Timer(30.0, _close_modules, args=(old.pipeline, state.pipeline))
            timer.daemon = True
            timer.start()

    # -- lifespan ---------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any):
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self) -> None:
        self.client = UpstreamClient()
        if self.recorder is not None and hasattr(self.recorder, "start"):
            self.recorder.start()
        _release_startup_memory()
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        from leash_cli.pipeline import drain_background

        await drain_background(10.0)  # module sinks still settling budgets and writing rows
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.recorder is not None and hasattr(self.recorder, "close"):
            await asyncio.get_running_loop().run_in_executor(None, self.recorder.close)
        with contextlib.suppress(Exception):
            await self.limits.close()

    # -- ASGI ---------------------------------------------------------------------
    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self.handle(scope, receive, send)
        else:
            await self._starlette(scope, receive, send)

    __call__ = app

    # -- the proxy ------------------------------------------------------------------
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        st = self.state
        cfg = st.config
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            val = v.decode("latin-1")
            headers[name] = headers[name] + ", " + val if name in headers else val
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        raw_path = raw_path.split("?", 1)[0]
        _, _, name_rest = raw_path.partition("/v1/")
        pname, _, rest = name_rest.partition("/")
        query = scope.get("query_string", b"").decode("latin-1")
        provider = st.providers.get(pname)
        api = provider.api_for(rest) if provider else guess_api(rest, headers)
        client = scope.get("client")
        ex = Exchange(
            id=new_request_id(),
            provider=pname,
            kind=provider.kind if provider else "unknown",
            api=api,
            method=scope["method"],
            path=rest,
            query=strip_query_params(query, CREDENTIAL_PARAMS) if "key" in query or "token" in query else query,
            request_headers=strip_credentials(headers),
            client=f"{client[0]}:{client[1]}" if client else None,
            t_start=t0,
        )
        if st.trust_tenant_header:
            tenant = headers.get("x-leash-tenant")
            if tenant:
                ex.tenant = tenant[:128]
        self.metrics.in_flight.inc()
        flow = None
        try:
            vkey = client_key(headers, query)
            if vkey is not None and vkey.startswith(KEY_PREFIX):
                vk, why = self.keyring.lookup(vkey) if self.keyring is not None else (None, "leash keys are off")
                if vk is None:
                    return await self._reject(send, ex, 401, "invalid_api_key", why)
                ex.tenant, ex.key_id = vk.tenant, vk.id
                for h in ("authorization", "x-api-key", "x-goog-api-key", "api-key"):
                    headers.pop(h, None)
                query = strip_query_params(query, CREDENTIAL_PARAMS) if query else query
                if provider is not None and provider.kind != "mock" and provider.api_key is None:
                    return await self._reject(
                        send, ex, 403, "no_gateway_key",
                        f"provider {pname!r} holds no api_key on the gateway, so leash keys cannot be used with it")
            elif st.require_virtual_key:
                return await self._reject(send, ex, 401, "virtual_key_required",
                                          "this gateway requires a leash key (lk-...) in place of the provider key; "
                                          "ask its operator for one (`leash keys create`)")
            rec = self.recorder
            if rec is not None and cfg.storage.on_error == "block" and rec.state == "degraded":
                return await self._reject(send, ex, 503, "history_unavailable",
                                          "the gateway cannot write its audit history, so it refuses traffic "
                                          "(storage.on_error: block)")
            if provider is None:
                names = ", ".join(sorted(st.providers)) or "(none)"
                return await self._reject(send, ex, 404, "unknown_provider",
                                          f"unknown provider {pname!r}; configured providers: {names}")
            try:
                clean_rest(rest)
            except RouteError as e:
                return await self._reject(send, ex, e.status, e.code, e.message)
            # -- body ------------------------------------------------------------
            limit = cfg.gateway.max_body_bytes
            declared = headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                return await self._reject(send, ex, 413, "request_too_large",
                                          f"request body of {declared} bytes exceeds the limit of {limit} bytes")
            body = await _read_body(receive, limit)
            if body is None:
                return await self._reject(send, ex, 413, "request_too_large",
                                          f"request body exceeds the limit of {limit} bytes")
            ex.request_body = body
            parsed = None
            if body and _wants_json(headers, body):
                parsed = ex.json()
                if ex.json_error is not None:
                    return await self._reject(send, ex, 400, "invalid_json",
                                              f"request body is not valid JSON: {ex.json_error}")
            ex.model, ex.stream = request_model(api, rest, parsed)
            if not provider.config.stream_usage:
                ex.annotations["leash_no_stream_usage"] = True
            if api == "google" and ex.stream and "alt=sse" not in query:
                ex.stream = False  # a JSON array, delivered as one body
            # -- request stages ----------------------------------------------------
            block = await st.pipeline.request(ex)
            if block is not None:
                ex.outcome = "blocked"
                ex.verdict = "blocked"
                return await self._reject(send, ex, block.status, block.code, block.message, block.headers,
                                          outcome="blocked")
            # -- upstream ------------------------------------------------------------
            flow = st.pipeline.response(ex)
            if provider.kind == "mock":
                await self._answer_mock(scope, receive, send, ex, provider, query, flow)
            else:
                await self._forward(scope, receive, send, ex, provider, headers, query, flow)
        except _ClientGone:
            ex.outcome = "client_cancelled"
            ex.error = ex.error or "client disconnected"
            ex.status = ex.status or 499
        except Exception as e:  # the process keeps serving; the client gets a clean 500
            log.exception("internal error on %s", ex.id)
            ex.error = f"internal error: {type(e).__name__}"
            if ex.status is None:
                with contextlib.suppress(Exception):
                    await self._reject(send, ex, 500, "internal_error", "leash internal error", outcome="error")
            ex.outcome = "error"
        finally:
            self.metrics.in_flight.dec()
            if ex.t_end is None:
                ex.t_end = time.perf_counter()
            st.pipeline.finish(ex, flow)

    async def _reject(
        self,
        send: Send,
        ex: Exchange,
        status: int,
        code: str,
        message: str,
        extra: dict[str, str] | None = None,
        outcome: str = "error",
    ) -> None:
        body = error_body(ex.api, status, message, code)
        ex.status = status
        if ex.outcome == "ok":
            ex.outcome = outcome
        ex.error = ex.error or f"{code}: {message}"
        ex.response_body = body
        headers = [_JSON_CT, (b"content-length", str(len(body)).encode())]
        if extra:
            headers += [(k.lower().encode(), str(v).encode()) for k, v in extra.items()]
        ex.response_headers = {"content-type": "application/json", **(extra or {})}
        await self._send(send, ex, status, headers, body)

    async def _send(self, send: Send, ex: Exchange, status: int, headers: list, body: bytes) -> None:
        now = time.perf_counter()
        up = ex.upstream_seconds or 0.0
        ov = max(now - ex.t_start - up, 0.0)
        _leash_headers(ex, headers, ov)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        ex.t_end = time.perf_counter()

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ex: Exchange,
        provider: Provider,
        headers: dict[str, str],
        query: str,
        flow,
    ) -> None:
        assert self.client is not None, "gateway not started"
        cfg = self.state.config.gateway
        hop = HOP_BY_HOP
        named = headers.get("connection", "keep-alive").lower()
        if named not in ("keep-alive", "close"):  # RFC 9110 7.6.1: headers named in Connection stop here too
            hop = hop | {t.strip() for t in named.split(",")}
        out = {k: v for k, v in headers.items() if k not in hop and not k.startswith("x-leash-")}
        if provider.extra_headers:
            out.update({k.lower(): v for k, v in provider.extra_headers.items()})
        out, query = provider.apply_credentials(out, query)
        out["accept-encoding"] = _UPSTREAM_ACCEPT_ENCODING
        url = provider.upstream_url(ex.path, query)
        ex.t_upstream_start = time.perf_counter()
        guard = _DisconnectGuard(receive, ex)
        try:
            await self._exchange_upstream(send, receive, ex, provider, url, out, cfg, flow, guard)
        except asyncio.CancelledError:
            if not guard.left():
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            ex.t_upstream_end = ex.t_upstream_end or time.perf_counter()
            raise _ClientGone() from None
        finally:
            guard.stop()

    async def _exchange_upstream(self, send, receive, ex, provider, url, out, cfg, flow, guard) -> None:
        assert self.client is not None
        try:
            resp = await self.client.request(ex.method, url, out, ex.request_body or None, options=provider.transport)
        except UpstreamTimeout as e:
            ex.t_upstream_end = time.perf_counter()
            return await self._reject(send, ex, 504, "upstream_timeout",
                                      f"provider {provider.name!r} did not answer in time ({e.reason})",
                                      outcome="upstream_error")
        except UpstreamError as e:
            ex.t_upstream_end = time.perf_counter()
            if isinstance(e, UpstreamReset) and e.sent:  # written, then dropped: not resent (RFC 9110 §9.2.2)
                return await self._reject(send, ex, 502, "upstream_reset",
                                          f"provider {provider.name!r} closed the connection after the request was "
                                          "sent, before answering; not resent, since it may have been processed",
                                          outcome="upstream_error")
            what = "cannot reach" if isinstance(e, UpstreamConnectError) else "lost the connection to"
            return await self._reject(send, ex, 502, "upstream_unreachable",
                                      f"{what} provider {provider.name!r}: {type(e).__name__}",
                                      outcome="upstream_error")
        ex.t_upstream_headers = time.perf_counter()
        try:
            ex.status = resp.status
            ctype = resp.header("content-type") or ""
            rheaders = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers if k not in HOP_BY_HOP]
            ex.response_headers = strip_credentials({k: v for k, v in resp.headers if k not in HOP_BY_HOP})
            if resp.status >= 400:
                ex.outcome = "upstream_error"
            if ctype.startswith("text/event-stream"):
                guard.stop()  # the stream watches for the client itself
                await self._stream(receive, send, ex, rheaders, resp, flow, resp.close)
                return
            try:
                body = await resp.read()
            except UpstreamTimeout as e:
                ex.t_upstream_end = time.perf_counter()
                ex.status = None
                return await self._reject(send, ex, 504, "upstream_timeout",
                                          f"provider {provider.name!r} stopped sending its response ({e.reason})",
                                          outcome="upstream_error")
            except UpstreamLimitExceeded as e:
                ex.t_upstream_end = time.perf_counter()
                ex.status = None
                return await self._reject(send, ex, 502, f"upstream_{e.reason}",
                                          f"provider {provider.name!r}: {e}", outcome="upstream_error")
            except UpstreamError as e:
                ex.t_upstream_end = time.perf_counter()
                ex.status = None
                return await self._reject(send, ex, 502, "upstream_reset",
                                          f"provider {provider.name!r} broke off its response: {type(e).__name__}",
                                          outcome="upstream_error")
            ex.t_upstream_end = time.perf_counter()
            guard.stop()
            await self._send_body(send, ex, resp.status, rheaders, body, flow)
        finally:
            resp.release()

    async def _answer_mock(self, scope, receive, send, ex: Exchange, provider: Provider, query: str, flow) -> None:
        pc = provider.config
        ex.t_upstream_start = time.perf_counter()
        result = mock.respond(ex.api, ex.method, ex.path, query, ex.json(), chunks=pc.chunks,
                              delay_ms=pc.delay_ms, chunk_delay_ms=pc.chunk_delay_ms)
        ex.status = result.status
        if result.status >= 400:
            ex.outcome = "upstream_error"
        headers = [(b"content-type", result.content_type.encode())]
        ex.response_headers = {"content-type": result.content_type}
        if result.events is not None:
            if result.delay:
                await asyncio.sleep(result.delay)
                result.delay = 0
            ex.t_upstream_headers = time.perf_counter()
            await self._stream(receive, send, ex, headers, result.chunks(), flow, None)
            return
        if result.delay:
            await asyncio.sleep(result.delay)
        body = result.body or b""
        ex.t_upstream_headers = ex.t_upstream_end = time.perf_counter()
        await self._send_body(send, ex, result.status, headers, body, flow)

    async def _send_body(self, send: Send, ex: Exchange, status: int, headers: list, body: bytes, flow) -> None:
        """A buffered response: through the response stages, then to the client."""
        body = await flow.body(body)
        if flow.block is not None:
            b = flow.block
            ex.status, ex.outcome = b.status, "blocked"
            headers = [_JSON_CT] + [(k.lower().encode(), str(v).encode()) for k, v in b.headers.items()]
            status = b.status
        ex.response_body = body
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send(send, ex, status, headers, body)

    async def _stream(self, receive, send, ex: Exchange, headers: list, chunks, flow, close) -> None:
        """Pass an SSE stream through event by event, watching for the client leaving."""
        now = time.perf_counter()
        waited = (ex.t_upstream_headers or now) - (ex.t_upstream_start or now)
        ov = max(now - ex.t_start - waited, 0.0)
        _leash_headers(ex, headers, ov)
        await send({"type": "http.response.start", "status": ex.status, "headers": headers})
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone, asyncio.current_task(), ex))
        splitter = SSESplitter()
        sent: list[bytes] = []
        try:
            try:
                async for chunk in chunks:
                    if ex.t_first_token is None:
                        ex.t_first_token = time.perf_counter()
                    # events that arrived together leave together: one write, no added wait
                    outs: list[bytes] = []
                    for raw in splitter.feed(chunk):
                        outs += await flow.event(raw)
                        if flow.stopped:
                            break
                    if outs:
                        sent += outs
                        await send({"type": "http.response.body", "body": b"".join(outs) if len(outs) > 1
                                    else outs[0], "more_body": True})
                    if flow.stopped:
                        ex.outcome = "blocked"
                        ex.error = ex.error or (f"stream stopped by {flow.block.module}" if flow.block else None)
                        break
            except UpstreamError as e:
                if gone.is_set():
                    raise _ClientGone() from None
                ex.outcome = "upstream_error"
                ex.error = f"upstream stream broke off: {type(e).__name__} ({e.reason})"
            except asyncio.CancelledError:
                if not gone.is_set():
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                raise _ClientGone() from None
            if gone.is_set():
                raise _ClientGone()
            rest = splitter.flush() if not flow.stopped else b""
            tail = list(await flow.event(rest)) if rest.strip() else []
            tail += await flow.tail()
            for out in tail:
                sent.append(out)
                await send({"type": "http.response.body", "body": out, "more_body": True})
            ex.t_upstream_end = time.perf_counter()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            if ex.t_upstream_end is None:
                ex.t_upstream_end = time.perf_counter()
            ex.response_body = b"".join(sent)
            if close is not None:
                close()
            elif hasattr(chunks, "aclose"):
                with contextlib.suppress(BaseException):
                    await chunks.aclose()
            ex.t_end = time.perf_counter()

    # -- operational endpoints ---------------------------------------------------------
    def health_payload(self) -> dict:
        st = self.state
        rec = self.recorder
        store = {"state": "disabled"}
        if rec is not None:
            store = {
                "state": getattr(rec, "state", "ok"),
                "path": str(getattr(rec, "path", "")),
                "queue": getattr(rec, "queue_depth", 0),
                "last_error": getattr(rec, "last_error", None),
            }
        status = "ok" if self.ready and store.get("state") in ("ok", "disabled") else "degraded"
        return {
            "status": status,
            "version": __version__,
            "uptime_s": round(time.time() - self.started, 3),
            "config": st.loaded.label,
            "providers": {n: {"kind": p.kind, "endpoint": p.endpoint} for n, p in st.providers.items()},
            "store": store,
        }

    async def health(self, request: Request) -> Response:
        payload = self.health_payload()
        return JSONResponse(payload, status_code=200)

    async def ready_endpoint(self, request: Request) -> Response:
        payload = self.health_payload()
        blocking = self.state.config.storage.on_error == "block" and payload["store"].get("state") == "degraded"
        ok = self.ready and not blocking
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=METRICS_CONTENT_TYPE)


def _close_modules(old: Pipeline, new: Pipeline) -> None:
    """Close the modules of a replaced pipeline that the new one does not reuse."""
    keep = {id(s.module) for s in new.all_slots}
    for slot in old.all_slots:
        close = getattr(slot.module, "close", None)
        if id(slot.module) not in keep and callable(close):
            try:
                close()
            except Exception:
                log.warning("closing module %s after a reload failed", slot.name, exc_info=True)


def _release_startup_memory() -> None:
    """Give the allocator's free pages from imports and config loading back to the OS."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _leash_headers(ex: Exchange, headers: list, overhead: float) -> None:
    extra = ex.annotations.get("response_headers")
    if extra:
        present = {k for k, _ in headers}
        headers += [(k.encode(), str(v).encode()) for k, v in extra.items() if k.encode() not in present]
    headers.append((b"x-leash-request-id", ex.id.encode()))
    headers.append((b"x-leash-overhead-ms", f"{overhead * 1000:.3f}".encode()))


def _default_pipeline(gw: Gateway, loaded: LoadedConfig) -> Pipeline:
    from leash_cli.registry import make_pipeline

    return make_pipeline(loaded, recorder=gw.recorder, metrics=gw.metrics, pricer=gw.pricer, state=gw.limits)


_NOT_JSON = ("multipart/", "application/octet-stream", "audio/", "image/", "video/", "text/plain")


def _wants_json(headers: dict[str, str], body: bytes) -> bool:
    """Provider APIs take JSON bodies, except uploads (files, audio, images)."""
    ct = headers.get("content-type")
    if ct is None:
        return True
    return not ct.lower().startswith(_NOT_JSON)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds `limit`."""
    msg = await receive()
    if msg["type"] == "http.disconnect":
        raise _ClientGone()
    body = msg.get("body", b"")
    if not msg.get("more_body"):
        return body if len(body) <= limit else None
    parts = [body]
    size = len(body)
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not msg.get("more_body"):
            return b"".join(parts)


class _DisconnectGuard:
    """Notice a client that leaves while a slow upstream is still working on a buffered answer.

    No task per request: a timer starts the watcher only once the wait passes
    `after` seconds; then a disconnect cancels the request, which closes the
    upstream connection (the provider stops generating).
    """

    __slots__ = ("receive", "ex", "task", "timer", "watcher", "gone")

    def __init__(self, receive: Receive, ex: Exchange, after: float = 1.0) -> None:
        self.receive = receive
        self.ex = ex
        self.task = asyncio.current_task()
        self.watcher: asyncio.Task | None = None
        self.gone: asyncio.Event | None = None
        self.timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(after, self._start)

    def _start(self) -> None:
        self.timer = None
        self.gone = asyncio.Event()
        self.watcher = asyncio.ensure_future(_watch_disconnect(self.receive, self.gone, self.task, self.ex))

    def left(self) -> bool:
        return self.gone is not None and self.gone.is_set()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None


async def _watch_disconnect(receive: Receive, gone: asyncio.Event, task: asyncio.Task | None, ex: Exchange) -> None:
    """Wait for the client to leave, then cancel the streaming task (unless it is done)."""
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            if ex.t_upstream_end is None:
                gone.set()
                if task is not None:
                    task.cancel()
            return


def json_dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
