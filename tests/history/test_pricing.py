"""Exact costs, hand-computed.  Prices are USD per million tokens."""

from __future__ import annotations

import datetime as dt
import socket

import genai_prices
import pytest

from leash_cli.config import PriceConfig
from leash_cli.exchange import Usage
from leash_cli.pricing import Pricer
from leash_cli.usage import UsageTracker

from .samples import (
    ANTHROPIC_JSON,
    ANTHROPIC_SSE,
    GEMINI_JSON,
    GEMINI_SSE,
    OPENAI_CHAT_JSON,
    OPENAI_CHAT_SSE,
    OPENAI_RESPONSES_SSE,
    exchange,
    split_sse,
)

M = 1_000_000


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Pricing must never touch the network."""

    def refuse(*a, **kw):
        raise AssertionError("pricing tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def tracked(ex, body: bytes | None = None, stream: bytes | None = None):
    t = UsageTracker(ex)
    if body is not None:
        t.on_json(body)
    for e, d, r in split_sse(stream or b""):
        t.on_event(e, d, r)
    t.finish()
    return ex


def snapshot_total(model: str, provider: str, **usage) -> float:
    """genai-prices' own arithmetic, to cross-check ours."""
    calc = genai_prices.calc_price(
        genai_prices.Usage(**usage), model, provider_id=provider, genai_request_timestamp=dt.datetime.now(dt.UTC)
    )
    return float(calc.total_price)


# -- OpenAI ----------------------------------------------------------------------------------


def test_openai_gpt4o_stream_with_cached_input():
    ex = tracked(exchange(stream=True), stream=OPENAI_CHAT_SSE)  # model gpt-4o-2024-08-06 from the stream
    cost, detail = Pricer().price("openai", ex.model, ex.usage)
    r = Pricer().rates("openai", "gpt-4o")
    # the snapshot's gpt-4o prices ...
    assert (r.input, r.cached_input, r.output) == (2.5, 1.25, 10.0)
    expected = (1000 - 200) * r.input / M + 200 * r.cached_input / M + 500 * r.output / M
    assert cost == pytest.approx(expected, rel=1e-12)
    # ... and the number checked by hand: 800*2.5 + 200*1.25 + 500*10 = 2000 + 250 + 5000 = 7250 per million
    assert cost == pytest.approx((1000 - 200) * 2.5 / 1e6 + 200 * 1.25 / 1e6 + 500 * 10 / 1e6)
    assert cost == pytest.approx(0.00725)
    assert cost == pytest.approx(
        snapshot_total("gpt-4o", "openai", input_tokens=1000, cache_read_tokens=200, output_tokens=500)
    )
    assert detail["source"] == "genai-prices"
    assert detail["model"] == "gpt-4o"
    assert detail["tokens"] == {"input": 800, "cached_input": 200, "cache_write": 0, "output": 500}
    assert detail["usd"]["input"] == pytest.approx(800 * 2.5 / M)
    assert detail["usd"]["cached_input"] == pytest.approx(200 * 1.25 / M)
    assert detail["usd"]["output"] == pytest.approx(500 * 10 / M)
    assert detail["prices_per_million"]["input"] == 2.5
    assert detail["total_usd"] == pytest.approx(cost)


def test_openai_o3_mini_json_with_reasoning():
    ex = tracked(exchange(), body=OPENAI_CHAT_JSON)  # 1000 in (200 cached), 500 out (100 reasoning)
    cost, detail = Pricer().price("openai", ex.model, ex.usage)
    r = Pricer().rates("openai", "o3-mini")
    assert (r.input, r.cached_input, r.output) == (1.1, 0.55, 4.4)
    # reasoning tokens are output tokens, billed at the output price
    assert cost == pytest.approx((1000 - 200) * 1.1 / 1e6 + 200 * 0.55 / 1e6 + 500 * 4.4 / 1e6)
    assert cost == pytest.approx(0.00319)
    assert cost == pytest.approx(
        snapshot_total("o3-mini", "openai", input_tokens=1000, cache_read_tokens=200, output_tokens=500)
    )
    assert detail["tokens"]["output"] == 500


def test_openai_responses_stream():
    ex = tracked(exchange(path="responses", stream=True), stream=OPENAI_RESPONSES_SSE)
    cost, _ = Pricer().price("openai", ex.model, ex.usage)  # o4-mini-2025-04-16
    r = Pricer().rates("openai", "o4-mini")
    assert (r.input, r.cached_input, r.output) == (1.1, 0.275, 4.4)
    assert cost == pytest.approx(800 * 1.1 / 1e6 + 200 * 0.275 / 1e6 + 500 * 4.4 / 1e6)


def test_embeddings_have_no_output():
    cost, detail = Pricer().price("openai", "text-embedding-3-small", Usage(input_tokens=8))
    assert cost == pytest.approx(8 * 0.02 / 1e6)
    assert detail["tokens"]["output"] == 0


# -- Anthropic --------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
def test_anthropic_cache_read_and_write(streamed):
    ex = exchange(api="anthropic", path="v1/messages", stream=streamed)
    ex = tracked(ex, stream=ANTHROPIC_SSE) if streamed else tracked(ex, body=ANTHROPIC_JSON)
    cost, detail = Pricer().price("anthropic", ex.model, ex.usage)
    r = Pricer().rates("anthropic", "claude-sonnet-4-20250514")
    assert (r.input, r.cached_input, r.cache_write, r.output) == (3.0, 0.3, 3.75, 15.0)
    # 500 plain input, 200 cache reads, 300 cache writes (5 minute), 400 output
    assert cost == pytest.approx(500 * 3 / 1e6 + 200 * 0.3 / 1e6 + 300 * 3.75 / 1e6 + 400 * 15 / 1e6)
    assert cost == pytest.approx(0.008685)
    assert cost == pytest.approx(
        snapshot_total(
            "claude-sonnet-4-20250514",
            "anthropic",
            input_tokens=1000,
            cache_read_tokens=200,
            cache_write_tokens=300,
            output_tokens=400,
        )
    )
    assert detail["tokens"] == {"input": 500, "cached_input": 200, "cache_write": 300, "output": 400}


# -- Gemini ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
def test_gemini_thoughts_are_output(streamed):
    ex = exchange(api="google", path="x", stream=streamed)
    ex = tracked(ex, stream=GEMINI_SSE) if streamed else tracked(ex, body=GEMINI_JSON)
    cost, detail = Pricer().price("google", ex.model, ex.usage)
    r = Pricer().rates("google", "gemini-2.5-flash")
    assert (r.input, r.cached_input, r.output) == (0.3, 0.03, 2.5)
    # 600 plain input + 400 cached; output = 300 candidates + 200 thoughts
    assert cost == pytest.approx((1000 - 400) * 0.3 / 1e6 + 400 * 0.03 / 1e6 + (300 + 200) * 2.5 / 1e6)
    assert cost == pytest.approx(0.001442)
    assert cost == pytest.approx(
        snapshot_total("gemini-2.5-flash", "google", input_tokens=1000, cache_read_tokens=400, output_tokens=500)
    )


def test_gemini_pro_tier_above_200k_prompt_tokens():
    p = Pricer()
    small, _ = p.price("google", "gemini-2.5-pro", Usage(input_tokens=1000, output_tokens=100))
    big, detail = p.price("google", "gemini-2.5-pro", Usage(input_tokens=300_000, output_tokens=100))
    assert small == pytest.approx(1000 * 1.25 / 1e6 + 100 * 10 / 1e6)
    assert big == pytest.approx(300_000 * 2.5 / 1e6 + 100 * 15 / 1e6)
    assert big == pytest.approx(snapshot_total("gemini-2.5-pro", "google", input_tokens=300_000, output_tokens=100))
    assert detail["prices_per_million"]["input"] == 2.5


# -- config overrides, unknowns ---------------------------------------------------------------------


def test_config_override_wins_exact_then_longest_prefix():
    p = Pricer(
        {
            "gpt-4": PriceConfig(input=30, output=60),
            "gpt-4o": PriceConfig(input=5, output=15, cached_input=2.5),
            "my-local-model": PriceConfig(input=0.1, output=0.2),
        }
    )
    u = Usage(input_tokens=1000, cached_input_tokens=200, output_tokens=500)
    cost, detail = p.price("openai", "gpt-4o-2024-08-06", u)  # longest prefix: gpt-4o, not gpt-4
    assert cost == pytest.approx(800 * 5 / 1e6 + 200 * 2.5 / 1e6 + 500 * 15 / 1e6)
    assert detail["source"] == "config" and detail["model"] == "gpt-4o"
    cost, detail = p.price("openai", "GPT-4-turbo", u)  # case-insensitive; no cached price -> input price
    assert cost == pytest.approx(1000 * 30 / 1e6 + 500 * 60 / 1e6)
    assert detail["model"] == "gpt-4"
    cost, _ = p.price("mock", "my-local-model", Usage(input_tokens=10, output_tokens=10))
    assert cost == pytest.approx(10 * 0.1 / 1e6 + 10 * 0.2 / 1e6)


def test_config_reasoning_and_cache_write_prices():
    p = Pricer({"thinker": PriceConfig(input=1, output=4, cached_input=0.5, cache_write=2, reasoning=8)})
    u = Usage(
        input_tokens=1000, cached_input_tokens=100, cache_write_tokens=300, output_tokens=500, reasoning_tokens=200
    )
    cost, detail = p.price("anthropic", "thinker", u)
    assert cost == pytest.approx(600 * 1 / 1e6 + 100 * 0.5 / 1e6 + 300 * 2 / 1e6 + 300 * 4 / 1e6 + 200 * 8 / 1e6)
    assert detail["tokens"] == {"input": 600, "cached_input": 100, "cache_write": 300, "output": 300, "reasoning": 200}


@pytest.mark.parametrize(
    "kind, model, usage",
    [
        ("openai", "totally-unknown-model-xyz", Usage(input_tokens=10, output_tokens=10)),
        ("openai", "gpt-4o", Usage()),  # no usage reported
        ("openai", "gpt-4o", None),
        ("openai", None, Usage(input_tokens=10, output_tokens=10)),
        ("mock", "gpt-4o", Usage(input_tokens=10, output_tokens=10)),  # the mock costs nothing real
    ],
)
def test_unpriced_is_none_never_zero(kind, model, usage):
    assert Pricer().price(kind, model, usage) == (None, None)


def test_other_provider_models_are_found_by_name():
    # an openai-kind provider serving Claude/Gemini/Mistral models (e.g. through a compatible gateway)
    cost, detail = Pricer().price("openai", "mistral-large-latest", Usage(input_tokens=1000, output_tokens=1000))
    assert cost is not None and detail["provider"] == "mistral"


def test_lookups_are_cached():
    p = Pricer()
    for _ in range(3):
        p.price("openai", "gpt-4o", Usage(input_tokens=1, output_tokens=1))
    info = p._lookup.cache_info()
    assert info.misses == 1 and info.hits == 2
