"""The live configuration: one :class:`GatewayState` per config generation, swapped as one on reload.

Each exchange enters the generation that was current when it arrived and
leaves it when it is over (its response sent, its module sinks run, its row
handed to the recorder).  A reload installs a new generation at once; the old
one is *retired*, and when its last exchange leaves (at once if it has none)
its modules that no live generation still holds are closed (a logger's file
and thread, for instance).  No timer: a stream may run for an hour and keeps
its modules to the end.

``enter``/``leave`` run on the gateway's event loop; ``swap`` may come from any
thread (a test, a file watcher): the retired generation is then checked on the
loop, where no exchange can be half-way through entering it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from leash_cli.config import Config, LoadedConfig
from leash_cli.core.routing import ProviderRoute
from leash_cli.core.secrets import SecretMask
from leash_cli.pipeline import Pipeline, Slot
from leash_cli.providers import Provider

log = logging.getLogger("leash.core")


@dataclass(slots=True, eq=False)
class GatewayState:
    """Everything a request needs, swapped as one on reload (one config generation)."""

    loaded: LoadedConfig
    config: Config  # loaded.config (a field, not a property: read several times per request)
    providers: dict[str, Provider]
    pipeline: Pipeline
    trust_tenant_header: bool  # the local proxy's policies (loopback clients are trusted by default)
    require_virtual_key: bool
    remote_trust_tenant_header: bool = False  # behind Envoy: clients are remote unless the config says otherwise
    remote_require_virtual_key: bool = True
    routes: dict[str, ProviderRoute] = field(default_factory=dict)  # deployments, retries, fallbacks by provider
    secrets: SecretMask = field(default_factory=lambda: SecretMask(()))  # the config's secrets, masked everywhere
    active: int = 0  # exchanges in flight on this generation
    retired: bool = False  # a newer generation is current
    closed: bool = False  # its modules have been closed


class LiveConfig:
    """The current generation, and the retired ones that still have exchanges in flight."""

    __slots__ = ("state", "loop", "_retired", "_lock")

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop exchanges run on (set when serving starts)
        self._retired: list[GatewayState] = []
        self._lock = threading.Lock()

    # -- the hot path (admission enters: ``st = live.state; st.active += 1``) -------------------
    def leave(self, st: GatewayState) -> None:
        st.active -= 1
        if st.retired and st.active <= 0:
            self.drained(st)

    # -- reload ------------------------------------------------------------------------------
    def swap(self, new: GatewayState) -> GatewayState:
        """Make `new` current; the old generation closes when its last exchange leaves.  Returns the old one."""
        old = self.state
        if old is new:
            return old
        with self._lock:
            self.state = new
            old.retired = True
            self._retired.append(old)
        loop = self.loop
        if loop is not None and loop.is_running() and not _running_on(loop):
            try:
                loop.call_soon_threadsafe(self._check, old)
                return old
            except RuntimeError:  # the loop closed meanwhile: nothing runs on it any more
                pass
        self._check(old)
        return old

    def retired(self) -> list[GatewayState]:
        with self._lock:
            return list(self._retired)

    def _check(self, st: GatewayState) -> None:
        if st.active <= 0:
            self.drained(st)

    def drained(self, st: GatewayState) -> None:
        """`st` (retired) has no exchange left: close its modules that no live generation holds."""
        with self._lock:
            if st.closed:
                return
            st.closed = True
            if st in self._retired:
                self._retired.remove(st)
            keep = {id(s.module) for g in (self.state, *self._retired) for s in g.pipeline.all_slots}
            doomed = [s for s in st.pipeline.all_slots if id(s.module) not in keep]
            held = {id(p) for g in (self.state, *self._retired) for p in g.providers.values()}
            unused = [p for p in st.providers.values() if id(p) not in held]
        loop = self.loop
        if unused and loop is not None and loop.is_running():
            # a provider's credentials may hold connections (a token endpoint's), opened on this loop
            asyncio.run_coroutine_threadsafe(close_providers(unused), loop)
        if any(callable(getattr(s.module, "close", None)) for s in doomed):
            # off the loop: closing a module may flush a file or join its thread
            threading.Thread(target=_close_slots, args=(doomed,), daemon=True, name="leash-close-modules").start()


async def close_providers(providers: list[Provider]) -> None:
    """Release what the providers' credentials hold (best effort, each on its own)."""
    for p in providers:
        await p.aclose()


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _close_slots(slots: list[Slot]) -> None:
    for slot in slots:
        close = getattr(slot.module, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.warning("closing module %s after a reload failed", slot.name, exc_info=True)
