"""Deployments, balancing, retries, fallbacks and circuit breakers (#20 items 2-5), driven by the official SDKs
(their own retries off, so every retry counted here is leash's) against several fake upstreams that misbehave
on cue."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from aiohttp import web

from fake_upstream import FakeUpstream, Seen
from leash_cli.config import ConfigError, parse_config_text
from leash_cli.core.balance import Deployment, pick
from leash_cli.core.breaker import CLOSED, HALF_OPEN, OPEN, Breaker

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
KEYS = {name: f"sk-proj-ROUTINGcanary{name}0123456789abcdefXYZ" for name in ("east", "west", "north", "south")}


class Scripted(FakeUpstream):
    """A fake upstream that plays queued faults first (then answers normally, or plays `always`)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.script: list[tuple[Any, ...]] = []
        self.always: tuple[Any, ...] | None = None
        self.probes = 0

    def seen(self, path_part: str = "") -> list[Seen]:
        return [r for r in self.requests if path_part in r.path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path.endswith("/models"):
            self.probes += 1
            fault = self.always
            if fault is not None and fault[0] == "status":
                return web.json_response({"error": {"message": "down"}}, status=fault[1])
            return web.json_response({"object": "list", "data": []})
        fault = self.script.pop(0) if self.script else self.always
        if fault is None:
            return await super().handle(request)
        body = await request.read()
        self.requests.append(
            Seen(
                request.method,
                request.path,
                request.query_string,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        kind = fault[0]
        if kind == "status":
            status, headers = fault[1], (fault[2] if len(fault) > 2 else {})
            if request.path.startswith("/v1/messages"):
                err = {"type": "error", "error": {"type": "overloaded_error", "message": "upstream busy"}}
            else:
                err = {"error": {"message": "upstream busy", "type": "server_error", "code": None}}
            return web.json_response(err, status=status, headers=headers)
        if kind == "reset":  # the whole request was read: the upstream saw it, then the connection drops
            request.transport.abort()  # type: ignore[union-attr]
            await asyncio.sleep(1)
            return web.Response(status=500)
        if kind == "slow":
            await asyncio.sleep(fault[1])
            self.requests.pop()  # the normal answer records it again
            return await super().handle(request)
        if kind == "hold":  # answer once the test sets the event (fault[1])
            await asyncio.get_running_loop().run_in_executor(None, fault[1].wait, 10)
            self.requests.pop()
            return await super().handle(request)
        raise AssertionError(f"unknown fault {fault!r}")


@pytest.fixture
def ups() -> Iterator[dict[str, Scripted]]:
    servers = {name: Scripted().start() for name in ("east", "west", "north", "south")}
    yield servers
    for s in servers.values():
        s.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dep(ups: dict[str, Scripted], name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "endpoint": f"{ups[name].url}/v1", "api_key": KEYS[name], **extra}


def oa(gw, provider: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base(provider), api_key="sk-client", max_retries=0, timeout=20)


def metric(gw, name: str, **labels: str) -> float | None:
    text = httpx.get(f"{gw.url}/metrics", timeout=5).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            got = line[len(name) + 1 : line.index("}")]
            if ",".join(sorted(got.split(","))) == want:
                return float(line.rsplit(" ", 1)[1])
    return None


def health(gw) -> dict[str, Any]:
    r = httpx.get(f"{gw.url}/health", timeout=5)
    assert r.status_code == 200
    return r.json()["providers"]


def chat_raw(client: openai.OpenAI, **kw: Any):
    return client.chat.completions.with_raw_response.create(**{**CHAT, **kw})


# -- retries --------------------------------------------------------------------------------


def test_429_with_retry_after_goes_to_the_other_deployment(start_gateway, ups):
    ups["east"].script.append(("status", 429, {"retry-after": "30"}))
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "ordered",
                    "deployments": [dep(ups, "east"), dep(ups, "west")],
                    "retry": {"attempts": 2, "backoff": "10ms", "max_backoff": "50ms"},
                }
            }
        }
    )
    raw = chat_raw(oa(gw))
    assert raw.http_response.status_code == 200
    assert raw.headers["x-leash-provider"] == "openai"
    assert raw.headers["x-leash-deployment"] == "west"
    assert len(ups["east"].seen("chat")) == 1 and len(ups["west"].seen("chat")) == 1
    # each deployment got its own key, never the client's
    assert ups["east"].seen("chat")[0].headers["authorization"] == f"Bearer {KEYS['east']}"
    assert ups["west"].seen("chat")[0].headers["authorization"] == f"Bearer {KEYS['west']}"
    # east cools down for its Retry-After: the next request goes to west without trying east
    assert chat_raw(oa(gw)).headers["x-leash-deployment"] == "west"
    assert len(ups["east"].seen("chat")) == 1
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="east", reason="429") == 1
    assert metric(gw, "leash_upstream_attempts_total", provider="openai", deployment="east") == 1
    assert metric(gw, "leash_upstream_attempts_total", provider="openai", deployment="west") == 2
    h = health(gw)["openai"]
    assert h["balance"] == "ordered"
    assert h["deployments"]["east"]["available"] is False and h["deployments"]["east"]["cooldown_s"] > 20
    assert h["deployments"]["west"]["available"] is True
    assert KEYS["east"] not in httpx.get(f"{gw.url}/health").text


def test_retry_after_ms_honoured_on_the_same_deployment(start_gateway, ups):
    ups["east"].script += [("status", 503, {"retry-after-ms": "40"}), ("status", 503, {"retry-after-ms": "40"})]
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [dep(ups, "east")],
                    "retry": {"attempts": 2, "backoff": "1ms", "max_backoff": "1s"},
                }
            }
        }
    )
    raw = chat_raw(oa(gw))
    assert raw.http_response.status_code == 200
    assert len(ups["east"].seen("chat")) == 3
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="east", reason="503") == 2


def test_retries_exhausted_pass_the_last_answer_on(start_gateway, ups):
    ups["east"].always = ("status", 503)
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [dep(ups, "east")],
                    "retry": {"attempts": 2, "backoff": "1ms", "max_backoff": "2ms"},
                }
            }
        }
    )
    with pytest.raises(openai.InternalServerError) as e:
        oa(gw).chat.completions.create(**CHAT)
    assert e.value.status_code == 503
    assert e.value.response.headers["x-leash-deployment"] == "east"
    assert len(ups["east"].seen("chat")) == 3  # the first try and two retries


def test_a_reset_after_the_body_was_written_is_not_retried(start_gateway, ups):
    ups["east"].script.append(("reset",))
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "ordered",
                    "deployments": [dep(ups, "east"), dep(ups, "west")],
                    "retry": {"attempts": 3, "backoff": "1ms", "on": [429, 500, 502, 503, 504, "connect", "timeout"]},
                }
            }
        }
    )
    with pytest.raises(openai.APIStatusError) as e:
        oa(gw).chat.completions.create(**CHAT)
    assert e.value.status_code == 502
    assert len(ups["east"].seen("chat")) == 1  # the upstream saw the body exactly once
    assert ups["west"].seen("chat") == []  # and nobody saw it again
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="east", reason="reset") is None


def test_reset_is_retried_when_the_user_opts_in(start_gateway, ups):
    ups["east"].script.append(("reset",))
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "ordered",
                    "deployments": [dep(ups, "east"), dep(ups, "west")],
                    "retry": {"attempts": 1, "backoff": "1ms", "on": ["reset"]},
                }
            }
        }
    )
    raw = chat_raw(oa(gw))
    assert raw.headers["x-leash-deployment"] == "west"
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="east", reason="reset") == 1


def test_connect_errors_are_retried_on_the_next_deployment(start_gateway, ups):
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "ordered",
                    "deployments": [{"name": "dead", "endpoint": dead, "api_key": KEYS["north"]}, dep(ups, "west")],
                    "retry": {"attempts": 1, "backoff": "1ms"},
                    "circuit_breaker": {"failure_threshold": 1, "recovery_timeout": "60s"},
                }
            }
        }
    )
    assert chat_raw(oa(gw)).headers["x-leash-deployment"] == "west"
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="dead", reason="connect") == 1
    assert metric(gw, "leash_circuit_breaker_state", provider="openai", deployment="dead") == 1  # open
    # ordered: the first *available* wins; the open one is skipped without a try
    assert chat_raw(oa(gw)).headers["x-leash-deployment"] == "west"
    assert metric(gw, "leash_upstream_attempts_total", provider="openai", deployment="dead") == 1
    assert health(gw)["openai"]["deployments"]["dead"]["state"] == "open"


# -- circuit breakers -------------------------------------------------------------------------


@pytest.mark.slow
def test_503_burst_opens_the_breaker_then_half_open_then_closed(start_gateway, ups):
    ups["east"].script += [("status", 503), ("status", 503)]
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [dep(ups, "east")],
                    "circuit_breaker": {"failure_threshold": 2, "recovery_timeout": "3s", "half_open_requests": 1},
                }
            }
        }
    )
    client = oa(gw)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(**CHAT)
    assert metric(gw, "leash_circuit_breaker_state", provider="openai", deployment="east") == 1
    # open: leash answers itself, the upstream is not asked
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(**CHAT)
    assert e.value.status_code == 503
    assert e.value.code == "upstream_unavailable"
    assert int(e.value.response.headers["retry-after"]) >= 1
    assert len(ups["east"].seen("chat")) == 2
    deadline = time.monotonic() + 10
    while metric(gw, "leash_circuit_breaker_state", provider="openai", deployment="east") != 2:
        assert time.monotonic() < deadline, "the breaker never turned half-open"
        time.sleep(0.05)
    assert health(gw)["openai"]["deployments"]["east"]["state"] == "half-open"
    assert chat_raw(client).http_response.status_code == 200  # the trial request succeeds: closed
    assert metric(gw, "leash_circuit_breaker_state", provider="openai", deployment="east") == 0
    assert health(gw)["openai"]["deployments"]["east"]["times_opened"] == 1


def test_all_open_is_503_with_retry_after_in_the_anthropic_shape(start_gateway, ups):
    ups["east"].always = ("status", 503)
    ups["west"].always = ("status", 503)
    cb = {"failure_threshold": 1, "recovery_timeout": "60s"}
    gw = start_gateway(
        {
            "providers": {
                "anthropic": {
                    "kind": "anthropic",
                    "deployments": [{"name": "east", "endpoint": ups["east"].url}],
                    "circuit_breaker": cb,
                    "fallbacks": ["anthropic-b"],
                },
                "anthropic-b": {"kind": "anthropic", "endpoint": ups["west"].url, "circuit_breaker": cb},
            }
        }
    )
    client = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="sk-ant-client", max_retries=0)
    msg = {"model": "claude-3-5-haiku-latest", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.InternalServerError) as e:  # east 503, then the fallback 503: the last answer
        client.messages.create(**msg)
    assert e.value.response.headers["x-leash-provider"] == "anthropic-b"
    assert len(ups["east"].seen("messages")) == 1 and len(ups["west"].seen("messages")) == 1
    with pytest.raises(anthropic.InternalServerError) as e:
        client.messages.create(**msg)
    assert e.value.status_code == 503
    body = e.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "overloaded_error" and "unavailable" in body["error"]["message"]
    assert 1 <= int(e.value.response.headers["retry-after"]) <= 60
    assert len(ups["east"].seen("messages")) == 1 and len(ups["west"].seen("messages")) == 1  # nobody asked
    gw.flush()
    import sqlite3

    row = (
        sqlite3.connect(gw.db_path)
        .execute("select status, outcome, error from requests order by rowid desc limit 1")
        .fetchone()
    )
    assert row[0] == 503 and row[1] == "upstream_error" and "upstream_unavailable" in row[2]


# -- balancing ----------------------------------------------------------------------------------


def test_weighted_split_follows_the_weights(start_gateway, ups):
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "weighted",
                    "deployments": [dep(ups, "east", weight=3), dep(ups, "west", weight=1)],
                }
            }
        }
    )
    client = oa(gw)
    got = [chat_raw(client).headers["x-leash-deployment"] for _ in range(40)]
    assert abs(got.count("east") - 30) <= 2 and abs(got.count("west") - 10) <= 2
    assert len(ups["east"].seen("chat")) == got.count("east")
    assert "west" in got[:4]  # interleaved, not 30 then 10


def test_least_busy_picks_the_idle_deployment(start_gateway, ups):
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "least-busy",
                    "deployments": [dep(ups, "east"), dep(ups, "west")],
                }
            }
        }
    )
    release = threading.Event()  # the first request stays in flight until the others are answered
    ups["east"].script.append(("hold", release))
    ups["west"].script.append(("hold", release))
    slow: list[str] = []
    t = threading.Thread(target=lambda: slow.append(chat_raw(oa(gw)).headers["x-leash-deployment"]))
    t.start()
    deadline = time.monotonic() + 10
    while sum(d["in_flight"] for d in health(gw)["openai"]["deployments"].values()) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    busy = next(n for n, d in health(gw)["openai"]["deployments"].items() if d["in_flight"])
    idle = "west" if busy == "east" else "east"
    ups[idle].script.clear()
    got = [chat_raw(oa(gw)).headers["x-leash-deployment"] for _ in range(4)]
    release.set()
    t.join(10)
    assert slow == [busy]
    assert got == [idle] * 4


def test_latency_prefers_the_faster_deployment(start_gateway, ups):
    gw = start_gateway(
        {
            "providers": {
                "openai": {"kind": "openai", "balance": "latency", "deployments": [dep(ups, "east"), dep(ups, "west")]}
            }
        }
    )
    ups["east"].always = ("slow", 0.3)
    client = oa(gw)
    first = [chat_raw(client).headers["x-leash-deployment"] for _ in range(2)]
    assert sorted(first) == ["east", "west"]  # each is measured once
    assert [chat_raw(client).headers["x-leash-deployment"] for _ in range(3)] == ["west"] * 3


# -- fallbacks -------------------------------------------------------------------------------------


def test_fallback_to_another_provider_with_a_model_rewrite(start_gateway, ups):
    ups["east"].always = ("status", 502)
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [dep(ups, "east")],
                    "fallbacks": [{"provider": "local-vllm", "model": "llama-3"}],
                },
                "local-vllm": {"kind": "openai", "endpoint": f"{ups['west'].url}/v1", "api_key": KEYS["west"]},
            }
        }
    )
    raw = chat_raw(oa(gw))
    assert raw.http_response.status_code == 200
    assert raw.headers["x-leash-provider"] == "local-vllm"
    assert raw.headers["x-leash-deployment"] == "default"
    seen = ups["west"].seen("chat")
    assert len(seen) == 1 and orjson.loads(seen[0].body)["model"] == "llama-3"
    assert seen[0].headers["authorization"] == f"Bearer {KEYS['west']}"
    assert orjson.loads(ups["east"].seen("chat")[0].body)["model"] == CHAT["model"]
    assert metric(gw, "leash_upstream_retries_total", provider="openai", deployment="east", reason="502") == 1
    gw.flush()
    import sqlite3

    row = (
        sqlite3.connect(gw.db_path)
        .execute("select provider, status, response_headers from requests order by rowid desc limit 1")
        .fetchone()
    )
    assert row[0] == "openai" and row[1] == 200
    assert '"x-leash-provider": "local-vllm"' in row[2].replace('":"', '": "')
    _assert_no_keys(gw)


def test_streaming_fallback_answers_from_the_fallback(start_gateway, ups):
    ups["east"].always = ("status", 503)
    gw = start_gateway(
        {
            "providers": {
                "openai": {"kind": "openai", "deployments": [dep(ups, "east")], "fallbacks": ["openai-b"]},
                "openai-b": {"kind": "openai", "endpoint": f"{ups['west'].url}/v1"},
            }
        }
    )
    with oa(gw).chat.completions.with_streaming_response.create(**CHAT, stream=True) as resp:
        assert resp.headers["x-leash-provider"] == "openai-b"
        text = "".join(line for line in resp.iter_lines())
    assert "[DONE]" in text


def _assert_no_keys(gw) -> None:
    gw.flush()
    blob = b""
    for p in gw.db_path.parent.glob(gw.db_path.name + "*"):
        blob += p.read_bytes()
    assert blob, "no history written"
    for key in KEYS.values():
        assert key.encode() not in blob


def test_keys_never_reach_the_history(start_gateway, ups):
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [dep(ups, "east"), dep(ups, "west"), dep(ups, "north")],
                    "retry": {"attempts": 1, "backoff": "1ms"},
                }
            }
        }
    )
    ups["east"].script.append(("status", 500))
    client = oa(gw)
    for _ in range(6):
        chat_raw(client)
    _assert_no_keys(gw)


# -- active health checks ------------------------------------------------------------------------------


def test_health_check_opens_the_breaker_without_traffic(start_gateway, ups):
    ups["east"].always = ("status", 503)
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "balance": "ordered",
                    "deployments": [dep(ups, "east"), dep(ups, "west")],
                    "health_check": {"interval": "50ms", "timeout": "1s"},
                    "circuit_breaker": {"failure_threshold": 2, "recovery_timeout": "60s"},
                }
            }
        }
    )
    deadline = time.monotonic() + 10
    while health(gw)["openai"]["deployments"]["east"]["state"] != "open":
        assert time.monotonic() < deadline, "the probe never opened the breaker"
        time.sleep(0.05)
    east = health(gw)["openai"]["deployments"]["east"]
    assert east["probe"]["ok"] is False and east["probe"]["error"] == "HTTP 503"
    assert health(gw)["openai"]["deployments"]["west"]["probe"]["ok"] is True
    assert ups["west"].probes >= 1
    assert chat_raw(oa(gw)).headers["x-leash-deployment"] == "west"
    assert ups["east"].seen("chat") == []


# -- config ------------------------------------------------------------------------------------------


def _cfg(text: str):
    return parse_config_text(text, "t.yaml")


def test_config_names_and_durations():
    cfg = _cfg("""
providers:
  openai:
    kind: openai
    deployments:
      - {name: east, endpoint: "https://east.example/v1", api_key: "k1", weight: 3}
      - {name: west, endpoint: "https://west.example/v1", api_key: "k2", weight: 1}
    balance: least-busy
    retry: {attempts: 2, backoff: 200ms, max_backoff: 5s, on: [429, 500, 502, 503, 504, connect, timeout]}
    circuit_breaker: {failure_threshold: 5, recovery_timeout: 30s, half_open_requests: 1}
    health_check: {interval: 10s, timeout: 2s, path: /models}
    fallbacks: [azure-openai, {provider: local-vllm, model: llama-3}]
  azure-openai: {kind: openai, endpoint: "https://azure.example/openai"}
  local-vllm: {kind: openai, endpoint: "http://127.0.0.1:8000/v1"}
""")
    p = cfg.providers["openai"]
    assert p.retry.backoff == pytest.approx(0.2) and p.retry.max_backoff == 5.0
    assert p.circuit_breaker is not None and p.circuit_breaker.recovery_timeout == 30.0
    assert p.health_check is not None and p.health_check.interval == 10.0
    assert [d.weight for d in p.deployments] == [3, 1]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("providers:\n  openai: {fallbacks: [nope]}\n", "providers.openai.fallbacks[0]: unknown provider 'nope'"),
        (
            "providers:\n  openai: {fallbacks: [anthropic]}\n  anthropic: {}\n",
            "providers.openai.fallbacks[0]: 'anthropic' speaks anthropic, not the openai wire format",
        ),
        ("providers:\n  openai: {fallbacks: [openai]}\n", "providers.openai.fallbacks[0]: a provider cannot fall back"),
        ("providers:\n  openai: {deployments: [{name: a}, {name: a}]}\n", "providers.openai.deployments[1].name"),
        ("providers:\n  openai: {retry: {backoff: soon}}\n", "providers.openai.retry.backoff"),
        ("providers:\n  openai: {retry: {on: [418]}}\n", "providers.openai.retry.on.0"),
        ("providers:\n  openai: {balance: random}\n", "providers.openai.balance"),
        ("providers:\n  openai: {deployments: [{name: a, endpoint: ftp://x}]}\n", "providers.openai.deployments.0"),
    ],
)
def test_config_errors_name_the_key(text, expected):
    with pytest.raises(ConfigError) as e:
        _cfg(text)
    assert expected in e.value.render()


# -- the pieces, without a network --------------------------------------------------------------------------


def test_breaker_transitions():
    b = Breaker(2, 10.0, 2)
    b.failure(0.0)
    assert b.current(0.0) == CLOSED
    b.failure(1.0)
    assert b.current(1.0) == OPEN and not b.available(5.0) and b.retry_in(5.0) == pytest.approx(6.0)
    assert b.current(11.0) == HALF_OPEN
    assert b.acquire(11.0) and b.acquire(11.0) and not b.acquire(11.0)  # two trial slots
    b.success()
    assert b.current(11.0) == HALF_OPEN
    b.success()
    assert b.current(11.0) == CLOSED
    b.failure(12.0)
    b.failure(12.0)
    assert b.current(22.0) == HALF_OPEN and b.acquire(22.0)
    b.failure(22.0)  # a failed trial opens it again
    assert b.current(22.5) == OPEN


def test_smooth_weighted_round_robin_interleaves():
    a = Deployment("p", "a", None, 5, None)  # type: ignore[arg-type]
    b = Deployment("p", "b", None, 1, None)  # type: ignore[arg-type]
    c = Deployment("p", "c", None, 1, None)  # type: ignore[arg-type]
    seq = [pick([a, b, c], "weighted", 0.0, []).name for _ in range(7)]  # type: ignore[union-attr]
    assert seq == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's sequence for 5:1:1
    b.cooldown_until = 100.0
    assert {pick([a, b, c], "weighted", 0.0, []).name for _ in range(12)} == {"a", "c"}  # type: ignore[union-attr]


# -- reload -----------------------------------------------------------------------------------------------


def test_a_reload_keeps_the_breakers_and_follows_the_health_checks(start_gateway, ups, tmp_path):
    import yaml

    from leash_cli.server import reload_config

    ups["east"].always = ("status", 503)
    provider = {
        "kind": "openai",
        "balance": "ordered",
        "deployments": [dep(ups, "east"), dep(ups, "west")],
        "circuit_breaker": {"failure_threshold": 1, "recovery_timeout": "60s"},
        "retry": {"attempts": 1, "backoff": "1ms"},
    }
    gw = start_gateway({"providers": {"openai": provider}})
    assert chat_raw(oa(gw)).headers["x-leash-deployment"] == "west"
    assert health(gw)["openai"]["deployments"]["east"]["state"] == "open"
    path = tmp_path / "leash.yaml"
    with_probe = {**provider, "health_check": {"interval": "50ms", "timeout": "1s"}}
    path.write_text(yaml.safe_dump({"providers": {"openai": with_probe}}))
    assert reload_config(gw.gateway, path)
    h = health(gw)["openai"]["deployments"]
    assert h["east"]["state"] == "open" and h["east"]["attempts"] == 1  # what leash learned is kept
    deadline = time.monotonic() + 10
    while ups["west"].probes < 2:
        assert time.monotonic() < deadline, "no probe after the reload"
        time.sleep(0.05)
    path.write_text(yaml.safe_dump({"providers": {"openai": provider}}))
    assert reload_config(gw.gateway, path)
    deadline = time.monotonic() + 10
    while gw.gateway.health_checks.tasks:  # the reload reaches the gateway's loop
        assert time.monotonic() < deadline, "the probes did not stop"
        time.sleep(0.02)
    time.sleep(0.2)  # a probe already under way ends
    probes = ups["west"].probes
    time.sleep(0.4)
    assert ups["west"].probes == probes  # the probes stopped with the reload that removed them
    assert len(ups["east"].seen("chat")) == 1


def test_a_plain_provider_answers_as_before(gateway):
    raw = chat_raw(oa(gateway))
    assert raw.http_response.status_code == 200
    assert "x-leash-provider" not in raw.headers and "x-leash-deployment" not in raw.headers
    assert metric(gateway, "leash_upstream_attempts_total", provider="openai", deployment="default") == 1
    assert metric(gateway, "leash_circuit_breaker_state", provider="openai", deployment="default") == 0
