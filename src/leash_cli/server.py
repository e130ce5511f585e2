"""Running the gateway: build it from a config, serve it with uvicorn.

``serve()`` is what ``leash up`` calls; ``GatewayThread`` runs one on port 0 in
a background thread (tests, benchmarks, ``leash_cli.testing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from leash_cli.config import LoadedConfig
from leash_cli.core.gateway import audit as _audit
from leash_cli.core.gateway import freeze_startup, gateway_parts
from leash_cli.core.gateway import reload_config as reload_config  # the one implementation, shared with ext_proc
from leash_cli.listener import ConnectionGate, gated_protocol
from leash_cli.proxy import Gateway

log = logging.getLogger("leash.server")

try:  # uvloop is optional (not on Windows)
    import uvloop  # noqa: F401

    LOOP = "uvloop"
except ImportError:  # pragma: no cover
    LOOP = "asyncio"


def build_gateway(
    loaded: LoadedConfig,
    *,
    db_path: str | Path | None = None,
    record: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Gateway:
    """A gateway with the history recorder and the pricer wired in."""
    return Gateway(loaded, overrides=overrides, **gateway_parts(loaded, db_path=db_path, record=record))


def connection_gate(gateway: Gateway) -> ConnectionGate:
    """The gateway's client-connection limits and counters (one per gateway, reported by /metrics)."""
    gate = getattr(gateway, "connection_gate", None)
    if gate is None:
        gate = ConnectionGate(lambda: gateway.state.config.gateway)
        gateway.connection_gate = gate  # type: ignore[attr-defined]
        gateway.metrics.bind_listener(gate)
    return gate


def uvicorn_config(gateway: Gateway, host: str, port: int, **kw: Any) -> uvicorn.Config:
    return uvicorn.Config(
        gateway.app,
        host=host,
        port=port,
        loop=LOOP,
        http=gated_protocol(connection_gate(gateway)),
        lifespan="on",
        interface="asgi3",
        access_log=False,
        log_level=kw.pop("log_level", "warning"),
        timeout_keep_alive=kw.pop("timeout_keep_alive", 75),
        server_header=False,
        date_header=False,
        **kw,
    )


class GatewayServer(uvicorn.Server):
    """uvicorn's server, telling us the port it bound (for --port 0)."""

    #: how often the main loop runs uvicorn's housekeeping (``on_tick``); a stop does not wait for it
    TICK = 0.1
    #: how often shutdown looks whether the last connections and tasks have ended
    POLL = 0.005

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.bound_port: int | None = None
        self.started_event = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def request_exit(self) -> None:
        """Stop serving (from any thread): the main loop wakes at once rather than at its next tick."""
        self.should_exit = True
        self._wake_up()

    def _wake_up(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(wake.set)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._wake_up()
        # SIGTERM is the normal way to stop a service: after a graceful drain, exit 0
        # rather than re-raising it (uvicorn's default); SIGINT still ends with 130.
        import signal

        if sig == signal.SIGTERM and sig in self._captured_signals:
            self._captured_signals.remove(sig)

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        servers = getattr(self, "servers", [])
        if servers and servers[0].sockets:
            self.bound_port = servers[0].sockets[0].getsockname()[1]
        self.started_event.set()

    async def main_loop(self) -> None:
        """uvicorn's loop (``on_tick`` every TICK seconds until it says exit), woken early by a stop."""
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        if self.should_exit:  # asked before the loop was there to wake
            wake.set()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.TICK)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list | None = None) -> None:
        """uvicorn's graceful shutdown, with its fixed 0.1 s waits replaced by a short poll: stop
        accepting, ask every connection to finish (idle ones close, busy ones end after their
        response: streams in flight run to their end), wait for them and the tasks (up to
        ``timeout_graceful_shutdown`` when set, then cancel the tasks), then the lifespan's shutdown
        (the history drained and closed)."""
        for server in getattr(self, "servers", []):
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()
        await asyncio.sleep(0)  # the transports' close callbacks
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while (state.connections or state.tasks) and not self.force_exit:
                    await asyncio.sleep(self.POLL)
                for server in getattr(self, "servers", []):
                    await server.wait_closed()
        except TimeoutError:
            log.error("cancel %s running task(s), timeout graceful shutdown exceeded", len(state.tasks))
            for t in state.tasks:
                t.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port (OSError when it cannot bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def admin_socket(gateway: Gateway) -> socket.socket | None:
    """The gateway.admin_port socket, when one is configured; tells the gateway its port."""
    gw = gateway.state.config.gateway
    if gw.admin_port is None:
        return None
    sock = bind(gw.admin_host, gw.admin_port)
    gateway.admin_port = sock.getsockname()[1]
    return sock


class GatewayThread:
    """Serve a gateway on 127.0.0.1:0 in a thread: ``with GatewayThread(gw) as url: ...``."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.server = GatewayServer(uvicorn_config(gateway, host, port))
        self.thread = threading.Thread(target=self._run, daemon=True, name="leash-gateway")
        self.host = host
        self.sockets = [bind(host, port)]
        admin = admin_socket(gateway)
        if admin is not None:
            self.sockets.append(admin)

    def _run(self) -> None:
        if LOOP == "uvloop":
            import uvloop

            uvloop.run(self.server.serve(sockets=self.sockets))
        else:
            asyncio.run(self.server.serve(sockets=self.sockets))

    @property
    def admin_url(self) -> str | None:
        port = self.gateway.admin_port
        return None if port is None else f"http://{self.gateway.state.config.gateway.admin_host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.bound_port}"

    def start(self) -> str:
        self.thread.start()
        if not self.server.started_event.wait(15) or self.server.bound_port is None:
            raise RuntimeError("gateway did not start")
        return self.url

    def stop(self) -> None:
        self.server.request_exit()
        self.thread.join(15)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def release_startup_memory() -> None:
    """Give the allocator's free pages from imports and config loading back to the OS."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def banner(gateway: Gateway, host: str, port: int, console: Any) -> None:
    st = gateway.state
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    console.print(f"[bold]leash[/] {__import__('leash_cli').__version__} listening on [bold cyan]{base}[/]")
    console.print(f"  config  {st.loaded.label}")
    rec = gateway.recorder
    console.print(f"  history {getattr(rec, 'path', None) or 'off'}")
    console.print("  providers:")
    for name, p in st.providers.items():
        key = " (gateway key)" if p.api_key else ""
        console.print(
            f"    {base}/v1/{name:<10} -> {p.endpoint} [dim]({p.kind}{key})[/]", highlight=False, soft_wrap=True
        )
    slots = sorted(st.pipeline.all_slots, key=lambda sl: sl.priority)
    if slots:
        shown = ", ".join(f"{sl.name}" + (" (shadow)" if sl.mode == "shadow" else "") for sl in slots)
        console.print(f"  modules {shown}", highlight=False, soft_wrap=True)
    if gateway.admin_port is not None:
        admin = f"http://{st.config.gateway.admin_host}:{gateway.admin_port}"
        console.print(f"  health  {admin}/health   metrics {admin}/metrics  (admin port)")
    else:
        console.print(f"  health  {base}/health   metrics {base}/metrics")
    if not host.startswith(("127.", "localhost", "::1")):
        console.print("[yellow]warning:[/] bound to a non-loopback address: anyone who can reach it can use it")


def run(
    gateway: Gateway,
    host: str,
    port: int,
    *,
    config_path: str | Path | None = None,
    db_path: str | Path | None = None,
    watch: bool = False,
    console: Any = None,
) -> None:
    """Serve until SIGINT/SIGTERM (which drain the history queue before exit)."""
    import signal

    server = GatewayServer(uvicorn_config(gateway, host, port))
    sockets: list[socket.socket] = []
    gw = gateway.state.config.gateway
    for h, p, what in ((host, port, "--port"), (gw.admin_host, gw.admin_port, "gateway.admin_port")):
        if p is None:
            continue
        try:
            sockets.append(bind(h, p))
        except OSError as e:
            for s in sockets:
                s.close()
            msg = f"cannot listen on {h}:{p}: {e.strerror or e}"
            if e.errno == 98:
                msg += f" (another process uses this port; pick another with {what})"
            if console is not None:
                console.print(f"[bold red]error:[/] {msg}", highlight=False)
            raise SystemExit(1) from None
    if len(sockets) > 1:
        gateway.admin_port = sockets[1].getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: reload_config(gateway, config_path))
        watcher = asyncio.create_task(_watch_file(gateway, config_path)) if watch else None
        if console is not None:
            # queued before the first request can be served, so a reload (SIGHUP, a file change) that
            # comes at once is audited after it: the writer keeps the queue's order
            _audit(gateway, "config_loaded", {"config": gateway.state.loaded.label})
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started_event.is_set() and not serving.done():
            await asyncio.sleep(0.02)
        if serving.done() and server.bound_port is None:
            exc = serving.exception()
            code = exc.code if isinstance(exc, SystemExit) else 1
            raise SystemExit(code or 1)
        if server.bound_port is not None and console is not None:
            banner(gateway, host, server.bound_port, console)
        # this process serves until it exits: give the allocator's free pages from imports and config
        # loading back to the OS, and what startup built need not be walked by the cyclic collector
        # again (here, not in Gateway.startup: tests and embedders start many gateways in one process)
        release_startup_memory()
        freeze_startup()
        try:
            await serving
        finally:
            if watcher is not None:
                watcher.cancel()

    if LOOP == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


async def _watch_file(gateway: Gateway, config_path: str | Path | None) -> None:
    path = gateway.state.loaded.path
    if path is None:
        log.warning("--reload: running on the embedded default config; nothing to watch")
        return
    last = _mtime(path)
    while True:
        await asyncio.sleep(1.0)
        now = _mtime(path)
        if now != last:
            last = now
            reload_config(gateway, config_path or path)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
