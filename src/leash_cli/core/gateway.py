"""The gateway core: what the local proxy and the ext_proc host share, whatever protocol they speak.

:class:`GatewayCore` owns the metrics, the history recorder, the shared limits
state (rate limits, quotas, budgets), the key ring and the live configuration;
it runs a request through admission and the pipeline and ends it (usage, cost,
metrics, history, leaving its config generation).  An adapter translates:

    adm = core.admit(method, raw_path, query, headers, client, t0)
    rej = adm.rejection or await core.run_request(adm, body)
    ... answer with rejection.reject(adm.ex, rej) + headers.leash_headers, or forward
        and pass the answer through adm.flow (relay.buffered / relay.StreamRelay / relay.cached) ...
    core.finish(adm)                       # always, once

Nothing here imports a web framework or gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leash_cli import __version__
from leash_cli.config import LoadedConfig, TelemetryConfig
from leash_cli.core import admission as _admission
from leash_cli.core.admission import Admission, admit_body
from leash_cli.core.live import GatewayState, LiveConfig, close_providers
from leash_cli.core.rejection import Rejection
from leash_cli.core.routing import HealthChecks, build_routes, metric_samples
from leash_cli.core.routing import health as routing_health
from leash_cli.core.secrets import SecretMask
from leash_cli.core.transport import Transport
from leash_cli.exchange import BodyNotWritable, BodyUnreadable
from leash_cli.logconfig import set_secret_mask
from leash_cli.metrics import Metrics
from leash_cli.pipeline import Pipeline, drain_background
from leash_cli.providers import build_providers

log = logging.getLogger("leash.core")

_LOOPBACK = ("127.", "::1", "localhost")

PipelineFactory = Callable[[Any, LoadedConfig], Pipeline]


class GatewayCore:
    """The adapter-neutral gateway.  ``state`` is the current config generation."""

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
    ) -> None:
        self.metrics = metrics or Metrics()
        self.recorder = recorder
        if recorder is not None:
            self.metrics.bind_recorder(recorder)
        self.pricer = pricer
        self.started = time.time()
        self.ready = False
        self._pipeline_factory = pipeline_factory or default_pipeline
        from leash_cli.state import open_state

        self.limits = open_state(loaded.config.state)  # rate limits, quotas, budgets: kept across reloads
        self.keyring = keyring
        self.overrides: dict[str, Any] = dict(overrides or {})
        self.health_checks = HealthChecks()
        self.telemetry = open_telemetry(loaded.config.telemetry)  # None: traces are off (read once, at start)
        self.health_transport: Transport | None = None  # the adapter's upstream client, once serving
        self.live = LiveConfig(self.build_state(loaded))
        self.metrics.bind_routes(lambda: metric_samples(self.live.state.routes))

    @property
    def state(self) -> GatewayState:
        return self.live.state

    # -- configuration ------------------------------------------------------------------------
    def build_state(self, loaded: LoadedConfig) -> GatewayState:
        """A new config generation (not yet current: ``swap_state`` installs it)."""
        cfg = loaded.config
        if hasattr(self, "live") and self.pricer is not None:
            from leash_cli.pricing import Pricer

            self.pricer = Pricer(cfg.pricing, cfg.providers)  # pricing: overrides apply after a reload
        for key, value in self.overrides.items():  # command-line flags outlive reloads
            setattr(cfg.gateway, key, value)
        gw = cfg.gateway
        loopback = gw.host.startswith(_LOOPBACK)
        trust = gw.trust_tenant_header
        require = gw.require_virtual_key
        providers = build_providers(cfg)
        previous = self.live.state.routes if hasattr(self, "live") else None
        secrets = SecretMask.of(cfg)
        set_secret_mask(secrets.text if secrets else None)
        return GatewayState(
            secrets=secrets,
            loaded=loaded,
            config=cfg,
            providers=providers,
            routes=build_routes(cfg, providers, previous),
            pipeline=self._pipeline_factory(self, loaded),
            trust_tenant_header=loopback if trust is None else trust,
            require_virtual_key=(not loopback) if require is None else require,
            remote_trust_tenant_header=trust is True,
            remote_require_virtual_key=require is not False,
        )

    def swap_state(self, state: GatewayState) -> None:
        """Install a new config generation; exchanges in flight finish on the old one, whose modules
        (those the new one does not reuse) are closed when its last exchange ends."""
        if self.recorder is not None and hasattr(self.recorder, "storage"):
            self.recorder.storage = state.config.storage  # storage.bodies and retention apply to new rows
        self.live.swap(state)
        if self.health_transport is not None:
            self._sync_health_checks()

    def _sync_health_checks(self) -> None:
        transport = self.health_transport
        loop = self.live.loop
        if transport is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.health_checks.sync(self.live.state.routes, transport)
        else:  # a reload from another thread: the probes run on the gateway's loop
            loop.call_soon_threadsafe(lambda: self.health_checks.sync(self.live.state.routes, transport))

    async def start_health_checks(self, transport: Transport) -> None:
        """Probe deployments with a ``health_check`` through `transport` (kept in step on reload)."""
        self.health_transport = transport
        self.health_checks.sync(self.live.state.routes, transport)

    async def stop_health_checks(self) -> None:
        self.health_transport = None
        await self.health_checks.stop()

    # -- serving ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Serving starts on this loop: the recorder's writer starts."""
        self.live.loop = asyncio.get_running_loop()
        if self.recorder is not None and hasattr(self.recorder, "start"):
            self.recorder.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Serving ended: let module sinks finish (up to `grace` s), drain the history, close the limits,
        send the last spans (never waiting on a collector that is down for more than a few seconds)."""
        self.ready = False
        await self.stop_health_checks()
        await drain_background(grace)  # module sinks still settling budgets and writing rows
        if self.recorder is not None and hasattr(self.recorder, "close"):
            await asyncio.get_running_loop().run_in_executor(None, self.recorder.close)
        if self.telemetry is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.telemetry.shutdown)
        with contextlib.suppress(Exception):
            await self.limits.close()
        await close_providers([p for st in (self.live.state, *self.live.retired()) for p in st.providers.values()])

    # -- one request ----------------------------------------------------------------------------
    #: ``core.admit(method, raw_path, query, headers, client, t0, *, remote=False, serve_mock=True)``:
    #: the request's head admitted (see :func:`leash_cli.core.admission.admit`); no wrapper frame on the hot path
    admit = _admission.admit

    async def run_request(self, adm: Admission, body: bytes) -> Rejection | None:
        """The body's checks, then the request stages; on success ``adm.flow`` takes the response."""
        rej = admit_body(adm, body)
        if rej is not None:
            return rej
        ex = adm.ex
        pipeline = adm.state.pipeline
        trace = adm.trace
        try:
            if trace is None:
                block = await pipeline.request(ex)
            else:
                t = time.perf_counter()
                block = await pipeline.request(ex)
                trace.t_stages = (t, time.perf_counter())
        except (BodyNotWritable, BodyUnreadable) as e:  # the client's body, nested past what is read or written
            return Rejection(400, "invalid_request", str(e))
        if block is not None:
            ex.outcome = "blocked"
            ex.verdict = "blocked"
            return Rejection.of_block(block)
        adm.flow = pipeline.response(ex)
        return None

    def finish(self, adm: Admission) -> None:
        """The exchange is over: usage, cost, metrics, history (module sinks as a task), and it leaves
        its config generation once all that is done.  Call exactly once per admission."""
        ex = adm.ex
        self.metrics.in_flight.dec()
        if ex.t_end is None:
            ex.t_end = time.perf_counter()
        st = adm.state
        task = None
        try:
            flow = adm.flow
            if st.secrets:  # the configured secrets leave no trace in the sinks, metrics or history
                if flow is not None:
                    flow.close()  # (the reassembled answer text, to mask with the rest)
                    flow = None
                st.secrets.exchange(ex)
            task = st.pipeline.finish(ex, flow)
        except Exception:  # never let recording break serving
            log.exception("could not record %s", ex.id)
        if adm.trace is not None and self.telemetry is not None:  # after pricing: the span carries the cost
            self.telemetry.end(adm)
        if task is None:  # LiveConfig.leave, inlined: once per request
            st.active -= 1
            if st.retired and st.active <= 0:
                self.live.drained(st)
        else:
            task.add_done_callback(lambda _t: self.live.leave(st))

    # -- operations -----------------------------------------------------------------------------
    def health_payload(self) -> dict[str, Any]:
        st = self.state
        rec = self.recorder
        store: dict[str, Any] = {"state": "disabled"}
        if rec is not None:
            store = {
                "state": getattr(rec, "state", "ok"),
                "path": str(getattr(rec, "path", "")),
                "queue": getattr(rec, "queue_depth", 0),
                "lag_s": round(getattr(rec, "lag_seconds", 0.0), 3),
                "last_error": getattr(rec, "last_error", None),
            }
        status = "ok" if self.ready and store.get("state") in ("ok", "disabled") else "degraded"
        routes = routing_health(st.routes)
        return {
            "status": status,
            "version": __version__,
            "uptime_s": round(time.time() - self.started, 3),
            "config": st.loaded.label,
            "providers": {
                n: {"kind": p.kind, "endpoint": p.endpoint, **routes.get(n, {})} for n, p in st.providers.items()
            },
            "store": store,
        }

    def refuses_traffic(self) -> bool:
        """``storage.on_error: block`` with a history that cannot be written."""
        rec = self.recorder
        return (
            self.state.config.storage.on_error == "block"
            and rec is not None
            and getattr(rec, "state", "ok") == "degraded"
        )


def open_telemetry(cfg: TelemetryConfig) -> Any:
    """The exporter of traces when telemetry is configured (``telemetry:`` or the OTEL_ variables), else None."""
    from leash_cli.telemetry import configured

    if not configured(cfg):
        return None
    from leash_cli.telemetry import Telemetry

    try:
        return Telemetry(cfg)
    except RuntimeError as e:  # only the OTEL_ variables asked for traces (the config's key is checked on load)
        log.warning("%s; serving without traces", e)
        return None


def default_pipeline(gw: Any, loaded: LoadedConfig) -> Pipeline:
    from leash_cli.registry import make_pipeline

    pipeline: Pipeline = make_pipeline(
        loaded, recorder=gw.recorder, metrics=gw.metrics, pricer=gw.pricer, state=gw.limits
    )
    return pipeline


def gateway_parts(loaded: LoadedConfig, *, db_path: str | Path | None = None, record: bool = True) -> dict[str, Any]:
    """The history recorder, the pricer and the key ring for a config (``GatewayCore(loaded, **parts)``)."""
    from leash_cli.keys import KeyRing
    from leash_cli.paths import resolve_db_path
    from leash_cli.pricing import Pricer
    from leash_cli.store import make_recorder, open_store

    cfg = loaded.config
    store = open_store(resolve_db_path(str(db_path) if db_path else None, loaded))
    recorder = None
    if record and cfg.storage.enabled:
        transient: tuple[type[BaseException], ...] = (*store.transient_errors, OSError)
        try:
            store.migrate()  # migrate now: a corrupt or newer database is a clear error before serving
        except transient as e:  # read-only, locked, disk full: not fatal
            # the recorder retries and reports it (/health, /ready); storage.on_error decides meanwhile
            log.error("history cannot be written at start-up: %s (storage.on_error: %s)", e, cfg.storage.on_error)
        recorder = make_recorder(store, cfg.storage)
    pricer = Pricer(cfg.pricing, cfg.providers)
    pricer.warm()
    return {"recorder": recorder, "pricer": pricer, "keyring": KeyRing(store)}


def reload_config(gateway: GatewayCore, config_path: str | Path | None) -> bool:
    """Load the config again and swap it in; a bad config is rejected, the old one kept."""
    from leash_cli.config import ConfigError, load_config

    try:
        loaded = load_config(config_path)
        state = gateway.build_state(loaded)
    except ConfigError as e:
        log.error("config reload rejected, keeping the running config:\n%s", e.render())
        audit(gateway, "config_rejected", {"error": e.render()})
        return False
    except Exception as e:
        log.error("config reload rejected, keeping the running config: %s", e)
        audit(gateway, "config_rejected", {"error": str(e)})
        return False
    gateway.swap_state(state)
    _release_startup()
    log.info("config reloaded from %s", loaded.label)
    audit(gateway, "config_reloaded", {"config": loaded.label})
    return True


#: whether :func:`freeze_startup` froze this process's heap and no reload has released it since
_startup_frozen = False


def freeze_startup() -> None:
    """Move what startup built out of the cyclic collector's reach (``gc.freeze``): a process that
    serves until it exits need not walk it again.  The first reload releases it."""
    global _startup_frozen
    gc.freeze()
    _startup_frozen = True


def _release_startup() -> None:
    """After a reload: the replaced config may be frozen (``leash up`` froze startup), so let the
    collector free it -- only what leash froze: an embedder's (or a test session's) own freeze stays."""
    global _startup_frozen
    if _startup_frozen:
        gc.unfreeze()
        _startup_frozen = False


def audit(gateway: GatewayCore, event: str, detail: dict[str, Any]) -> None:
    rec = gateway.recorder
    if rec is not None and hasattr(rec, "audit"):
        rec.audit(event, detail, actor="gateway")
