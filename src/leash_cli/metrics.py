"""Prometheus metrics, one registry per gateway (so tests can run several)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from leash_cli.exchange import Exchange

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: distinct (tenant, provider, model, status) label sets before new ones are counted as "other"
MAX_SERIES = 2000


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "leash_gateway_requests", "Requests handled", ["tenant", "provider", "model", "status"], registry=r
        )
        self.duration = Histogram(
            "leash_gateway_request_duration_seconds",
            "Total request time as the client saw it",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_latency = Histogram(
            "leash_provider_latency_seconds",
            "Time waiting on the upstream provider",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "leash_gateway_overhead_seconds",
            "Time spent in leash (total less upstream)",
            ["provider"],
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "leash_gateway_tokens",
            "Tokens reported by providers",
            ["tenant", "provider", "model", "direction"],
            registry=r,
        )
        self.cost = Counter("leash_gateway_cost_usd", "Priced cost in USD", ["tenant", "provider", "model"], registry=r)
        self.module_duration = _ModuleDurations(_OVERHEAD_BUCKETS)
        r.register(self.module_duration)
        self.violations = Counter(
            "leash_policy_violations", "Policy findings", ["module", "type", "action"], registry=r
        )
        self.in_flight = Gauge("leash_gateway_in_flight_requests", "Requests in progress", registry=r)
        self.cache = Counter(
            "leash_cache_requests",
            "Requests the response-cache looked up, by result (hit, miss)",
            ["provider", "result"],
            registry=r,
        )
        self.cache_saved = Counter(
            "leash_cache_saved_usd", "Priced cost that cache hits did not spend", ["provider"], registry=r
        )
        self._recorder = None
        self._routes = None
        self._listener: Any = None  # a leash_cli.listener.ConnectionGate
        self._upstream: Callable[[], list[tuple[str, int, int, int]]] | None = None
        self._cache: dict[tuple, tuple] = {}
        r.register(_StoreCollector(self))
        r.register(_RoutingCollector(self))
        r.register(_ConnectionCollector(self))

    def _children(self, ex: Exchange) -> tuple:
        """The labelled series of one (tenant, provider, model, status), looked up once."""
        provider = ex.provider if ex.kind != "unknown" else "unknown"  # never a client-chosen name
        key = (ex.tenant, provider, ex.model or "", ex.status or 0)
        got = self._cache.get(key)
        if got is None:
            if len(self._cache) >= MAX_SERIES:  # clients choose models and tenants: bound the series
                key = ("other", provider, "other", ex.status or 0)
                got = self._cache.get(key)
                if got is not None:
                    return got
            tenant, provider, model, status = key
            got = (
                self.requests.labels(tenant, provider, model, str(status)),
                self.duration.labels(provider),
                self.provider_latency.labels(provider),
                self.overhead.labels(provider),
                self.tokens.labels(tenant, provider, model, "input"),
                self.tokens.labels(tenant, provider, model, "output"),
                self.cost.labels(tenant, provider, model),
            )
            self._cache[key] = got
        return got

    def observe(self, ex: Exchange) -> None:
        requests, duration, latency, overhead, tok_in, tok_out, cost = self._children(ex)
        requests.inc()
        total = ex.total_seconds
        if total is not None:
            duration.observe(total)
        up = ex.upstream_seconds
        if up is not None:
            latency.observe(up)
        if total is not None:
            overhead.observe(max(total - (up or 0.0), 0.0))
        u = ex.usage
        if u.input_tokens:
            tok_in.inc(u.input_tokens)
        if u.output_tokens:
            tok_out.inc(u.output_tokens)
        if ex.cost_usd:
            cost.inc(ex.cost_usd)
        if ex.module_timings:
            observe = self.module_duration.observe
            for name, secs in ex.module_timings.items():
                observe(name, secs)
        for v in ex.violations:
            self.violations.labels(v.module, v.type, v.action).inc()
        if ex.cache is not None:
            provider = ex.provider if ex.kind != "unknown" else "unknown"
            self.cache.labels(provider, ex.cache).inc()
            saved = (ex.cost_detail or {}).get("saved_usd") if ex.cache == "hit" else None
            if saved:
                self.cache_saved.labels(provider).inc(saved)

    def bind_recorder(self, recorder) -> None:
        """Report the history writer's counters at scrape time."""
        self._recorder = recorder

    def bind_routes(self, routes) -> None:
        """Report the deployments' breakers, attempts and retries at scrape time: `routes()` gives
        ``(states, attempts, retries)``, each a list of (labels, value)."""
        self._routes = routes

    def bind_listener(self, gate: Any) -> None:
        """Report the client connections (open, refused, header timeouts) of ``gate`` at scrape time."""
        self._listener = gate

    def bind_upstream(self, stats: Callable[[], list[tuple[str, int, int, int]]] | None) -> None:
        """Report upstream connections per origin: ``stats()`` gives ``(origin, open, idle, waiting)``."""
        self._upstream = stats

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ModuleDurations:
    """``leash_module_processing_duration_seconds{module}``, a histogram counted in plain lists.

    prometheus_client's Histogram takes a lock for its sum and another for the bucket (~1 µs an
    observation), and every request observes each of its modules; here an observation is a
    bisect and two list updates, and the histogram is built when /metrics is scraped.  Only the
    event loop observes (module names come from the config: a bounded set)."""

    name = "leash_module_processing_duration_seconds"

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = tuple(buckets)
        self.series: dict[str, list] = {}  # module -> [sum, count per bucket..., count above the last]

    def observe(self, module: str, seconds: float) -> None:
        s = self.series.get(module)
        if s is None:
            s = self.series[module] = [0.0] + [0] * (len(self.bounds) + 1)
        s[0] += seconds
        s[1 + bisect_left(self.bounds, seconds)] += 1

    def describe(self):
        return [HistogramMetricFamily(self.name, "Time spent in each policy module", labels=["module"])]

    def collect(self):
        h = HistogramMetricFamily(self.name, "Time spent in each policy module", labels=["module"])
        for module, s in list(self.series.items()):
            counts, total, buckets = s[1:], 0, []
            for bound, n in zip((*self.bounds, float("inf")), counts):
                total += n
                buckets.append((floatToGoString(bound), total))
            h.add_metric([module], buckets, sum_value=s[0])
        yield h


class _RoutingCollector:
    """Deployments' counters live on the deployments (a plain int per attempt on the hot path): read here."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        state = GaugeMetricFamily(
            "leash_circuit_breaker_state",
            "Circuit breaker per deployment: 0 closed, 1 open, 2 half-open",
            labels=["provider", "deployment"],
        )
        attempts = CounterMetricFamily(
            "leash_upstream_attempts", "Requests sent to each deployment", labels=["provider", "deployment"]
        )
        retries = CounterMetricFamily(
            "leash_upstream_retries",
            "Tries that failed and were sent again (retried or passed to a fallback), by reason",
            labels=["provider", "deployment", "reason"],
        )
        get = self.metrics._routes
        if get is not None:
            states, counts, tries = get()
            for labels, value in states:
                state.add_metric(list(labels), value)
            for labels, value in counts:
                attempts.add_metric(list(labels), value)
            for labels, value in tries:
                retries.add_metric(list(labels), value)
        yield state
        yield attempts
        yield retries


class _ConnectionCollector:
    """Client connections (the listener's gate) and upstream connections per origin, read at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        gate = self.metrics._listener
        yield GaugeMetricFamily(
            "leash_gateway_connections", "Client connections open", value=gate.open if gate is not None else 0
        )
        yield GaugeMetricFamily(
            "leash_gateway_connections_limit",
            "gateway.max_connections in force",
            value=gate.limit() if gate is not None else 0,
        )
        yield CounterMetricFamily(
            "leash_gateway_connections_refused",
            "Client connections refused at gateway.max_connections",
            value=gate.refused if gate is not None else 0,
        )
        yield CounterMetricFamily(
            "leash_gateway_header_timeouts",
            "Client connections closed for not sending a request head within gateway.header_timeout",
            value=gate.header_timeouts if gate is not None else 0,
        )
        conns = GaugeMetricFamily(
            "leash_upstream_connections", "Connections open to each upstream origin", labels=["origin", "state"]
        )
        waiting = GaugeMetricFamily(
            "leash_upstream_connection_waiters",
            "Requests waiting for a connection at max_upstream_connections_per_origin",
            labels=["origin"],
        )
        stats = self.metrics._upstream
        for origin, open_, idle, queued in stats() if stats is not None else ():
            conns.add_metric([origin, "busy"], open_ - idle)
            conns.add_metric([origin, "idle"], idle)
            waiting.add_metric([origin], queued)
        yield conns
        yield waiting


class _StoreCollector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        rec = self.metrics._recorder
        if rec is None:
            return
        yield CounterMetricFamily(
            "leash_store_write_errors", "Failed history writes", value=getattr(rec, "write_errors", 0)
        )
        yield CounterMetricFamily(
            "leash_store_rows_written", "Rows written to the history", value=getattr(rec, "rows_written", 0)
        )
        yield GaugeMetricFamily(
            "leash_store_queue_depth", "Records waiting to be written", value=getattr(rec, "queue_depth", 0)
        )
        yield GaugeMetricFamily(
            "leash_store_lag_seconds",
            "How long the oldest row not yet written has waited",
            value=getattr(rec, "lag_seconds", 0.0),
        )
        yield GaugeMetricFamily(
            "leash_store_degraded",
            "1 while the history cannot be written",
            value=1 if getattr(rec, "state", "ok") == "degraded" else 0,
        )
