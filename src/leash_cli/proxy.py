"""The local reverse proxy: ``/v1/{provider}/{rest}`` -> the provider's endpoint.

The gateway core (``leash_cli.core``) behind ASGI: this module translates
ASGI to core calls (admission, the pipeline run, rejections, the end of an
exchange) and speaks HTTP on both sides of it.  The hot path is plain ASGI
(no routing framework per request); Starlette serves the rest (``/health``,
``/ready``, ``/metrics``) and the lifespan.  The upstream is reached through
a :class:`~leash_cli.core.transport.Transport`, by default leash's own lean
HTTP/1.1 client (``upstream.py``), chosen by measurement over aiohttp and
httpx (see the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leash_cli import mock
from leash_cli.config import LoadedConfig
from leash_cli.core import rejection as R
from leash_cli.core.admission import Admission
from leash_cli.core.admission import wants_json as _wants_json  # noqa: F401 (the old name)
from leash_cli.core.gateway import GatewayCore, PipelineFactory
from leash_cli.core.headers import leash_headers, overhead
from leash_cli.core.ids import new_request_id  # noqa: F401 (the old name)
from leash_cli.core.live import GatewayState  # noqa: F401 (the old name)
from leash_cli.core.rejection import Rejection, reject
from leash_cli.core.relay import Reply, StreamRelay, answered, buffered, cached
from leash_cli.core.routing import Sent
from leash_cli.core.transport import (
    Transport,
    UpstreamConnectError,
    UpstreamError,
    UpstreamLimitExceeded,
    UpstreamReset,
    UpstreamTimeout,
)
from leash_cli.dialects.eventstream import FrameError
from leash_cli.exchange import Exchange
from leash_cli.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from leash_cli.metrics import Metrics
from leash_cli.providers import HOP_BY_HOP, Provider
from leash_cli.upstream import UpstreamClient

log = logging.getLogger("leash.proxy")

Scope = MutableMapping[str, Any]  # ASGI's, as starlette.types spells them
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON_CT = (b"content-type", b"application/json")
_PROVIDER_HEADER = b"x-leash-provider"  # who answered: the provider (a fallback, perhaps) ...
_DEPLOYMENT_HEADER = b"x-leash-deployment"  # ... and its deployment
_UPSTREAM_ACCEPT_ENCODING = "gzip, deflate"


_ADMIN_PATHS = frozenset({"/health", "/metrics"})


class _ClientGone(Exception):
    pass


async def _not_found(send: Send) -> None:
    body = b'{"error": "not found"}'
    headers = [_JSON_CT, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gateway(GatewayCore):
    """The local proxy: the gateway core behind ASGI.  ``gateway.app`` is the ASGI callable."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        recorder: Any = None,
        pricer: Any = None,
        metrics: Metrics | None = None,
        keyring: Any = None,
        overrides: dict[str, Any] | None = None,
        pipeline_factory: PipelineFactory | None = None,
        transport_factory: Callable[[], Transport] = UpstreamClient,
    ) -> None:
        super().__init__(
            loaded,
            recorder=recorder,
            pricer=pricer,
            metrics=metrics,
            keyring=keyring,
            overrides=overrides,
            pipeline_factory=pipeline_factory,
        )
        self.client: Transport | None = None
        self._transport_factory = transport_factory
        self.admin_port: int | None = None  # the bound gateway.admin_port: /health and /metrics only there
        self._starlette = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/ready", self.ready_endpoint),
                Route("/metrics", self.metrics_endpoint),
            ],
            lifespan=self._lifespan,
        )

    # -- lifespan ---------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any):
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self) -> None:
        self.client = self._transport_factory()
        self.metrics.bind_upstream(getattr(self.client, "stats", None))
        await self.start()
        await self.start_health_checks(self.client)  # deployments with a health_check (none by default)
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        client, self.client = self.client, None
        try:
            await self.stop(10.0)  # module sinks still settling budgets and writing rows; the history drained
        finally:
            if client is not None:
                await client.close()

    # -- ASGI ---------------------------------------------------------------------
    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            admin = self.admin_port
            if admin is not None:
                server = scope.get("server")
                on_admin = server is not None and server[1] == admin
                if on_admin != (scope["path"] in _ADMIN_PATHS) and scope["path"] != "/ready":
                    return await _not_found(send)  # admin endpoints only on the admin port, and only they
            if scope["path"].startswith("/v1/"):
                return await self.handle(scope, receive, send)
        await self._starlette(scope, receive, send)

    __call__ = app

    # -- the proxy ------------------------------------------------------------------
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        headers: dict[str, str] = {}
        head_size = 0
        for k, v in scope["headers"]:
            head_size += len(k) + len(v) + 4
            name = k.decode("latin-1").lower()
            val = v.decode("latin-1")
            headers[name] = headers[name] + ", " + val if name in headers else val
        head_limit = self.state.config.gateway.max_header_bytes
        if head_size > head_limit:  # (recorded without them: a huge head must not reach the history)
            headers = {k: v for k, v in headers.items() if len(v) <= 1024}
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        client = scope.get("client")
        adm = self.admit(
            scope["method"],
            raw_path.split("?", 1)[0],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            f"{client[0]}:{client[1]}" if client else None,
            t0,
        )
        ex = adm.ex
        try:
            rej = adm.rejection
            if head_size > head_limit:
                rej = R.headers_too_large(head_size, head_limit)
            if rej is None:
                body = await _read_body(receive, adm.state.config.gateway.max_body_bytes)
                if body is None:
                    rej = R.too_large(adm.state.config.gateway.max_body_bytes)
                else:
                    rej = await self.run_request(adm, body)
            if rej is not None:
                return await self._reject(send, ex, rej)
            provider = adm.provider
            assert provider is not None  # admitted
            if ex.cached is not None:  # response-cache: a stored answer, through the response stages
                await self._answer_cached(send, adm)
            elif provider.kind == "mock":
                await self._answer_mock(receive, send, adm, provider)
            else:
                await self._forward(receive, send, adm, provider)
        except _ClientGone:
            ex.outcome = "client_cancelled"
            ex.error = ex.error or "client disconnected"
            ex.status = ex.status or 499
        except Exception as e:  # the process keeps serving; the client gets a clean 500
            log.exception("internal error on %s", ex.id)
            ex.error = f"internal error: {type(e).__name__}"
            if ex.status is None:
                with contextlib.suppress(Exception):
                    await self._reject(send, ex, R.INTERNAL_ERROR)
            ex.outcome = "error"
        finally:
            self.finish(adm)

    async def _reject(self, send: Send, ex: Exchange, rej: Rejection) -> None:
        body, extra = reject(ex, rej)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send(send, ex, rej.status, headers, body)

    async def _upstream_failed(self, send: Send, ex: Exchange, rej: Rejection) -> None:
        """A failed upstream call: the cause in the error body, the record and the log."""
        log.warning("%s %s/%s: %s", ex.id, ex.provider, ex.path, rej.message)
        await self._reject(send, ex, rej)

    async def _send(self, send: Send, ex: Exchange, status: int, headers: list, body: bytes) -> None:
        leash_headers(ex, overhead(ex, time.perf_counter()), headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        ex.t_end = time.perf_counter()

    async def _forward(self, receive: Receive, send: Send, adm: Admission, provider: Provider) -> None:
        client = self.client
        assert client is not None, "gateway not started"
        ex = adm.ex
        headers = adm.headers
        flow = adm.flow
        hop = HOP_BY_HOP
        named = headers.get("connection", "keep-alive").lower()
        if named not in ("keep-alive", "close"):  # RFC 9110 7.6.1: headers named in Connection stop here too
            hop = hop | {t.strip() for t in named.split(",")}
        out = {k: v for k, v in headers.items() if k not in hop and not k.startswith("x-leash-")}
        route = adm.state.routes.get(provider.name)
        dep = route.single if route is not None else None
        sent: Sent | None = None
        ex.t_upstream_start = time.perf_counter()
        guard = _DisconnectGuard(receive, ex)
        try:
            try:
                if dep is not None:  # one deployment, nothing to decide: the fast path
                    target = dep.target
                    if target.extra_headers:
                        out.update({k.lower(): v for k, v in target.extra_headers.items()})
                    out, query = target.apply_credentials(out, adm.query)
                    out["accept-encoding"] = _UPSTREAM_ACCEPT_ENCODING
                    dep.attempts += 1
                    url = target.upstream_url(ex.path, query)
                    if target.auth is not None:
                        await target.auth.apply(ex.method, url, out, ex.request_body or None)
                    resp = await client.request(ex.method, url, out, ex.request_body or None, options=target.transport)
                    if resp.status == 401 and target.auth is not None:
                        target.refused()
                else:
                    assert route is not None
                    out["accept-encoding"] = _UPSTREAM_ACCEPT_ENCODING
                    sent = await route.send(
                        client,
                        ex.method,
                        ex.path,
                        adm.query,
                        out,
                        ex.request_body or None,
                        deadline=_client_deadline(headers, ex.t_start),
                        trace=adm.trace,
                    )
                    if sent.answer is None or sent.deployment is None:
                        ex.t_upstream_end = time.perf_counter()
                        return await self._upstream_failed(
                            send, ex, R.upstream_unavailable(provider.name, sent.unavailable or 1.0)
                        )
                    resp, dep = sent.answer, sent.deployment
                    ex.response_headers = {"x-leash-provider": dep.provider, "x-leash-deployment": dep.name}
            except UpstreamTimeout as e:
                ex.t_upstream_end = time.perf_counter()
                return await self._upstream_failed(send, ex, R.upstream_timeout(provider.name, e))
            except UpstreamError as e:
                ex.t_upstream_end = time.perf_counter()
                if isinstance(e, UpstreamReset) and e.sent:  # written, then dropped: never resent silently
                    return await self._upstream_failed(send, ex, R.upstream_not_resent(provider.name))
                return await self._upstream_failed(
                    send, ex, R.upstream_unreachable(provider.name, e, isinstance(e, UpstreamConnectError))
                )
            ex.t_upstream_headers = time.perf_counter()
            try:
                ctype = resp.header("content-type") or ""
                secrets = adm.state.secrets
                upstream_headers = secrets.headers(resp.headers) if secrets else resp.headers
                rheaders = [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in upstream_headers
                    if k not in HOP_BY_HOP and not k.startswith("x-leash-")
                ]
                if sent is not None or dep.announce:  # a provider with deployments, retries or fallbacks
                    wire = dep.wire_name
                    rheaders.append((_PROVIDER_HEADER, wire[0]))
                    rheaders.append((_DEPLOYMENT_HEADER, wire[1]))
                routed = ex.response_headers
                answered(ex, resp.status, upstream_headers)
                if sent is not None and routed:  # who answered, in the record too
                    ex.response_headers.update(routed)
                if ctype.startswith(ex.dialect.stream_types):
                    guard.stop()  # the stream watches for the client itself
                    await self._stream(receive, send, ex, rheaders, resp, flow, resp.close, secrets)
                    return
                try:
                    body = await resp.read()
                except UpstreamTimeout as e:
                    ex.t_upstream_end = time.perf_counter()
                    ex.status = None
                    return await self._upstream_failed(send, ex, R.upstream_timeout(provider.name, e, started=True))
                except UpstreamLimitExceeded as e:
                    ex.t_upstream_end = time.perf_counter()
                    ex.status = None
                    return await self._upstream_failed(send, ex, R.upstream_too_large(provider.name, e))
                except UpstreamError as e:
                    ex.t_upstream_end = time.perf_counter()
                    ex.status = None
                    return await self._upstream_failed(send, ex, R.upstream_reset(provider.name, e))
                ex.t_upstream_end = time.perf_counter()
                guard.stop()
                if secrets:
                    body = secrets.bytes(body)
                await self._reply(send, ex, await buffered(ex, flow, resp.status, rheaders, body))
            finally:
                resp.release()
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
            if sent is not None:
                sent.done()

    async def _answer_mock(self, receive: Receive, send: Send, adm: Admission, provider: Provider) -> None:
        ex = adm.ex
        flow = adm.flow
        pc = provider.config
        ex.t_upstream_start = time.perf_counter()
        result = mock.respond(
            ex.api,
            ex.method,
            ex.path,
            adm.query,
            ex.json(),
            chunks=pc.chunks,
            delay_ms=pc.delay_ms,
            chunk_delay_ms=pc.chunk_delay_ms,
        )
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
        await self._reply(send, ex, await buffered(ex, flow, result.status, headers, body))

    async def _answer_cached(self, send: Send, adm: Admission) -> None:
        await self._reply(send, adm.ex, await cached(adm.ex, adm.flow))

    async def _reply(self, send: Send, ex: Exchange, reply: Reply) -> None:
        """A reply the core made (a buffered answer, a cache hit), with leash's headers."""
        if not reply.stream:
            return await self._send(send, ex, reply.status, reply.headers, reply.body)
        headers = leash_headers(ex, overhead(ex, time.perf_counter()), reply.headers)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.body:
            await send({"type": "http.response.body", "body": reply.body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        ex.t_end = time.perf_counter()

    async def _stream(self, receive, send, ex: Exchange, headers: list, chunks, flow, close, secrets=None) -> None:
        """Pass a stream through event by event (``core.relay.StreamRelay``), watching for the client leaving."""
        now = time.perf_counter()
        leash_headers(ex, overhead(ex, now, (ex.t_upstream_headers or now) - (ex.t_upstream_start or now)), headers)
        await send({"type": "http.response.start", "status": ex.status, "headers": headers})
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone, asyncio.current_task(), ex))
        relay = StreamRelay(ex, flow, secrets)
        try:
            try:
                async for chunk in chunks:
                    outs = await relay.feed(chunk)
                    if outs:  # events that arrived together leave together: one write, no added wait
                        await send(
                            {
                                "type": "http.response.body",
                                "body": b"".join(outs) if len(outs) > 1 else outs[0],
                                "more_body": True,
                            }
                        )
                        flow.sent()  # (the time to first token is when the client got it)
                    if flow.stopped:
                        break
            except UpstreamError as e:
                if not gone.is_set():
                    relay.broken(e)
            except FrameError as e:
                relay.malformed(e)
            except asyncio.CancelledError:
                if not gone.is_set():
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
            if gone.is_set():
                if relay.ended:  # it had the answer's last event and left before the upstream closed
                    return
                raise _ClientGone()
            for out in await relay.tail():
                await send({"type": "http.response.body", "body": out, "more_body": True})
                flow.sent()
            ex.t_upstream_end = time.perf_counter()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            if ex.t_upstream_end is None:
                ex.t_upstream_end = time.perf_counter()
            relay.record()
            if close is not None:
                close()
            elif hasattr(chunks, "aclose"):
                with contextlib.suppress(BaseException):
                    await chunks.aclose()
            ex.t_end = time.perf_counter()

    # -- operational endpoints ---------------------------------------------------------
    def _admin_denied(self, request: Request) -> Response | None:
        """401 unless the request carries ``gateway.admin_key`` (when one is set)."""
        key = self.state.config.gateway.admin_key
        if not key:
            return None
        given = request.headers.get("x-leash-admin-key") or ""
        auth = request.headers.get("authorization") or ""
        if not given and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if given and hmac.compare_digest(given.encode(), key.encode()):
            return None
        return JSONResponse({"error": "this endpoint needs gateway.admin_key"}, status_code=401)

    async def health(self, request: Request) -> Response:
        denied = self._admin_denied(request)
        if denied is not None:
            return denied
        payload = self.health_payload()
        return JSONResponse(payload, status_code=200)

    async def ready_endpoint(self, request: Request) -> Response:
        """503 while not serving or degraded (the history cannot be written, or lags past
        storage.max_lag); /health stays 200 and says why."""
        payload = self.health_payload()
        ok = self.ready and payload["status"] == "ok"
        body: dict[str, Any] = {"ready": ok}
        if not ok and self.ready:
            body["status"] = payload["status"]
            body["reason"] = payload["store"].get("last_error")
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_endpoint(self, request: Request) -> Response:
        denied = self._admin_denied(request)
        if denied is not None:
            return denied
        return Response(self.metrics.render(), media_type=METRICS_CONTENT_TYPE)


def _client_deadline(headers: dict[str, str], t_start: float) -> float | None:
    """The client's own timeout as its SDK declares it (``x-stainless-timeout`` / ``x-stainless-read-timeout``,
    seconds), as a ``time.monotonic()`` deadline; None when it does not say."""
    raw = headers.get("x-stainless-timeout") or headers.get("x-stainless-read-timeout")
    if not raw:
        return None
    try:
        secs = float(raw)
    except ValueError:
        return None
    if not 0 < secs < 1e7:
        return None
    return time.monotonic() + secs - (time.perf_counter() - t_start)


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
