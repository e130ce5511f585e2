"""The exact cost of an exchange in USD.

Prices come from, in order:

1. the config's ``pricing:`` table (USD per million tokens; keys are model
   names, matched case-insensitively: exact name first, then the longest key
   the model name starts with, so ``gpt-4o`` also prices ``gpt-4o-2024-08-06``);
2. the price snapshot bundled with ``genai-prices`` — offline only: leash never
   calls ``UpdatePrices`` or anything else that fetches.

A model found in neither, a ``mock`` provider without a config price, or an
exchange without reported usage is *unpriced*: ``(None, None)``, never 0.

With the token normalisation of ``usage.py``::

    plain input  = input_tokens - cached_input_tokens - cache_write_tokens
    cost = plain input   x input price
         + cached input  x cached_input price (else the input price)
         + cache writes  x cache_write price  (else the input price)
         + output        x output price
           (when a separate reasoning price exists, reasoning_tokens are billed
            at it and only output_tokens - reasoning_tokens at the output price)

all divided by one million.  Tiered snapshot prices (e.g. Gemini 2.5 Pro above
200k prompt tokens) pick the tier from ``input_tokens``.  Model lookups are
cached, so pricing an exchange costs a dict lookup and a few multiplications.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from leash_cli.config import PriceConfig, ProviderConfig
from leash_cli.dialects import DIALECTS
from leash_cli.dialects.base import Usage
from leash_cli.presets import UNPRICED

__all__ = ["Pricer", "Rates"]

log = logging.getLogger("leash.pricing")

#: provider kind -> genai-prices provider id (each dialect's ``pricing_id``)
_GENAI_PROVIDER = {kind: d.pricing_id for kind, d in DIALECTS.items() if d.pricing_id}
#: provider kind -> its dialect (``price_fallbacks``: another vendor's model under a cloud's id)
_DIALECT_OF = dict(DIALECTS)
#: kinds serving several publishers' models: (model prefix, genai-prices provider id), tried first
#: (vertex: Claude at Anthropic's list prices, ``claude-sonnet-4@20250514`` ids included; Gemini as google)
_BY_MODEL_PREFIX: dict[str, tuple[tuple[str, str], ...]] = {"vertex": (("claude", "anthropic"),)}

# a price: per-million USD, or (base, ((start_tokens, price), ...)) for tiers
Price = float | tuple[float, tuple[tuple[int, float], ...]]


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices in USD per million tokens for one model."""

    input: Price
    output: Price
    cached_input: Price | None = None
    cache_write: Price | None = None
    reasoning: Price | None = None
    source: str = "config"  # config | genai-prices
    model: str = ""  # the config key or the genai-prices model id that matched
    provider: str | None = None  # genai-prices provider id


def _at(price: Price | None, total_input: int) -> float | None:
    """Resolve a (possibly tiered) price for a request with ``total_input`` prompt tokens."""
    if price is None or isinstance(price, float):
        return price
    base, tiers = price
    for start, p in reversed(tiers):
        if total_input > start:
            return p
    return base


class Pricer:
    """Prices usage; cheap to call on every exchange (lookups are lru-cached)."""

    def __init__(
        self, overrides: dict[str, PriceConfig] | None = None, providers: dict[str, ProviderConfig] | None = None
    ):
        #: configured provider name -> the genai-prices provider id it says (``pricing_provider``, a preset's)
        self.provider_ids: dict[str, str] = {
            name: pc.pricing_provider for name, pc in (providers or {}).items() if pc.pricing_provider
        }
        self.overrides: dict[str, Rates] = {}
        for name, pc in (overrides or {}).items():
            self.overrides[name.lower()] = Rates(
                input=float(pc.input),
                output=float(pc.output),
                cached_input=None if pc.cached_input is None else float(pc.cached_input),
                cache_write=None if pc.cache_write is None else float(pc.cache_write),
                reasoning=None if pc.reasoning is None else float(pc.reasoning),
                source="config",
                model=name,
            )
        self._prefixes = sorted(self.overrides, key=len, reverse=True)
        self._lookup = lru_cache(maxsize=2048)(self._lookup_uncached)

    # -- lookup ---------------------------------------------------------------
    def rates(self, provider_kind: str, model: str, provider: str | None = None) -> Rates | None:
        """The prices used for ``model`` (None: unknown)."""
        today = _dt.datetime.now(_dt.UTC).date()
        if provider is not None:
            provider = self.provider_ids.get(provider, provider)
        return self._lookup(provider_kind, model.lower(), provider, today)

    def _lookup_uncached(self, kind: str, model: str, provider: str | None, day: _dt.date) -> Rates | None:
        r = self.overrides.get(model)
        if r is not None:
            return r
        for key in self._prefixes:
            if model.startswith(key):
                return self.overrides[key]
        if kind == "mock" or provider == UNPRICED:
            return None
        return _snapshot_rates(kind, model, provider, day)

    def warm(self) -> None:
        """Load the bundled price snapshot now rather than on the first priced exchange."""
        _snapshot()

    # -- pricing --------------------------------------------------------------
    def price(
        self, provider_kind: str, model: str | None, usage: Usage | None, provider: str | None = None
    ) -> tuple[float | None, dict[str, Any] | None]:
        """``(cost_usd, breakdown)``, or ``(None, None)`` when it cannot be priced.

        ``provider`` (optional) is the configured provider name: its ``pricing_provider`` (or
        its preset's), else the name itself, is tried as a genai-prices provider id first
        (e.g. ``groq``, ``mistral``, ``azure``); ``none`` prices only from the config.
        """
        if not model or usage is None or not usage.known:
            return None, None
        try:
            rates = self.rates(provider_kind, model, provider)
        except Exception as e:  # a broken snapshot must never break the proxy
            log.warning("pricing lookup for %r failed: %s", model, e)
            return None, None
        if rates is None:
            return None, None
        return price_with(rates, usage)


def price_with(rates: Rates, usage: Usage) -> tuple[float, dict[str, Any]]:
    """Apply ``rates`` to ``usage``: ``(cost_usd, breakdown)``."""
    total_in = max(usage.input_tokens or 0, 0)
    cached = max(usage.cached_input_tokens or 0, 0)
    write = max(usage.cache_write_tokens or 0, 0)
    plain = max(total_in - cached - write, 0)
    out = max(usage.output_tokens or 0, 0)
    reasoning = max(usage.reasoning_tokens or 0, 0)

    p_in = _at(rates.input, total_in) or 0.0
    p_out = _at(rates.output, total_in) or 0.0
    p_cached = _at(rates.cached_input, total_in)
    p_write = _at(rates.cache_write, total_in)
    p_reason = _at(rates.reasoning, total_in)
    if p_cached is None:
        p_cached = p_in
    if p_write is None:
        p_write = p_in

    tokens = {"input": plain, "cached_input": cached, "cache_write": write}
    prices = {"input": p_in, "cached_input": p_cached, "cache_write": p_write, "output": p_out}
    if p_reason is not None:
        tokens["output"] = max(out - reasoning, 0)
        tokens["reasoning"] = min(reasoning, out) if out else reasoning
        prices["reasoning"] = p_reason
    else:
        tokens["output"] = out
    usd = {k: tokens[k] * prices[k] / 1_000_000 for k in tokens}
    total = math.fsum(usd.values())
    detail: dict[str, Any] = {
        "source": rates.source,
        "model": rates.model,
        "usd": usd,
        "tokens": tokens,
        "prices_per_million": prices,
        "total_usd": total,
    }
    if rates.provider:
        detail["provider"] = rates.provider
    if rates.source == "genai-prices":
        detail["genai_prices_version"] = _genai_version()
    return total, detail


# -- genai-prices (offline snapshot) ---------------------------------------------


@lru_cache(maxsize=1)
def _snapshot() -> Any:
    from genai_prices import data_snapshot

    bundled = getattr(data_snapshot, "_bundled_snapshot", None)
    return bundled() if bundled is not None else data_snapshot.get_snapshot()


@lru_cache(maxsize=1)
def _genai_version() -> str:
    try:
        from importlib.metadata import version

        return version("genai-prices")
    except Exception:  # pragma: no cover
        return "unknown"


def _to_price(v: Any) -> Price | None:
    if v is None:
        return None
    base = getattr(v, "base", None)
    if base is not None:  # TieredPrices
        return (float(base), tuple((int(t.start), float(t.price)) for t in v.tiers))
    return float(v)


def _snapshot_rates(kind: str, model: str, provider: str | None, day: _dt.date) -> Rates | None:
    snap = _snapshot()
    if "/models/" in model:  # a Vertex resource name: publishers/google/models/gemini-2.0-flash
        model = model.rsplit("/models/", 1)[1]
    candidates: list[str | None] = [pid for prefix, pid in _BY_MODEL_PREFIX.get(kind, ()) if model.startswith(prefix)]
    if provider:
        candidates.append(provider)
    if kind in _GENAI_PROVIDER:
        candidates.append(_GENAI_PROVIDER[kind])
    candidates.append(None)  # any provider whose model patterns match
    found = None
    for pid in dict.fromkeys(candidates):
        try:
            found = snap.find_provider_model(model, None, pid, None)
            break
        except LookupError:
            continue
    if found is None:
        d = _DIALECT_OF.get(kind)
        for pid, name in d.price_fallbacks(model) if d is not None else ():
            try:
                found = snap.find_provider_model(name, None, pid, None)
                break
            except LookupError:
                continue
    if found is None:
        return None
    prov, info = found
    when = _dt.datetime.combine(day, _dt.time(12), tzinfo=_dt.UTC)
    mp = info.get_prices(when)
    get = lambda name: getattr(mp, name, None)
    inp = _to_price(get("input_mtok"))
    out = _to_price(get("output_mtok"))
    if inp is None and out is None:
        return None  # priced per request/character/second only: not a token model
    return Rates(
        input=inp if inp is not None else 0.0,
        output=out if out is not None else 0.0,
        cached_input=_to_price(get("cache_read_mtok")),
        cache_write=_to_price(get("cache_write_mtok") or get("cache_write_5m_mtok")),
        reasoning=_to_price(get("output_reasoning_mtok")),
        source="genai-prices",
        model=info.id,
        provider=prov.id,
    )
