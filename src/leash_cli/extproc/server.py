"""The ext_proc module host: a ``grpc.aio`` ExternalProcessor over the gateway's pipeline.

    serve_ext_proc(loaded, host, port, metrics_port, db_path)   # `leash ext-proc`

Beside the gRPC port (ExternalProcessor + ``grpc.health.v1.Health``) a plain
HTTP port answers ``/metrics`` (Prometheus), ``/health`` and ``/ready``.
SIGTERM/SIGINT: health goes NOT_SERVING, no new streams are accepted, open
streams get ``grace`` seconds to finish, then the history queue is drained.
SIGHUP reloads the config.  :class:`ExtProcThread` runs one on free ports in
a background thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import grpc
import orjson
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from leash_cli.core.gateway import GatewayCore, gateway_parts, reload_config
from leash_cli.extproc.adapter import StreamHandler
from leash_cli.extproc.health import NOT_SERVING, Health
from leash_cli.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger("leash.extproc")

#: Largest gRPC message either way: a buffered body of up to this size fits in one message.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

GRPC_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.so_reuseport", 0),
)


class ExtProcHost:
    """What every stream needs: the gateway core (current config, metrics, keys, recording)."""

    def __init__(self, gateway: GatewayCore) -> None:
        self.core = self.gateway = gateway
        self.active = 0


class Processor(pb_grpc.ExternalProcessorServicer):
    def __init__(self, host: ExtProcHost) -> None:
        self.host = host

    async def Process(self, request_iterator, context):
        handler = StreamHandler(self.host)
        self.host.active += 1
        try:
            async for req in request_iterator:
                try:
                    resp = await handler.handle(req)
                except Exception as e:  # a bug must not leak: the client gets a clean 500
                    log.exception("internal error in ext_proc stream")
                    failed = handler.fail(e)
                    if failed is None:
                        raise
                    resp = failed
                yield resp
        finally:
            handler.finish("ext_proc stream closed early")
            self.host.active -= 1


class ExtProcServer:
    """The gRPC server, the health service and the metrics port of one module host."""

    def __init__(
        self,
        gateway: GatewayCore,
        host: str = "127.0.0.1",
        port: int = 50051,
        metrics_port: int | None = 9464,
        *,
        grace: float = 30.0,
    ) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.metrics_port = metrics_port
        self.grace = grace
        self.ext = ExtProcHost(gateway)
        self.health: Health | None = None
        self.server: grpc.aio.Server | None = None
        self.http: asyncio.AbstractServer | None = None
        self.bound_port: int | None = None
        self.bound_metrics_port: int | None = None
        self._stopped: asyncio.Event | None = None  # created on the loop in start()

    async def start(self) -> None:
        self._stopped = asyncio.Event()
        self.health = Health()
        server = self.server = grpc.aio.server(options=GRPC_OPTIONS)
        pb_grpc.add_ExternalProcessorServicer_to_server(Processor(self.ext), server)
        server.add_generic_rpc_handlers((self.health.handler(),))
        self.bound_port = server.add_insecure_port(f"{_grpc_host(self.host)}:{self.port}")
        if not self.bound_port:
            raise OSError(f"cannot bind the ext_proc port {self.host}:{self.port}")
        await self.gateway.start()  # the recorder's writer; reloads close old modules on this loop
        await server.start()
        if self.metrics_port is not None:
            self.http = await asyncio.start_server(self._http, self.host, self.metrics_port)
            self.bound_metrics_port = self.http.sockets[0].getsockname()[1]
        self.gateway.ready = True
        log.info("ext_proc listening on %s:%s (metrics on %s)", self.host, self.bound_port, self.bound_metrics_port)

    async def stop(self) -> None:
        """Stop accepting, let open streams finish, drain the history."""
        if self.server is None:
            return
        self.gateway.ready = False
        if self.health is not None:
            self.health.set(NOT_SERVING)
        await self.server.stop(self.grace)
        if self.http is not None:
            self.http.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.http.wait_closed(), 2)
        await self.gateway.stop(self.grace)  # module sinks, the history queue, the limits
        self.server = None
        if self._stopped is not None:
            self._stopped.set()

    # -- the metrics port: a few fixed GET endpoints ------------------------------
    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                parts = line.split(" ")
                path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
                try:
                    status, ctype, body = self._route(path)
                except Exception:
                    log.exception("metrics port: %s failed", path)
                    status, ctype, body = "500 Internal Server Error", "application/json", b'{"error":"internal"}'
                keep = b"connection: close" not in head.lower()
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n"
                    f"connection: {'keep-alive' if keep else 'close'}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if not keep:
                    break
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[str, str, bytes]:
        gw = self.gateway
        if path == "/metrics":
            return "200 OK", METRICS_CONTENT_TYPE, gw.metrics.render()
        if path == "/health":
            payload = gw.health_payload()
            payload["ext_proc"] = {"port": self.bound_port, "active_streams": self.ext.active}
            return "200 OK", "application/json", orjson.dumps(payload)
        if path == "/ready":
            ok = bool(gw.ready)
            return ("200 OK" if ok else "503 Service Unavailable"), "application/json", orjson.dumps({"ready": ok})
        return "404 Not Found", "application/json", b'{"error":"not found"}'

    async def wait_stopped(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_host(loaded: Any, db_path: str | Path | None = None, *, record: bool = True) -> GatewayCore:
    """The gateway core (pipeline, providers, keys, recorder, shared state) for a config."""
    _refuse_token_auth(loaded.config)
    return GatewayCore(loaded, **gateway_parts(loaded, db_path=db_path, record=record))


def _refuse_token_auth(cfg: Any) -> None:
    """azure: an Entra ID token is fetched and applied per try by the gateway (``leash up``); the
    ext_proc host only mutates headers Envoy then sends, so it refuses such a provider up front."""
    from leash_cli.config import ConfigError

    bad = [n for n, pc in cfg.providers.items() if pc.kind == "azure" and pc.client_id is not None]
    if bad:
        raise ConfigError(
            "config",
            [
                f"providers.{bad[0]}: Entra ID tokens (tenant_id, client_id, client_secret) are applied by "
                "`leash up`; behind Envoy (`leash ext-proc`) give the azure provider an api_key"
            ],
        )


def serve_ext_proc(
    loaded: Any,
    host: str = "127.0.0.1",
    port: int = 50051,
    metrics_port: int | None = 9464,
    db_path: str | Path | None = None,
    *,
    record: bool = True,
    config_path: str | Path | None = None,
    grace: float = 30.0,
    on_ready: Any = None,
) -> None:
    """Serve until SIGTERM/SIGINT (graceful), reloading the config on SIGHUP."""
    gateway = build_host(loaded, db_path, record=record)
    srv = ExtProcServer(gateway, host, port, metrics_port, grace=grace)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await srv.start()
        stopping: list[asyncio.Task] = []

        def _stop() -> None:
            if not stopping:
                log.info("stopping: finishing open streams (up to %.0f s), then draining the history", grace)
                stopping.append(loop.create_task(srv.stop()))

        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: reload_config(gateway, config_path or loaded.path))
        if on_ready is not None:
            on_ready(srv)
        await srv.wait_stopped()

    asyncio.run(main())


class ExtProcThread:
    """A module host on free ports in a background thread: ``with ExtProcThread(gw) as srv: srv.bound_port``."""

    def __init__(
        self,
        gateway: GatewayCore,
        host: str = "127.0.0.1",
        port: int = 0,
        metrics_port: int | None = 0,
        grace: float = 5.0,
    ) -> None:
        self.srv = ExtProcServer(gateway, host, port, metrics_port, grace=grace)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="leash-ext-proc")

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.srv.start())
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        loop.run_until_complete(self.srv.wait_stopped())
        loop.close()

    def start(self) -> ExtProcServer:
        self.thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise RuntimeError(f"ext_proc host did not start: {self._error}") from self._error
        return self.srv

    def stop(self) -> None:
        if self.loop is not None and self.srv.server is not None:
            fut = asyncio.run_coroutine_threadsafe(self.srv.stop(), self.loop)
            with contextlib.suppress(Exception):
                fut.result(30)
        self.thread.join(30)

    def __enter__(self) -> ExtProcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
