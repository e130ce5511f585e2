"""429s a retry cannot fix say so (issue #24 item 8).

A budget or a quota refuses until its window resets (hours away): the gateway sends
`x-should-retry: false` so the official SDKs, with their default retries, give up at once
instead of sleeping for the `retry-after` (the Anthropic SDK sleeps for whatever it says).
A rate limit keeps `retry-after` and lets the SDK retry.  The SDKs' sleep is recorded, not
waited for; the attempts are counted where they land: the gateway's history.
"""

from __future__ import annotations

import sqlite3

import anthropic
import httpx
import openai
import pytest


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The SDKs' retry sleeps, recorded instead of slept."""
    seen: list[float] = []
    import anthropic._base_client as ab
    import openai._base_client as ob

    class _Time:
        def __init__(self, real):
            self._real = real

        def __getattr__(self, name):
            return getattr(self._real, name)

        def sleep(self, seconds):
            seen.append(seconds)

    monkeypatch.setattr(ob, "time", _Time(ob.time))
    monkeypatch.setattr(ab, "time", _Time(ab.time))
    return seen


def _attempts(gw, model: str) -> list[tuple[int, str]]:
    gw.flush()
    con = sqlite3.connect(gw.db_path)
    try:
        return con.execute(
            "SELECT status, outcome FROM requests WHERE model = ? ORDER BY started_at", (model,)
        ).fetchall()
    finally:
        con.close()


PRICING = {"gpt-4o-mini": {"input": 1.0, "output": 2.0}, "claude-3-5-haiku-latest": {"input": 1.0, "output": 2.0}}


def test_a_budget_429_is_not_retried_by_the_openai_sdk(start_gateway, upstream, sleeps):
    gw = start_gateway({"pricing": PRICING, "modules": {"cost-tracker": {"limit_usd": 0.00002, "per": ["global"]}}})
    before = len(upstream.requests)
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-x")  # default retries (2)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    h = e.value.response.headers
    assert h["x-should-retry"] == "false"
    assert int(h["retry-after"]) > 60  # still says when the window resets
    assert e.value.response.json()["error"]["code"] == "budget_exceeded"
    assert sleeps == []
    assert len(_attempts(gw, "gpt-4o-mini")) == 1
    assert len(upstream.requests) == before


def test_a_budget_429_is_not_retried_by_the_anthropic_sdk(start_gateway, upstream, sleeps):
    gw = start_gateway({"pricing": PRICING, "modules": {"cost-tracker": {"limit_usd": 0.00002, "per": ["global"]}}})
    client = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="sk-ant-x")  # default retries (2)
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=500, messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.response.headers["x-should-retry"] == "false"
    assert sleeps == []  # not 63418 s
    assert len(_attempts(gw, "claude-3-5-haiku-latest")) == 1


@pytest.mark.parametrize("quota", [{"requests_per_day": 1}, {"requests_per_hour": 1}, {"tokens_per_day": 1}])
def test_a_quota_429_is_not_retried(start_gateway, sleeps, quota):
    gw = start_gateway({"tenants": {"acme": {"quotas": quota}}})
    client = anthropic.Anthropic(
        base_url=gw.base("anthropic"), api_key="sk-ant-x", default_headers={"x-leash-tenant": "acme"}
    )
    client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert e.value.response.headers["x-should-retry"] == "false"
    assert e.value.response.json()["error"]["type"] == "rate_limit_error"
    assert sleeps == []
    assert [s for s, _ in _attempts(gw, "claude-3-5-haiku-latest")] == [200, 429]


def test_a_rate_limit_429_keeps_retry_after_and_may_be_retried(start_gateway, sleeps):
    gw = start_gateway({"modules": {"rate-limiter": {"requests_per_minute": 1, "per": ["global"]}}})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{gw.base('openai')}/chat/completions", json=body, timeout=10).status_code == 200
    r = httpx.post(f"{gw.base('openai')}/chat/completions", json=body, timeout=10)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "x-should-retry" not in r.headers
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-x", max_retries=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(**body)
    assert len(sleeps) == 1 and 1 <= sleeps[0] <= 60  # the SDK waits as told, then tries again


def test_a_rate_limit_of_a_day_says_a_retry_will_not_help(start_gateway, sleeps):
    """retry-after of hours: kept, and x-should-retry: false, since no client waits that long."""
    gw = start_gateway({"modules": {"rate-limiter": {"requests_per_day": 1, "per": ["global"]}}})
    client = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="sk-ant-x")
    client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    h = e.value.response.headers
    assert int(h["retry-after"]) > 60 and h["x-should-retry"] == "false"
    assert e.value.response.json()["error"]["type"] == "rate_limit_error"
    assert sleeps == []
