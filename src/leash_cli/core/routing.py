"""Where a request goes upstream: deployments, retries with backoff, fallbacks, circuit breakers, health checks.

Framework-free: an adapter hands :meth:`ProviderRoute.send` the transport, the
request (method, path below the provider, query, headers without credentials,
body) and the client's deadline; it gets back the answer to pass on together
with the deployment that gave it, or the last failure, or a rejection when
nothing is available.

The rules:

- A request is sent again only when the upstream provably never got it (a
  connect error: ``connect``) or answered a status listed in ``retry.on`` in
  full; a connection that dropped after the request was written is never resent
  unless ``retry.on`` names ``reset`` (nor one that timed out, unless it names
  ``timeout``).  Nothing is retried once the adapter has the answer: its first
  byte may reach the client.
- A retry goes to a deployment not tried yet when one is available, else to the
  same one; the wait is exponential with full jitter (``random(0, min(max_backoff,
  backoff * 2^n))``), at least the upstream's ``retry-after-ms`` / ``Retry-After``
  when the same deployment is asked again, and never past the client's deadline.
- Once the provider's own deployments are exhausted or open, the fallbacks are
  tried in order (one try each, no retry budget spent), the model rewritten when
  the fallback names one.
- A deployment that answered 429 with a retry-after cools down for that long;
  breakers count connect errors, timeouts, resets and 5xx answers.

The happy path (one deployment, no retries, no breaker, no fallback) is
:attr:`ProviderRoute.single`: the adapter sends to it directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import math
import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from leash_cli.config import Config, HealthCheckConfig, RetryConfig
from leash_cli.core.balance import Deployment, pick
from leash_cli.core.breaker import HALF_OPEN, OPEN, Breaker
from leash_cli.core.rejection import upstream_cause
from leash_cli.core.trace import Trace
from leash_cli.core.transport import (
    Transport,
    UpstreamAnswer,
    UpstreamConnectError,
    UpstreamError,
    UpstreamReset,
    UpstreamTimeout,
)
from leash_cli.providers import Provider

log = logging.getLogger("leash.routing")

#: the health probe's path below the endpoint, by kind
DEFAULT_HEALTH_PATH = {
    "openai": "/models",
    "anthropic": "/v1/models",
    "google": "/v1beta/models",
    "azure": "/openai/models",
}

#: wait at most this long for the body of an answer that is about to be retried (a 429 or 5xx is short)
_DRAIN_TIMEOUT = 5.0


class Fallback:
    __slots__ = ("route", "model")

    def __init__(self, route: ProviderRoute, model: str | None) -> None:
        self.route = route
        self.model = model


class ProviderRoute:
    """One provider's deployments, balance, retry rules and fallbacks (one per provider and config generation)."""

    __slots__ = (
        "name",
        "kind",
        "deployments",
        "balance",
        "retry",
        "retry_on",
        "fallback_on",
        "fallbacks",
        "health",
        "single",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        deployments: list[Deployment],
        balance: str,
        retry: RetryConfig,
        health: HealthCheckConfig | None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.deployments = deployments
        self.balance = balance
        self.retry = retry
        #: what is retried (a status as text, or connect / timeout / reset)
        self.retry_on = frozenset(str(x) for x in retry.on) if retry.attempts else frozenset[str]()
        #: what moves a request on to the fallbacks: retry.on (its default when retries are off)
        self.fallback_on = frozenset(str(x) for x in retry.on)
        self.fallbacks: list[Fallback] = []
        self.health = health
        self.single: Deployment | None = None  # set when there is nothing to decide (the fast path)

    def settle(self) -> None:
        """Compute the fast path once the fallbacks are known."""
        only = self.deployments[0] if len(self.deployments) == 1 else None
        simple = only is not None and only.breaker is None and not self.fallbacks and not self.retry.attempts
        self.single = only if simple else None

    # -- one request --------------------------------------------------------------------------
    async def send(
        self,
        transport: Transport,
        method: str,
        rest: str,
        query: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        deadline: float | None = None,
        trace: Trace | None = None,
    ) -> Sent:
        """Send the request, retrying and falling back as configured.  `deadline`: ``time.monotonic()`` value
        past which no new try starts (the client's own timeout), None for none.  `trace`: the exchange's
        trace context (telemetry on): each try gets a ``traceparent`` of its own and is recorded.

        Raises the last :class:`UpstreamError` when every try failed that way."""
        retry = self.retry
        retry_on = self.retry_on
        fallback_on = self.fallback_on
        retries_left = retry.attempts
        n = 0  # retries so far
        stage = 0
        chain: list[tuple[ProviderRoute, str | None]] = [(self, None)]
        chain += [(f.route, f.model) for f in self.fallbacks]
        tried: list[Deployment] = []
        route, model = self, None
        now = time.monotonic()
        d = _acquire(route, now, tried, allow_repeat=False)
        while d is None and stage + 1 < len(chain):
            stage += 1
            route, model = chain[stage]
            d = _acquire(route, now, tried, allow_repeat=False)
        if d is None:
            return Sent(None, None, self, unavailable_for(chain, now))
        while True:
            tried.append(d)
            d.attempts += 1
            d.in_flight += 1
            target = d.target
            url, out, data = prepare(target, rest, query, headers, body, model)
            if trace is not None:
                trace.start_try(out, d, model)
            t = time.monotonic()
            ra: float | None = None
            answer: UpstreamAnswer | None = None
            try:
                if target.auth is not None:
                    await target.auth.apply(method, url, out, data)
                answer = await transport.request(method, url, out, data, options=target.transport)
            except UpstreamError as e:
                d.in_flight -= 1
                reason = classify(e)
                if trace is not None:
                    trace.answered(reason)
                if d.breaker is not None:
                    d.breaker.failure(time.monotonic())
                error: UpstreamError | None = e
            except BaseException:
                d.in_flight -= 1
                _release(d)
                raise
            else:
                error = None
                d.observe_latency(time.monotonic() - t)
                status = answer.status
                if trace is not None:
                    trace.answered(str(status))
                if status == 401 and target.auth is not None:
                    target.refused()
                if status < 429 or 429 < status < 500:
                    if d.breaker is not None:
                        d.breaker.success()
                    return Sent(answer, d, route, None)
                if status == 429:
                    ra = retry_after(answer)
                    if ra is not None and ra > 0:
                        d.cooldown_until = max(d.cooldown_until, time.monotonic() + ra)
                    _release(d)
                elif d.breaker is not None:
                    d.breaker.failure(time.monotonic())
                reason = str(status)
            # -- the try failed: retry, fall back, or give up -------------------------------------
            now = time.monotonic()
            nxt: Deployment | None = None
            wait = 0.0
            if reason in retry_on and retries_left > 0:
                nxt = _acquire(route, now, tried, allow_repeat=True)
                if nxt is not None:
                    wait = backoff(retry, n)
                    if nxt is d and ra is not None:
                        wait = max(wait, ra)
                        if ra > retry.max_backoff:  # the upstream asks for longer than we would wait
                            _release(nxt)
                            nxt = None
                    if nxt is not None and deadline is not None and now + wait >= deadline:
                        _release(nxt)
                        nxt = None
                    if nxt is not None:
                        retries_left -= 1
                        n += 1
            if nxt is None and reason in fallback_on and (deadline is None or now < deadline):
                while nxt is None and stage + 1 < len(chain):
                    stage += 1
                    nxt = _acquire(chain[stage][0], now, tried, allow_repeat=False)
                if nxt is not None:
                    route, model = chain[stage]
                    wait = 0.0
            if nxt is None:
                if answer is not None:
                    return Sent(answer, d, route, None)  # the last answer, as it is
                assert error is not None
                raise error
            d.retries[reason] = d.retries.get(reason, 0) + 1
            if answer is not None:
                d.in_flight -= 1
            try:
                if answer is not None:  # answered in full before the next try: read it, keep the connection
                    await _drain(answer)
                if wait > 0:
                    await asyncio.sleep(wait)
            except BaseException:  # the client left while we waited: give the trial slot back
                _release(nxt)
                raise
            d = nxt


class Sent:
    """The outcome of :meth:`ProviderRoute.send`: an answer (and who gave it) or a rejection's parts."""

    __slots__ = ("answer", "deployment", "route", "unavailable")

    def __init__(
        self,
        answer: UpstreamAnswer | None,
        deployment: Deployment | None,
        route: ProviderRoute,
        unavailable: float | None,
    ) -> None:
        self.answer = answer
        self.deployment = deployment  # who answered (None: nothing was available)
        self.route = route  # the provider that answered (a fallback, perhaps)
        self.unavailable = unavailable  # nothing was available: seconds until something may be

    def done(self) -> None:
        """The exchange with this deployment is over (its in-flight count drops)."""
        d = self.deployment
        if d is not None:
            d.in_flight -= 1
            self.deployment = None  # once
            self.answer = None


def _acquire(route: ProviderRoute, now: float, tried: list[Deployment], allow_repeat: bool) -> Deployment | None:
    """Pick a deployment of `route` and take its breaker's trial slot (when half-open)."""
    d = pick(route.deployments, route.balance, now, tried)
    if d is None and allow_repeat:
        d = pick(route.deployments, route.balance, now, [])
    if d is not None and d.breaker is not None and not d.breaker.acquire(now):
        return None
    return d


def _release(d: Deployment) -> None:
    if d.breaker is not None:
        d.breaker.release()


async def _drain(answer: UpstreamAnswer) -> None:
    try:
        await asyncio.wait_for(answer.read(), _DRAIN_TIMEOUT)
    except (TimeoutError, UpstreamError):
        answer.close()
    except BaseException:
        answer.close()
        raise
    else:
        answer.release()


def classify(e: BaseException) -> str:
    """Why a try failed, in ``retry.on``'s words: connect (never reached the upstream), timeout, reset,
    or the error's own name (never retried)."""
    if isinstance(e, UpstreamConnectError):
        return "connect"
    reason = getattr(e, "reason", None)
    if reason == "connect_timeout" or (isinstance(e, UpstreamTimeout) and str(e).startswith("connecting to")):
        return "connect"
    if isinstance(e, UpstreamTimeout):
        return "timeout"
    if isinstance(e, UpstreamReset):
        return "connect" if getattr(e, "sent", True) is False else "reset"
    return str(reason or type(e).__name__)


def backoff(retry: RetryConfig, n: int) -> float:
    """Full jitter: a random wait up to ``min(max_backoff, backoff * 2^n)``."""
    cap = min(retry.max_backoff, retry.backoff * (2 ** min(n, 30)))
    return random.uniform(0.0, cap) if cap > 0 else 0.0


def retry_after(answer: UpstreamAnswer) -> float | None:
    """Seconds the upstream asked to wait: ``retry-after-ms`` (OpenAI, Anthropic), else ``Retry-After``
    (seconds or an HTTP date)."""
    ms = answer.header("retry-after-ms")
    if ms:
        try:
            v = float(ms)
            if math.isfinite(v) and v >= 0:
                return v / 1000.0
        except ValueError:
            pass
    ra = answer.header("retry-after")
    if not ra:
        return None
    try:
        v = float(ra)
        return v if math.isfinite(v) and v >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def unavailable_for(chain: list[tuple[ProviderRoute, str | None]], now: float) -> float:
    """Seconds until some deployment of the chain may take a request again (at least 1)."""
    soonest = math.inf
    for route, _ in chain:
        for d in route.deployments:
            wait = max(d.cooldown_until - now, 0.0)
            if d.breaker is not None:
                wait = max(wait, d.breaker.retry_in(now))
            soonest = min(soonest, wait)
    if not math.isfinite(soonest):
        soonest = 1.0
    return float(max(math.ceil(soonest), 1))


def prepare(
    target: Provider, rest: str, query: str, headers: dict[str, str], body: bytes | None, model: str | None
) -> tuple[str, dict[str, str], bytes | None]:
    """URL, headers (this deployment's key injected) and body (model rewritten) for one try."""
    out = dict(headers)
    if target.extra_headers:
        out.update({k.lower(): v for k, v in target.extra_headers.items()})
    out, q = target.apply_credentials(out, query)
    if "accept-encoding" in headers:  # what the gateway itself decodes
        out["accept-encoding"] = headers["accept-encoding"]
    if model is not None:
        rest, body = target.dialect.with_model(rest, body, model)
    return target.upstream_url(rest, q), out, body


# -- building the routes of a config generation -----------------------------------------------


def build_routes(
    cfg: Config, providers: dict[str, Provider], previous: dict[str, ProviderRoute] | None = None
) -> dict[str, ProviderRoute]:
    """One :class:`ProviderRoute` per provider (mocks have none).  Deployments unchanged since `previous`
    keep their counters, latency average, cool-down and breaker."""
    old: dict[tuple[object, ...], Deployment] = {}
    for r in (previous or {}).values():
        for dep in r.deployments:
            old[dep.key] = dep
    routes: dict[str, ProviderRoute] = {}
    for name, p in providers.items():
        if p.kind == "mock":
            continue
        pc = p.config
        deps: list[Deployment] = []
        specs: list[tuple[str, str, str | None, int]] = []
        if pc.deployments:
            for dc in pc.deployments:
                key = dc.api_key.get_secret_value() if dc.api_key is not None else p.api_key
                specs.append((dc.name, dc.endpoint or p.endpoint, key or None, dc.weight))
        else:
            specs.append(("default", p.endpoint, p.api_key, 1))
        cb = pc.circuit_breaker
        for dname, endpoint, key, weight in specs:
            target = p if (endpoint == p.endpoint and key == p.api_key) else _target(p, endpoint, key)
            breaker = Breaker(cb.failure_threshold, cb.recovery_timeout, cb.half_open_requests) if cb else None
            dep = Deployment(name, dname, target, weight, breaker)
            dep.key = (name, dname, endpoint, hash(key))
            prev = old.get(dep.key)
            if prev is not None:
                dep.adopt(prev)
            deps.append(dep)
        routes[name] = ProviderRoute(name, p.kind, deps, pc.balance, pc.retry, pc.health_check)
    for name, route in routes.items():
        for f in providers[name].config.fallbacks:
            fname, fmodel = (f, None) if isinstance(f, str) else (f.provider, f.model)
            other = routes.get(fname)
            if other is not None:
                route.fallbacks.append(Fallback(other, fmodel))
        route.settle()
        if route.single is not None and not providers[name].config.deployments:
            route.single.announce = False  # a plain provider: nothing to say about who answered
    return routes


def _target(p: Provider, endpoint: str, key: str | None) -> Provider:
    parts = urlsplit(endpoint)
    return dataclasses.replace(
        p, endpoint=endpoint, base_path=parts.path.rstrip("/"), origin=f"{parts.scheme}://{parts.netloc}", api_key=key
    )


def deployments(routes: dict[str, ProviderRoute]) -> Iterator[Deployment]:
    for r in routes.values():
        yield from r.deployments


# -- /health and /metrics ------------------------------------------------------------------------


def health(routes: dict[str, ProviderRoute]) -> dict[str, Any]:
    """Per provider and deployment: breaker state, in flight, latency, cool-down, the last probe (never a key)."""
    now = time.monotonic()
    out: dict[str, Any] = {}
    for name, r in routes.items():
        deps: dict[str, Any] = {}
        for d in r.deployments:
            b = d.breaker
            state = (
                "closed"
                if b is None
                else ("open" if b.current(now) == OPEN else "half-open" if b.state == HALF_OPEN else "closed")
            )
            item: dict[str, Any] = {
                "endpoint": getattr(d.target, "endpoint", None),
                "state": state,
                "available": d.available(now),
                "in_flight": d.in_flight,
                "attempts": d.attempts,
            }
            if d.ewma is not None:
                item["latency_ms"] = round(d.ewma * 1000, 3)
            if d.cooldown_until > now:
                item["cooldown_s"] = round(d.cooldown_until - now, 3)
            if b is not None:
                item["failures"] = b.failures
                item["times_opened"] = b.opened
                if state == "open":
                    item["retry_in_s"] = round(b.retry_in(now), 3)
            if r.health is not None:
                item["probe"] = {"ok": d.probe_ok, "at": d.probe_at, "error": d.probe_error}
            deps[d.name] = item
        out[name] = {
            "balance": r.balance,
            "fallbacks": [f.route.name for f in r.fallbacks],
            "available": any(d.available(now) for d in r.deployments),
            "deployments": deps,
        }
    return out


def metric_samples(
    routes: dict[str, ProviderRoute],
) -> tuple[
    list[tuple[tuple[str, str], int]], list[tuple[tuple[str, str], int]], list[tuple[tuple[str, str, str], int]]
]:
    """(breaker states, attempts, retries by reason) for /metrics."""
    now = time.monotonic()
    states: list[tuple[tuple[str, str], int]] = []
    attempts: list[tuple[tuple[str, str], int]] = []
    retries: list[tuple[tuple[str, str, str], int]] = []
    for d in deployments(routes):
        lab = (d.provider, d.name)
        states.append((lab, 0 if d.breaker is None else d.breaker.current(now)))
        attempts.append((lab, d.attempts))
        for reason, count in d.retries.items():
            retries.append(((d.provider, d.name, reason), count))
    return states, attempts, retries


# -- active health checks ---------------------------------------------------------------------------


class HealthChecks:
    """A background task per deployment with a ``health_check``, kept in step with the live routes."""

    def __init__(self) -> None:
        self.tasks: dict[Deployment, asyncio.Task[None]] = {}

    def sync(self, routes: dict[str, ProviderRoute], transport: Transport) -> None:
        """Start probes for deployments that need one, stop those of deployments no longer routed."""
        wanted: dict[Deployment, tuple[ProviderRoute, HealthCheckConfig]] = {}
        for r in routes.values():
            if r.health is not None:
                for d in r.deployments:
                    wanted[d] = (r, r.health)
        for d in list(self.tasks):
            if d not in wanted:
                self.tasks.pop(d).cancel()
        for d, (r, hc) in wanted.items():
            if d not in self.tasks:
                self.tasks[d] = asyncio.ensure_future(probe_loop(d, r.kind, hc, transport))

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except BaseException:  # cancelled, or it had failed: either way it is over
                pass


async def probe_loop(d: Deployment, kind: str, hc: HealthCheckConfig, transport: Transport) -> None:
    me = asyncio.current_task()
    while True:
        try:
            await probe(d, kind, hc, transport)
        except asyncio.CancelledError:
            raise
        except Exception:  # a probe never ends the loop (nor the gateway)
            log.warning("health probe of %s/%s failed", d.provider, d.name, exc_info=True)
        if me is not None and me.cancelling():
            # cancelled while a probe's ``wait_for`` was finishing: Python 3.11's wait_for can swallow the
            # cancellation then, and the loop would go on probing a deployment no longer routed
            raise asyncio.CancelledError
        await asyncio.sleep(hc.interval)


async def probe(d: Deployment, kind: str, hc: HealthCheckConfig, transport: Transport) -> bool:
    """One GET of the health path with the deployment's key; the outcome goes to its breaker."""
    target = d.target
    path = hc.path or DEFAULT_HEALTH_PATH.get(kind, "/models")
    headers, q = target.apply_credentials({"accept": "application/json"}, "")
    url = target.origin + target.base_path + "/" + path.lstrip("/")
    if q:
        url += "?" + q
    ok = False
    error: str | None = None
    try:
        await asyncio.wait_for(target.authenticate("GET", url, headers, None), hc.timeout)
        resp = await asyncio.wait_for(
            transport.request(
                "GET", url, headers, None, connect_timeout=hc.timeout, read_timeout=hc.timeout, options=target.transport
            ),
            hc.timeout,
        )
        try:
            ok = resp.status < 500 and resp.status != 429
            if not ok:
                error = f"HTTP {resp.status}"
            await asyncio.wait_for(resp.read(), hc.timeout)
            resp.release()
        except (TimeoutError, UpstreamError):
            resp.close()
    except (TimeoutError, UpstreamError, OSError, ValueError, RuntimeError) as e:
        error = f"{type(e).__name__}: {_cause(e)}"
    d.probe_ok, d.probe_at, d.probe_error = ok, time.time(), error
    b = d.breaker
    if b is not None:
        now = time.monotonic()
        if ok:
            if b.current(now) != OPEN:
                if b.state == HALF_OPEN:
                    b.in_trial += 1  # the probe was the trial
                b.success()
        else:
            b.failure(now)
    return ok


def _cause(e: BaseException) -> str:
    return upstream_cause(e)
