"""End to end with the real Envoy binary: client -> Envoy -> leash ext-proc -> fake provider.

Envoy runs the export's envoy.yaml template (the local variant: plain HTTP to
tests/fake_upstream.py, module hosts on loopback ports).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import yaml
from ep_support import REDIS_URL, LocalEnvoy, envoy_binary, need_redis

from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.extproc.server import ExtProcThread, build_host

pytestmark = pytest.mark.slow  # real Envoy end to end: each test starts Envoy and module hosts

CHAT = "/v1/openai/chat/completions"


def _providers(upstream) -> dict:
    return {
        "openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"},
        "anthropic": {"kind": "anthropic", "endpoint": upstream.url},
        "google": {"kind": "google", "endpoint": upstream.url},
        "mock": {"kind": "mock"},
    }


class Stack:
    def __init__(
        self,
        tmp: Path,
        upstream,
        modules: dict | None = None,
        replicas: int = 1,
        state: str | None = None,
        prefix: str | None = None,
        require_key: bool = False,
        gateway_key: str | None = None,
    ) -> None:
        providers = _providers(upstream)
        if gateway_key:
            providers["openai"]["api_key"] = gateway_key
        cfg: dict = {
            "providers": providers,
            "modules": modules or {},
            "gateway": {"require_virtual_key": require_key},
            "pricing": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}},
        }
        if state:
            cfg["state"] = state
        text = yaml.safe_dump(cfg)
        self.db = tmp / "leash.db"
        self.hosts: list[ExtProcThread] = []
        self.gateways = []
        for _ in range(replicas):
            gw = build_host(LoadedConfig(parse_config_text(text, "leash.yaml"), None, "flag"), self.db)
            if prefix is not None:
                gw.limits.prefix = prefix
            self.gateways.append(gw)
            self.hosts.append(ExtProcThread(gw))
        self.servers = [h.start() for h in self.hosts]
        self.envoy = LocalEnvoy(self.gateways[0].state.providers, [s.bound_port for s in self.servers], tmp)
        self.envoy.start(wait_healthy=replicas)
        self.client = httpx.Client(base_url=self.envoy.url, timeout=15)

    def flush(self) -> None:
        for gw in self.gateways:
            if gw.recorder is not None:
                gw.recorder.flush()

    def rows(self, sql: str, *args) -> list[tuple]:
        time.sleep(0.2)  # module sinks run as tasks after the answer
        self.flush()
        con = sqlite3.connect(self.db)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def close(self) -> None:
        self.client.close()
        self.envoy.stop()
        for h in self.hosts:
            h.stop()


@pytest.fixture
def stack(tmp_path, upstream):
    envoy_binary()
    made: list[Stack] = []

    def make(**kw) -> Stack:
        s = Stack(tmp_path, upstream, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def _chat(content: str, **extra) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


def test_allowed_request_is_recorded_with_usage_and_cost(stack, upstream):
    s = stack()
    r = s.client.post(CHAT, json=_chat("hello there"), headers={"authorization": "Bearer sk-client-key"})
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"
    rid = r.headers["x-leash-request-id"]
    assert float(r.headers["x-leash-overhead-ms"]) >= 0
    seen = upstream.last()
    assert seen.path == "/v1/chat/completions"  # /v1/openai/ rewritten to the provider's base path
    assert seen.headers["authorization"] == "Bearer sk-client-key"
    assert "accept-encoding" not in seen.headers
    rows = s.rows(
        "SELECT provider, model, status, outcome, input_tokens, output_tokens, cost_usd, path "
        "FROM requests WHERE id = ?",
        rid,
    )
    assert len(rows) == 1
    provider, model, status, outcome, tin, tout, cost, path = rows[0]
    assert (provider, model, status, outcome, path) == ("openai", "gpt-4o-mini", 200, "ok", "chat/completions")
    assert tin and tout and cost == pytest.approx((tin * 1.0 + tout * 2.0) / 1e6)


def test_anthropic_short_form_and_unknown_provider(stack, upstream):
    s = stack()
    body = {"model": "claude-3-5-haiku-latest", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    r = s.client.post("/v1/anthropic/messages", json=body, headers={"x-api-key": "sk-ant-x"})
    assert r.status_code == 200, r.text
    assert upstream.last().path == "/v1/messages"
    r = s.client.post("/v1/anthropic/v1/messages", json=body)
    assert r.status_code == 200 and upstream.last().path == "/v1/messages"
    r = s.client.post("/v1/nope/chat/completions", json=_chat("hi"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_provider"
    assert s.client.get("/health").json() == {"status": "ok"}


def test_policy_block_is_answered_by_envoy_with_the_module_status_and_body(stack, upstream):
    s = stack(
        modules={"content-filter": {"blocked_keywords": ["forbidden"]}, "model-policy": {"blocked_models": ["gpt-4"]}}
    )
    before = len(upstream.requests)
    r = s.client.post(CHAT, json=_chat("tell me the forbidden thing"))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["type"] == "permission_error" and err["code"] == "policy_violation"
    assert "content-filter" in err["message"]
    assert r.headers["x-leash-request-id"]
    body = {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "the forbidden word"}],
    }
    r = s.client.post("/v1/anthropic/messages", json=body)
    assert r.status_code == 403 and r.json()["type"] == "error"  # Anthropic's error shape
    assert len(upstream.requests) == before  # the provider never saw them
    r = s.client.post(CHAT, json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 403
    rows = s.rows("SELECT outcome, verdict, status FROM requests WHERE outcome = 'blocked'")
    assert len(rows) == 3 and all(v == "blocked" and st == 403 for _, v, st in rows)


def test_rate_limit_block_carries_retry_after(stack):
    s = stack(modules={"rate-limiter": {"requests_per_minute": 2, "per": ["global"]}})
    codes = [s.client.post(CHAT, json=_chat("hi")) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["retry-after"]) >= 1
    assert codes[2].json()["error"]["type"] == "rate_limit_error"


def test_email_is_redacted_before_the_upstream_sees_it(stack, upstream):
    s = stack(modules={"pii-detector": {"action": "redact"}})
    r = s.client.post(CHAT, json=_chat("write to alice.smith@example.com today"))
    assert r.status_code == 200, r.text
    seen = upstream.last()
    assert b"alice.smith@example.com" not in seen.body
    assert b"[EMAIL]" in seen.body
    assert int(seen.headers["content-length"]) == len(seen.body)
    rows = s.rows("SELECT verdict FROM requests WHERE id = ?", r.headers["x-leash-request-id"])
    assert rows == [("redacted",)]


def test_sse_stream_arrives_event_by_event(stack):
    s = stack()
    arrivals: list[tuple[float, bytes]] = []
    with s.client.stream("POST", CHAT, json=_chat("stream please", model="slow-stream", stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_raw():
            arrivals.append((time.perf_counter(), chunk))
    data = b"".join(c for _, c in arrivals)
    assert data.rstrip().endswith(b"data: [DONE]")
    assert len(arrivals) >= 4, "events were buffered instead of streamed"
    span = arrivals[-1][0] - arrivals[0][0]
    assert span > 0.6  # the fake provider spaces events 0.3 s apart; they were passed on as they came
    rows = s.rows("SELECT stream, outcome, output_tokens, ttft_ms FROM requests WHERE model = 'slow-stream'")
    assert rows and rows[0][0] == 1 and rows[0][1] == "ok" and rows[0][2]


def test_module_host_down_fails_closed_with_a_clean_503(stack, upstream):
    s = stack()
    assert s.client.post(CHAT, json=_chat("hi")).status_code == 200
    for h in s.hosts:
        h.stop()
    before = len(upstream.requests)
    r = s.client.post(CHAT, json=_chat("hi"))
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == "policy_unavailable"
    assert "grpc" not in r.text.lower() and "ext_proc" not in r.text and "reset" not in r.text
    assert len(upstream.requests) == before  # fail closed: nothing reached the provider


def test_two_replicas_share_one_rate_limit_through_redis(stack, redis_prefix):
    need_redis()
    s = stack(
        modules={"rate-limiter": {"requests_per_minute": 4, "per": ["global"]}},
        replicas=2,
        state=REDIS_URL,
        prefix=redis_prefix,
    )
    codes = [s.client.post(CHAT, json=_chat(f"hi {i}")).status_code for i in range(8)]
    assert codes.count(200) == 4 and codes.count(429) == 4, codes
    served = s.rows("SELECT count(*) FROM requests")
    assert served[0][0] == 8
    # both replicas took traffic (Envoy round-robins the module hosts)
    assert all(gw.metrics.requests._metrics for gw in s.gateways)


def test_response_block_replaces_status_and_body(stack):
    s = stack(
        modules={"content-filter": {"blocked_keywords": ["mock"], "check_requests": False, "check_responses": True}}
    )
    r = s.client.post(CHAT, json=_chat("hi"))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "policy_violation"
    assert "mock provider" not in r.text
    rows = s.rows("SELECT outcome, status FROM requests WHERE id = ?", r.headers["x-leash-request-id"])
    assert rows == [("blocked", 403)]


def test_response_redaction_buffered_and_streamed(stack):
    s = stack(
        modules={
            "content-filter": {
                "blocked_keywords": ["mock"],
                "check_requests": False,
                "check_responses": True,
                "action": "redact",
            }
        }
    )
    r = s.client.post(CHAT, json=_chat("hi"))
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert "mock" not in text and "[REDACTED]" in text
    assert int(r.headers["content-length"]) == len(r.content)
    with s.client.stream("POST", CHAT, json=_chat("hi", stream=True)) as r:
        data = b"".join(r.iter_raw())
    assert r.status_code == 200
    import json

    text = "".join(
        (json.loads(line[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for line in data.decode().splitlines()
        if line.startswith("data: {")
    )
    assert "mock" not in text and "[REDACTED]" in text
    assert data.rstrip().endswith(b"data: [DONE]")


def test_a_large_prompt_passes(stack, upstream):
    s = stack()
    big = "lorem ipsum " * (9 * 1024 * 1024 // 12)  # ~9 MiB: under leash's 10 MiB limit
    r = s.client.post(CHAT, json=_chat(big), timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert len(upstream.last().body) > 9 * 1024 * 1024 - 100
    r = s.client.post(CHAT, json=_chat(big + big), timeout=60)
    assert r.status_code == 413


def test_a_leash_key_is_required_behind_envoy_by_default(tmp_path, upstream):
    """Behind Envoy the clients are remote: without a leash key nobody spends the gateway's provider key."""
    from leash_cli.keys import create_key

    s = Stack(tmp_path, upstream, require_key=True, gateway_key="sk-held-by-the-gateway-0123456789")
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        before = len(upstream.requests)
        r = s.client.post(CHAT, json=body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "virtual_key_required"
        assert len(upstream.requests) == before
        key, _ = create_key(s.db, "acme")
        deadline = time.monotonic() + 5  # the keyring reloads at most once a second
        while (r := s.client.post(CHAT, json=body, headers={"authorization": f"Bearer {key}"})).status_code != 200:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)
        assert upstream.last().headers["authorization"] == "Bearer sk-held-by-the-gateway-0123456789"
    finally:
        s.close()


def test_response_cache_hits_are_answered_by_the_module_host_through_the_response_policy(stack, upstream):
    s = stack(modules={"response-cache": {"backend": "memory"}}, gateway_key="sk-gateway-held-key")
    n0 = len(upstream.requests)
    first = s.client.post(CHAT, json=_chat("cache me"))
    time.sleep(0.3)  # the entry is stored by the sink, after the answer
    second = s.client.post(CHAT, json=_chat("cache me"))
    assert first.status_code == second.status_code == 200
    assert first.headers["x-leash-cache"] == "miss" and second.headers["x-leash-cache"] == "hit"
    assert first.json()["choices"] == second.json()["choices"]
    assert sum(1 for r in upstream.requests[n0:] if r.path.endswith("chat/completions")) == 1
    events = []
    for _ in range(2):
        with s.client.stream("POST", CHAT, json=_chat("cache my stream", stream=True)) as r:
            events.append((r.headers["x-leash-cache"], r.read().decode()))
        time.sleep(0.3)
    (m, a), (h, b) = events
    assert (m, h) == ("miss", "hit") and a == b and b.rstrip().endswith("data: [DONE]")
    costs = s.rows("SELECT cost_usd, cost_detail FROM requests ORDER BY started_at")
    assert [c for c, _ in costs][-3:] == [0.0, costs[-2][0], 0.0] and '"cache":"hit"' in costs[-1][1]
