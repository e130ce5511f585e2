"""Deployments and how one is picked: weighted round robin, least-busy, latency, ordered.

A :class:`Deployment` is one upstream behind a provider name (its own endpoint
and key, as a :class:`~leash_cli.providers.Provider`) with what the balancer
and the breaker know of it: requests in flight, a moving average of its time to
answer, a cool-down (after a 429 with ``Retry-After``), its breaker and its
counters.  :func:`pick` chooses among the available ones; a deployment cooling
down or with an open breaker is skipped.
"""

from __future__ import annotations

from leash_cli.core.breaker import Breaker
from leash_cli.providers import Provider

#: weight of the newest sample in the latency moving average
EWMA_ALPHA = 0.3


class Deployment:
    __slots__ = (
        "provider",
        "name",
        "target",
        "weight",
        "current",
        "in_flight",
        "ewma",
        "cooldown_until",
        "breaker",
        "attempts",
        "retries",
        "picks",
        "probe_ok",
        "probe_at",
        "probe_error",
        "wire_name",
        "key",
        "announce",
    )

    def __init__(self, provider: str, name: str, target: Provider, weight: int, breaker: Breaker | None) -> None:
        self.provider = provider  # the provider's name
        self.name = name
        self.target = target  # a leash_cli.providers.Provider with this deployment's endpoint and key
        self.weight = weight
        self.current = 0  # smooth weighted round robin
        self.in_flight = 0
        self.ewma: float | None = None  # seconds to the answer's head
        self.cooldown_until = 0.0
        self.breaker = breaker
        self.attempts = 0  # requests sent to it
        self.retries: dict[str, int] = {}  # reason -> retries caused by it
        self.picks = 0
        self.probe_ok: bool | None = None  # the last health probe (None: none yet)
        self.probe_at: float | None = None  # wall time of the last probe
        self.probe_error: str | None = None
        self.wire_name = (provider.encode("latin-1"), name.encode("latin-1"))  # x-leash-provider, -deployment
        self.key: tuple[object, ...] = ()  # what must be equal for a reload to keep this deployment's state
        #: name itself in x-leash-provider / x-leash-deployment even on the fast path (its provider has
        #: `deployments:` or anything to decide); a plain provider's answers stay as they were
        self.announce = True

    def available(self, now: float) -> bool:
        if self.cooldown_until > now:
            return False
        b = self.breaker
        return b is None or b.available(now)

    def observe_latency(self, seconds: float) -> None:
        e = self.ewma
        self.ewma = seconds if e is None else e + EWMA_ALPHA * (seconds - e)

    def adopt(self, old: Deployment) -> None:
        """Keep what a reload should not forget: counters, latency, cool-down, and the breaker when it is
        configured the same."""
        self.attempts = old.attempts
        self.retries = old.retries
        self.ewma = old.ewma
        self.cooldown_until = old.cooldown_until
        self.probe_ok, self.probe_at, self.probe_error = old.probe_ok, old.probe_at, old.probe_error
        b, ob = self.breaker, old.breaker
        if (
            b is not None
            and ob is not None
            and (b.threshold, b.recovery, b.trials) == (ob.threshold, ob.recovery, ob.trials)
        ):
            self.breaker = ob


def pick(deployments: list[Deployment], balance: str, now: float, tried: list[Deployment]) -> Deployment | None:
    """The deployment to send to next (not one of `tried` while another is available), or None."""
    cands = [d for d in deployments if d.available(now) and d not in tried]
    if not cands:
        return None
    if len(cands) == 1 or balance == "ordered":
        chosen = cands[0]
    elif balance == "least-busy":
        chosen = min(cands, key=_busy)
    elif balance == "latency":
        chosen = min(cands, key=_latency)
    else:
        chosen = _smooth_weighted(cands)
    chosen.picks += 1
    return chosen


def _busy(d: Deployment) -> tuple[int, int]:
    return d.in_flight, d.picks  # ties: the one picked least often


def _latency(d: Deployment) -> tuple[float, int]:
    return (d.ewma if d.ewma is not None else 0.0), d.picks  # an untried deployment gets tried


def _smooth_weighted(cands: list[Deployment]) -> Deployment:
    """Nginx's smooth weighted round robin: over any window the split follows the weights, interleaved."""
    total = 0
    best: Deployment | None = None
    for d in cands:
        d.current += d.weight
        total += d.weight
        if best is None or d.current > best.current:
            best = d
    assert best is not None
    if total == 0:
        return cands[0]
    best.current -= total
    return best
