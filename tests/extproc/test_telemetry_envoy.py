"""Traces under Envoy: the module host builds the exchange's spans, and Envoy forwards the traceparent
leash set (a header mutation), so the provider's spans join the caller's trace."""

from __future__ import annotations

import httpx
import pytest
import yaml
from ep_support import LocalEnvoy, envoy_binary

pytest.importorskip("opentelemetry.sdk", reason="the otel extra (pip install 'leash-cli[otel]') is not installed")
from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.extproc.server import ExtProcThread, build_host
from test_telemetry import CALLER_SPAN, CALLER_TRACE, CLIENT, SERVER, Collector


@pytest.mark.slow
def test_traces_under_envoy(tmp_path, upstream, monkeypatch):
    envoy_binary()
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    collector = Collector().start()
    host = envoy = None
    try:
        cfg = {
            "providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"}},
            "gateway": {"require_virtual_key": False},
            "telemetry": {"otlp_endpoint": collector.url},
        }
        gw = build_host(
            LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"), tmp_path / "l.db"
        )
        host = ExtProcThread(gw)
        server = host.start()
        envoy = LocalEnvoy(gw.state.providers, [server.bound_port], tmp_path).start(wait_healthy=1)
        r = httpx.post(
            envoy.url + "/v1/openai/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ENVOY-TRACE-MARK"}]},
            headers={"authorization": "Bearer sk-client", "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
            timeout=15,
        )
        assert r.status_code == 200, r.text
        spans = collector.wait_for(r.headers["x-leash-request-id"], 3)
        server_span = next(s for s in spans if s.kind == SERVER)
        upstream_span = next(s for s in spans if s.kind == CLIENT)
        assert server_span.trace_id == CALLER_TRACE and server_span.parent_id == CALLER_SPAN
        assert upstream_span.parent_id == server_span.span_id
        assert server_span.attrs["gen_ai.usage.input_tokens"] > 0
        seen = next(s for s in reversed(upstream.requests) if b"ENVOY-TRACE-MARK" in s.body)
        assert seen.headers["traceparent"] == f"00-{CALLER_TRACE}-{upstream_span.span_id}-01"
        assert b"ENVOY-TRACE-MARK" not in b"".join(collector.raw)
    finally:
        if envoy is not None:
            envoy.stop()
        if host is not None:
            host.stop()
        collector.stop()
