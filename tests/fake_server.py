"""The plumbing every fake provider shares: an aiohttp app on a thread and event loop of its own,
bound to a free port, started and stopped from the test's thread.

A fake subclasses :class:`ThreadedApp` (a mixin for dataclasses with ``host`` and ``port``), says
how its app routes (``add_routes``) and implements the handlers; ``Seen`` records what reached it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["Seen", "ThreadedApp"]


@dataclass
class Seen:
    """One request as the fake received it (header names lower-case)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class ThreadedApp:
    host: str
    port: int
    #: the thread's name (and the error if it does not start)
    thread_name = "fake"
    #: the largest request body the app reads
    client_max_size = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        """A dataclass fake's hook (subclasses that set state of their own extend it)."""

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Any:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.thread_name)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(3)
            except Exception:  # handlers still hanging on purpose: just stop
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=self.client_max_size)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._started.set()
        loop.run_forever()
