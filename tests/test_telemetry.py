"""OpenTelemetry traces: real OTLP/HTTP protobuf exports received on a local port and decoded.

The gateway runs for real (the fake upstream behind it, the official SDKs in front); a small
aiohttp server stands in for the collector and decodes each ``ExportTraceServiceRequest`` with protobuf's
own parser and the OTLP schema declared in tests/otlp_schema.py.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest
from aiohttp import web

pytest.importorskip("opentelemetry.sdk", reason="the otel extra (pip install 'leash-cli[otel]') is not installed")
from leash_cli.config import ConfigError, parse_config_text
from leash_cli.core.trace import begin, parse_traceparent, ratio_bound
from otlp_schema import ExportTraceServiceRequest

PROMPT = "the secret recipe is PROMPT-CANARY-7f3a9 with saffron"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    start: int
    end: int
    attrs: dict[str, Any]
    events: list[str]
    status: int
    resource: dict[str, Any]


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf in, spans kept."""

    raw: list[bytes] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    port: int = 0

    def start(self) -> Collector:
        started = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/v1/traces", self.handle)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="otlp-collector")
        self._thread.start()
        assert started.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append(body)
        self.content_types.append(request.headers.get("content-type", ""))
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    self.spans.append(
                        Span(
                            s.name,
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            s.kind,
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                            {a.key: _value(a.value) for a in s.attributes},
                            [e.name for e in s.events],
                            s.status.code,
                            resource,
                        )
                    )
        return web.Response(body=b"", content_type="application/x-protobuf")  # an empty ExportTraceServiceResponse

    def wait_for(self, request_id: str, count: int, timeout: float = 10.0) -> list[Span]:
        """The spans of the exchange `request_id` (its trace), once `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            root = [s for s in self.spans if s.attrs.get("leash.request_id") == request_id]
            if root:
                trace = [s for s in self.spans if s.trace_id == root[0].trace_id]
                if len(trace) >= count:
                    return trace
            time.sleep(0.02)
        raise AssertionError(f"no trace of {request_id} with {count} spans; got {[s.name for s in self.spans]}")


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


@pytest.fixture
def collector():
    c = Collector().start()
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def _fast_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches leave every 50 ms (default 5 s) so a test sees them soon; no OTEL_ setting leaks in."""
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")


def _telemetry(collector: Collector, **extra: Any) -> dict[str, Any]:
    return {"telemetry": {"otlp_endpoint": collector.url, **extra}}


def _by_name(spans: list[Span]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


SERVER, CLIENT, INTERNAL = 2, 3, 1
STATUS_ERROR = 2


def test_one_trace_per_exchange_with_genai_attributes(start_gateway, upstream, collector):
    gw = start_gateway(
        {
            **_telemetry(collector),
            "modules": {"pii-detector": {"action": "redact", "check_responses": False}},
        }
    )
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-test", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"{PROMPT}, mail me at jane.doe@example.com"}],
        extra_headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "x-leash-tenant": "team-a"},
    )
    rid = raw.headers["x-leash-request-id"]
    spans = collector.wait_for(rid, 4)
    names = _by_name(spans)
    root = names["chat gpt-4o-mini"]
    server = next(s for s in root if s.kind == SERVER)
    upstream_span = next(s for s in root if s.kind == CLIENT)
    stages = names["leash.request_stages"][0]
    response = names["leash.response_stages"][0]

    # the caller's trace continues: the exchange span is its child
    assert server.trace_id == CALLER_TRACE
    assert server.parent_id == CALLER_SPAN
    for child in (upstream_span, stages, response):
        assert child.parent_id == server.span_id
        assert server.start <= child.start <= child.end <= server.end
    assert stages.end <= upstream_span.start <= upstream_span.end <= response.end

    # the upstream saw a traceparent naming the upstream span, in the caller's trace
    seen = next(r for r in reversed(upstream.requests) if b"PROMPT-CANARY-7f3a9" in r.body)
    assert seen.headers["traceparent"] == f"00-{CALLER_TRACE}-{upstream_span.span_id}-01"

    a = server.attrs
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.usage.input_tokens"] == raw.parse().usage.prompt_tokens > 0
    assert a["gen_ai.usage.output_tokens"] == raw.parse().usage.completion_tokens > 0
    assert a["leash.tenant"] == "team-a"
    assert a["leash.verdict"] == "redacted"
    assert a["leash.violations"] >= 1
    assert any(v.startswith("pii-detector:EMAIL") for v in a["leash.violation_types"])
    assert a["leash.cost_usd"] > 0
    assert a["http.response.status_code"] == 200
    assert "leash.module.pii-detector.duration_ms" in a
    assert stages.attrs["leash.modules"] == ["pii-detector"]
    assert upstream_span.attrs["server.address"] == "127.0.0.1"
    assert upstream_span.attrs["http.response.status_code"] == 200
    assert server.resource["service.name"] == "leash"
    assert server.status != STATUS_ERROR
    assert collector.content_types[0] == "application/x-protobuf"

    # no prompt or completion text in any export (the completion echoes the prompt)
    blob = b"".join(collector.raw)
    assert b"PROMPT-CANARY" not in blob and b"saffron" not in blob and b"jane.doe" not in blob


def test_new_trace_stream_and_first_token_event(start_gateway, upstream, collector):
    gw = start_gateway(_telemetry(collector, service_name="edge-gw"))
    client = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="sk-ant-test", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-3-5-haiku-latest",
        max_tokens=50,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
    )
    rid = raw.headers["x-leash-request-id"]
    events = list(raw.parse())
    assert events
    spans = collector.wait_for(rid, 4)
    server = next(s for s in spans if s.kind == SERVER)
    client_span = next(s for s in spans if s.kind == CLIENT)
    assert server.parent_id == ""  # no caller trace: a new one
    assert server.name == "chat claude-3-5-haiku-latest"
    assert server.attrs["gen_ai.provider.name"] == "anthropic"
    assert server.attrs["leash.stream"] is True
    assert server.attrs["gen_ai.usage.output_tokens"] > 0
    assert server.resource["service.name"] == "edge-gw"
    assert "gen_ai.first_token" in client_span.events
    seen = next(r for r in reversed(upstream.requests) if b"PROMPT-CANARY-7f3a9" in r.body)
    assert parse_traceparent(seen.headers["traceparent"]) == (
        int(server.trace_id, 16),
        int(client_span.span_id, 16),
        1,
    )
    assert b"PROMPT-CANARY" not in b"".join(collector.raw)


def test_each_try_is_a_span_with_its_own_traceparent(start_gateway, upstream, collector):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    gw = start_gateway(
        _telemetry(collector),
        providers_extra={
            "openai": {
                "deployments": [
                    {"name": "down", "endpoint": f"http://127.0.0.1:{dead}/v1"},
                    {"name": "up", "endpoint": f"{upstream.url}/v1"},
                ],
                "balance": "ordered",
                "retry": {"attempts": 1, "backoff": 0},
            }
        },
    )
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-test", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "retry me TRY-MARK"}]
    )
    assert raw.headers["x-leash-deployment"] == "up"
    spans = collector.wait_for(raw.headers["x-leash-request-id"], 5)
    server = next(s for s in spans if s.kind == SERVER)
    tries = sorted((s for s in spans if s.kind == CLIENT), key=lambda s: s.attrs["leash.try"])
    assert [t.attrs["leash.deployment"] for t in tries] == ["down", "up"]
    assert tries[0].attrs["error.type"] == "connect" and tries[0].status == STATUS_ERROR
    assert tries[1].attrs["http.response.status_code"] == 200
    assert all(t.parent_id == server.span_id for t in tries)
    assert tries[0].end <= tries[1].start
    seen = next(r for r in reversed(upstream.requests) if b"TRY-MARK" in r.body)
    assert seen.headers["traceparent"] == f"00-{server.trace_id}-{tries[1].span_id}-01"


def test_content_is_captured_only_when_asked(start_gateway, collector):
    gw = start_gateway(_telemetry(collector, capture_content=True))
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-test", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    spans = collector.wait_for(raw.headers["x-leash-request-id"], 4)
    server = next(s for s in spans if s.kind == SERVER)
    assert "PROMPT-CANARY-7f3a9" in server.attrs["gen_ai.input.messages"]
    assert "PROMPT-CANARY-7f3a9" in server.attrs["gen_ai.output.messages"]  # the mock echoes the prompt


def test_blocked_and_rejected_exchanges_are_traced(start_gateway, collector):
    gw = start_gateway({**_telemetry(collector), "modules": {"secrets-detector": {}}})
    key = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2qS5uV8xA1"
    r = httpx.post(
        gw.base("openai") + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my key is {key}"}]},
        headers={"authorization": "Bearer sk-test"},
    )
    assert r.status_code == 403
    spans = collector.wait_for(r.headers["x-leash-request-id"], 2)
    server = next(s for s in spans if s.kind == SERVER)
    assert server.attrs["leash.verdict"] == "blocked"
    assert server.attrs["http.response.status_code"] == 403
    assert not [s for s in spans if s.kind == CLIENT]  # nothing went upstream
    assert key.encode() not in b"".join(collector.raw)

    r = httpx.post(gw.url + "/v1/nope/chat/completions", json={})
    assert r.status_code == 404
    spans = collector.wait_for(r.headers["x-leash-request-id"], 1)
    assert spans[0].attrs["gen_ai.operation.name"] == "unknown"


@pytest.mark.slow
def test_collector_down_costs_nothing(start_gateway, upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    gw = start_gateway({"telemetry": {"otlp_endpoint": f"http://127.0.0.1:{dead}"}})
    client = openai.OpenAI(base_url=gw.base("openai"), api_key="sk-test", max_retries=0)
    times = []
    for i in range(40):
        t = time.perf_counter()
        r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}])
        times.append(time.perf_counter() - t)
        assert r.choices[0].message.content
    times.sort()
    # exports fail every 50 ms meanwhile; no request waits on them (the OTLP exporter's timeout is 10 s)
    assert times[len(times) // 2] < 0.25, times
    assert gw.gateway.telemetry is not None
    t = time.perf_counter()
    gw.thread.stop()  # shutdown gives up on the collector quickly
    assert time.perf_counter() - t < 8


def test_unsampled_trace_is_propagated_not_exported(start_gateway, upstream, collector):
    gw = start_gateway(_telemetry(collector, sample_ratio=0.0))
    r = httpx.post(
        gw.base("openai") + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "UNSAMPLED-MARK"}]},
        headers={"authorization": "Bearer sk-test"},
    )
    assert r.status_code == 200
    seen = next(x for x in reversed(upstream.requests) if b"UNSAMPLED-MARK" in x.body)
    parsed = parse_traceparent(seen.headers["traceparent"])
    assert parsed is not None and parsed[2] == 0  # not sampled, said so downstream
    gw.gateway.telemetry.flush()
    assert not [s for s in collector.spans if s.attrs.get("leash.request_id") == r.headers["x-leash-request-id"]]


def test_traceparent_parsing_and_sampling():
    assert parse_traceparent(f"00-{CALLER_TRACE}-{CALLER_SPAN}-01") == (int(CALLER_TRACE, 16), int(CALLER_SPAN, 16), 1)
    assert parse_traceparent(f"01-{CALLER_TRACE}-{CALLER_SPAN}-00-future") is not None  # a later version
    for bad in (
        None,
        "",
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 has four fields
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",
        f"00-{'0' * 32}-{CALLER_SPAN}-01",
        f"00-{CALLER_TRACE}-{'0' * 16}-01",
        f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",
        "00-abc-def-01",
    ):
        assert parse_traceparent(bad) is None, bad
    headers = {"traceparent": "garbage"}
    tr = begin(headers, ratio_bound(1.0))
    assert tr.parent_id is None and tr.sampled
    assert parse_traceparent(headers["traceparent"]) == (tr.trace_id, tr.upstream_id, 1)
    assert sum(begin({}, ratio_bound(0.25)).sampled for _ in range(4000)) in range(800, 1200)
    assert not any(begin({}, ratio_bound(0.0)).sampled for _ in range(200))
    caller = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    assert begin(caller, ratio_bound(0.0)).sampled  # the caller's decision wins


def test_config_errors():
    with pytest.raises(ConfigError) as e:
        parse_config_text("telemetry: {otlp_endpoint: collector:4318}", "t.yaml")
    assert "telemetry.otlp_endpoint" in str(e.value) and "http" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config_text("telemetry: {otlp_endpoint: 'http://c:4318', sample_ratio: 2}", "t.yaml")
    assert "telemetry.sample_ratio" in str(e.value)


def test_missing_extra_is_a_config_error_naming_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *a: Any, **kw: Any) -> Any:
        if name.startswith("opentelemetry"):
            return None
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigError) as e:
        parse_config_text("telemetry: {otlp_endpoint: 'http://127.0.0.1:4318'}", "t.yaml")
    assert "pip install 'leash-cli[otel]'" in str(e.value)


def test_the_encoding_of_every_attribute_type_parses_with_protobufs_own_parser():
    from opentelemetry import trace as api
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link

    from leash_cli.otlp import encode_request

    ctx = api.SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, api.TraceFlags(1))
    parent = api.SpanContext(ctx.trace_id, 0x1111111111111111, True, api.TraceFlags(1))
    state = api.TraceState([("vendor", "v1"), ("other", "x")])
    linked = api.SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, api.TraceFlags(0), state)
    attrs = {"s": "é ✓", "b": True, "i": -3, "big": 2**62, "f": 0.25, "arr": ("a", "b"), "ints": (1, 2)}
    span = ReadableSpan(
        name="chat gpt-4o",
        context=ctx,
        parent=parent,
        resource=Resource.create({"service.name": "leash"}),
        attributes=attrs,
        events=[Event("gen_ai.choice", {"n": 1}, timestamp=5)],
        links=[Link(linked, {"why": "fallback"})],
        kind=api.SpanKind.CLIENT,
        status=api.Status(api.StatusCode.ERROR, "upstream_timeout"),
        start_time=1_700_000_000_000_000_000,
        end_time=1_700_000_000_500_000_000,
        instrumentation_scope=InstrumentationScope("leash", "1.0"),
    )
    req = ExportTraceServiceRequest()
    req.ParseFromString(encode_request([span]))
    (rs,) = req.resource_spans
    assert {a.key: _value(a.value) for a in rs.resource.attributes}["service.name"] == "leash"
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version) == ("leash", "1.0")
    (s,) = ss.spans
    assert s.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736" and s.span_id.hex() == "00f067aa0ba902b7"
    assert s.parent_span_id.hex() == "1111111111111111" and s.kind == 3  # OTLP's SPAN_KIND_CLIENT
    assert (s.start_time_unix_nano, s.end_time_unix_nano) == (1_700_000_000_000_000_000, 1_700_000_000_500_000_000)
    assert {a.key: _value(a.value) for a in s.attributes} == {**attrs, "arr": ["a", "b"], "ints": [1, 2]}
    assert [(e.name, e.time_unix_nano) for e in s.events] == [("gen_ai.choice", 5)]
    assert (s.status.code, s.status.message) == (2, "upstream_timeout")
    assert s.flags == 0x301  # sampled, and the parent is known to be remote
    (link,) = s.links
    assert link.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c" and link.span_id.hex() == "b7ad6b7169203331"
    assert link.trace_state == "vendor=v1,other=x" and link.flags == 0x300  # not sampled, remote
    assert {a.key: _value(a.value) for a in link.attributes} == {"why": "fallback"}
