"""response-cache through a real gateway and the official SDKs: exact match per tenant, streams
replayed as streams, cache-control honoured, a hit still passes the current response policy,
costs nothing and is recorded as a hit; limits and expiry in the stores themselves."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import typer
import yaml
from typer.testing import CliRunner

from leash_cli.cache import Entry, MemoryCache, RedisCache, SqliteCache
from leash_cli.commands import history
from leash_cli.server import reload_config
from leash_cli.store import open_readonly

MSG = [{"role": "user", "content": "What is the capital of France?"}]


HELD = {"openai": {"api_key": "sk-gateway-held-key"}}  # the cache shares answers only where the gateway holds the key


def _cache(**settings: Any) -> dict[str, Any]:
    return {"modules": {"response-cache": settings}}


def _calls(upstream: Any, n0: int) -> int:
    return sum(1 for r in upstream.requests[n0:] if r.path.endswith("chat/completions"))


def _rows(gw: Any) -> list[dict[str, Any]]:
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        return [
            dict(r)
            for r in db.query(
                "select tenant, status, outcome, verdict, cost_usd, cost_detail, input_tokens from requests"
                " order by started_at"
            )
        ]
    finally:
        db.close()


def test_a_repeated_request_is_answered_from_the_cache_costs_nothing_and_is_recorded_as_a_hit(start_gateway, upstream):
    gw = start_gateway(_cache(), providers_extra=HELD)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    n0 = len(upstream.requests)
    first = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
    gw.flush()  # the entry is written by the module's sink, just after the answer
    second = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
    assert _calls(upstream, n0) == 1
    assert first.headers["x-leash-cache"] == "miss" and second.headers["x-leash-cache"] == "hit"
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content and a.id == b.id
    miss, hit = _rows(gw)[-2:]
    assert miss["cost_usd"] and miss["cost_usd"] > 0 and '"cache":"miss"' in miss["cost_detail"]
    assert hit["cost_usd"] == 0 and hit["input_tokens"] is None and hit["status"] == 200
    detail = json.loads(hit["cost_detail"])
    assert detail["cache"] == "hit" and detail["saved_usd"] == pytest.approx(miss["cost_usd"])
    # any change of model, messages or parameters is another request
    c.chat.completions.create(model="gpt-4o-mini", messages=MSG, temperature=0.5)
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    assert _calls(upstream, n0) == 3
    gw.flush()  # the last exchange is counted when it ends, which can be just after its client has the answer
    m = httpx.get(f"{gw.url}/metrics").text
    assert 'leash_cache_requests_total{provider="openai",result="hit"} 1.0' in m
    assert 'leash_cache_requests_total{provider="openai",result="miss"} 3.0' in m
    app = typer.Typer()
    app.command("stats")(history.stats)
    out = CliRunner().invoke(app, ["--db", str(gw.db_path), "--json"])
    assert out.exit_code == 0, out.output
    (totals,) = json.loads(out.stdout)["groups"]
    assert (totals["cache_hits"], totals["cache_misses"]) == (1, 3)
    table = CliRunner().invoke(app, ["--db", str(gw.db_path)], env={"COLUMNS": "200"}).stdout
    assert "cache hits" in table and "1 (25%)" in table


def test_answers_to_a_clients_own_provider_key_are_never_cached(start_gateway, upstream):
    """With the client's key passed through, an answer belongs to that key's account: a caller with
    another (or a wrong) key must get the provider's own answer, never a stored one."""
    gw = start_gateway(_cache())  # the provider holds no key: clients send their own
    n0 = len(upstream.requests)
    for key in ("sk-alice", "sk-mallory"):
        c = openai.OpenAI(base_url=gw.base("openai"), api_key=key, max_retries=0)
        r = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG)
        assert "x-leash-cache" not in r.headers
        gw.flush()
    assert _calls(upstream, n0) == 2
    assert [r.headers["authorization"] for r in upstream.requests[n0:]] == ["Bearer sk-alice", "Bearer sk-mallory"]


def test_tenants_never_share_an_entry(start_gateway, upstream):
    gw = start_gateway(_cache(), providers_extra=HELD)
    n0 = len(upstream.requests)
    for tenant in ("acme", "globex", "acme"):
        c = openai.OpenAI(
            base_url=gw.base("openai"), api_key="k", max_retries=0, default_headers={"x-leash-tenant": tenant}
        )
        c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
        gw.flush()
    assert _calls(upstream, n0) == 2  # acme, globex; acme's second from its own entry
    rows = _rows(gw)[-3:]
    assert [(r["tenant"], '"cache":"hit"' in r["cost_detail"]) for r in rows] == [
        ("acme", False),
        ("globex", False),
        ("acme", True),
    ]


def test_a_streamed_request_is_replayed_as_a_proper_stream(start_gateway, upstream):
    gw = start_gateway(_cache(), providers_extra=HELD)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    n0 = len(upstream.requests)
    texts = []
    for _ in range(2):
        pieces = []
        with c.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=MSG, stream=True) as r:
            cache = r.headers["x-leash-cache"]
            for ch in r.parse():
                if ch.choices and ch.choices[0].delta.content:
                    pieces.append(ch.choices[0].delta.content)
        texts.append((cache, pieces))
        gw.flush()
    assert _calls(upstream, n0) == 1
    (m, a), (h, b) = texts
    assert (m, h) == ("miss", "hit") and a == b and len(b) > 1  # chunk by chunk, as recorded
    # a buffered request for the same conversation is another request
    c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert _calls(upstream, n0) == 2


def test_cache_control_no_cache_and_no_store_are_honoured(start_gateway, upstream):
    gw = start_gateway(_cache(), providers_extra=HELD)
    n0 = len(upstream.requests)

    def ask(cc: str | None) -> str:
        headers = {"cache-control": cc} if cc else {}
        c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0, default_headers=headers)
        got = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG).headers["x-leash-cache"]
        gw.flush()
        return got

    assert ask("no-store") == "miss"  # not looked up, not stored
    assert ask(None) == "miss"
    assert _calls(upstream, n0) == 2
    assert ask("no-cache") == "miss"  # not looked up (the provider answers), stored again
    assert _calls(upstream, n0) == 3
    assert ask("max-age=0, no-store") == "miss"
    assert ask(None) == "hit"
    assert _calls(upstream, n0) == 4


def test_a_hit_still_passes_the_current_response_policy(start_gateway, upstream, tmp_path: Path):
    gw = start_gateway(_cache(), providers_extra=HELD)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    c.chat.completions.create(model="gpt-4o-mini", messages=MSG)  # stored: it passed the policy of then
    gw.flush()
    stricter = {
        "providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1", **HELD["openai"]}},
        "modules": {
            "content-filter": {
                "blocked_keywords": ["leash mock provider"],
                "check_requests": False,
                "check_responses": True,
            },
            "response-cache": {},
        },
    }
    path = tmp_path / "stricter.yaml"
    path.write_text(yaml.safe_dump(stricter))
    assert reload_config(gw.gateway, path)
    n0 = len(upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as e:
        c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert e.value.response.headers["x-leash-cache"] == "hit"
    assert _calls(upstream, n0) == 0
    row = _rows(gw)[-1]
    assert row["verdict"] == "blocked" and row["outcome"] == "blocked"


def test_errors_blocked_requests_and_redacted_answers_are_not_stored(start_gateway, upstream):
    gw = start_gateway(
        {
            "modules": {
                "content-filter": {"blocked_keywords": ["forbidden"]},
                "pii-detector": {"action": "redact", "check_requests": False},
                "response-cache": {},
            }
        },
        providers_extra=HELD,
    )
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    n0 = len(upstream.requests)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="mock-error-500", messages=MSG)
    assert sum(1 for r in upstream.requests[n0:] if r.path.endswith("chat/completions")) == 2
    for _ in range(2):
        with pytest.raises(openai.PermissionDeniedError) as e:
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "forbidden"}])
        assert "x-leash-cache" not in e.value.response.headers  # blocked before the cache
    # the answer echoes the prompt's e-mail: redacted on the way back (only), so never stored
    pii = [{"role": "user", "content": "Mail jane.doe@example.org please"}]
    n1 = len(upstream.requests)
    for _ in range(2):
        r = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=pii)
        gw.flush()
        assert r.headers["x-leash-cache"] == "miss"
    assert _calls(upstream, n1) == 2


@pytest.mark.slow
def test_a_reply_expires_after_the_ttl(start_gateway, upstream):
    gw = start_gateway(_cache(ttl="2s"), providers_extra=HELD)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    n0 = len(upstream.requests)
    c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    gw.flush()  # the entry is written by the sink, after the answer
    assert (
        c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG).headers["x-leash-cache"] == "hit"
    )
    time.sleep(2.2)
    assert (
        c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG).headers["x-leash-cache"]
        == "miss"
    )
    assert _calls(upstream, n0) == 2


def test_the_sqlite_store_is_private_bounded_in_entries_and_bytes_and_survives_a_restart(tmp_path: Path):
    path = tmp_path / "c" / "cache.db"

    async def go() -> None:
        s = SqliteCache(path, max_entries=3, max_bytes=1000)
        for i in range(5):
            await s.put(f"k{i}", "t", Entry(200, "application/json", b"x" * 100, 0), 60)
        assert s.stats() == (3, 300)
        assert await s.get("k0") is None and (await s.get("k4")) is not None  # the oldest went first
        await s.put("big", "t", Entry(200, "application/json", b"y" * 900, 0), 60)
        n, size = s.stats()
        assert size <= 1000 and await s.get("big") is not None
        s.close()
        again = SqliteCache(path, max_entries=3, max_bytes=1000)
        e = await again.get("big")
        assert e is not None and e.body == b"y" * 900 and e.content_type == "application/json"
        again.close()

    asyncio.run(go())
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_the_memory_store_evicts_the_oldest_and_expires():
    async def go() -> None:
        s = MemoryCache(max_entries=2, max_bytes=10_000)
        for i in range(3):
            await s.put(f"k{i}", "t", Entry(200, "a", b"1", 0), 60)
        assert await s.get("k0") is None and await s.get("k2") is not None
        await s.put("short", "t", Entry(200, "a", b"1", 0), 0.01)
        await asyncio.sleep(0.05)
        assert await s.get("short") is None

    asyncio.run(go())


def test_the_redis_store_shares_entries_with_an_expiry(monkeypatch):
    redis_asyncio = pytest.importorskip("redis.asyncio")

    async def go() -> None:
        client = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/15")
        try:
            await client.ping()
        except Exception as e:
            if os.environ.get("LEASH_REQUIRE_REDIS") == "1":
                raise
            pytest.skip(f"no Redis on 127.0.0.1:6379 ({e})")
        prefix = f"leash:test-cache:{os.getpid()}:"
        a, b = RedisCache(client, prefix), RedisCache(client, prefix)
        await a.put("k", "t", Entry(200, "text/event-stream", b"data: 1\n\n", 0), 0.3)
        got = await b.get("k")
        assert got is not None and got.body == b"data: 1\n\n" and got.content_type == "text/event-stream"
        ttl = await client.pttl(prefix + "k")
        assert 0 < ttl <= 300
        await asyncio.sleep(0.4)
        assert await b.get("k") is None
        await client.aclose()

    asyncio.run(go())
