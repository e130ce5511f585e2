"""Reload generations behind Envoy's ext_proc: a real gRPC stream to the module host, reloaded mid-stream.

The stream is driven message by message as Envoy would send them (request
headers and body, then a streamed SSE answer), so the old generation's
modules can be watched while the exchange is still open.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

import grpc
import orjson
import pytest
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from leash_cli.config import load_config
from leash_cli.core.gateway import reload_config
from leash_cli.extproc.server import ExtProcThread, build_host
from leash_cli.store import open_readonly
from test_reload import PROBE, _events, _wait


def _config(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / f"leash-{tag}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "modules_dir": str(tmp_path / "mods"),
                "gateway": {"require_virtual_key": False},
                "providers": {"openai": {"kind": "openai", "endpoint": "http://127.0.0.1:9/v1"}},
                "modules": {"probe": {"tag": tag, "events": str(tmp_path / "events.txt")}},
            }
        )
    )
    return path


def _headers(pairs: dict[str, str], end: bool = False) -> pb.HttpHeaders:
    return pb.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs.items()]
        ),
        end_of_stream=end,
    )


def _event(text: str) -> bytes:
    return (
        b"data: "
        + orjson.dumps(
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": text}}],
            }
        )
        + b"\n\n"
    )


@pytest.mark.slow
def test_a_reload_mid_stream_keeps_the_ext_proc_exchange_on_its_generation(tmp_path):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "probe.py").write_text(PROBE)
    db = tmp_path / "leash.db"
    core = build_host(load_config(_config(tmp_path, "a")), db)
    with ExtProcThread(core) as srv:
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.bound_port}")
        q: queue.Queue = queue.Queue()
        answers = pb_grpc.ExternalProcessorStub(channel).Process(iter(q.get, None), timeout=30)

        def send(**msg) -> pb.ProcessingResponse:
            q.put(pb.ProcessingRequest(**msg))
            return next(answers)

        send(
            request_headers=_headers(
                {":path": "/v1/openai/chat/completions", ":method": "POST", "content-type": "application/json"}
            )
        )
        body = orjson.dumps(
            {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
        )
        send(request_body=pb.HttpBody(body=body, end_of_stream=True))
        got = send(response_headers=_headers({":status": "200", "content-type": "text/event-stream"}))
        rid = {
            h.header.key: h.header.raw_value.decode() for h in got.response_headers.response.header_mutation.set_headers
        }["x-leash-request-id"]
        send(response_body=pb.HttpBody(body=_event("one ")))

        assert reload_config(core, _config(tmp_path, "b"))
        time.sleep(0.3)  # what a timer-less close would need to happen, were it wrong
        assert "close a" not in _events(tmp_path)

        send(response_body=pb.HttpBody(body=_event("two")))
        send(response_body=pb.HttpBody(body=b"data: [DONE]\n\n", end_of_stream=True))
        q.put(None)  # Envoy closes the stream
        assert list(answers) == []
        channel.close()
        assert _wait(lambda: "close a" in _events(tmp_path), 5)
        ev = _events(tmp_path)
        assert f"sink a {rid} open" in ev and ev.index(f"sink a {rid} open") < ev.index("close a")
        assert "close b" not in ev
        core.recorder.flush()
        conn = open_readonly(db)
        try:
            row = [
                dict(r) for r in conn.query("select status, outcome, response_text from requests where id = ?", [rid])
            ][0]
        finally:
            conn.close()
        assert row == {"status": 200, "outcome": "ok", "response_text": "one two"}


# -- one admission: the proxy and the ext_proc host reject alike ------------------------------------------------
def _immediate(port: int, headers: dict[str, str], body: bytes | None) -> tuple[int, dict]:
    """Send a request head (and body) as Envoy would; the ImmediateResponse's status and JSON body."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        msgs = [pb.ProcessingRequest(request_headers=_headers(headers, end=body is None))]
        if body is not None:
            msgs.append(pb.ProcessingRequest(request_body=pb.HttpBody(body=body, end_of_stream=True)))
        for got in pb_grpc.ExternalProcessorStub(channel).Process(iter(msgs), timeout=15):
            if got.HasField("immediate_response"):
                ir = got.immediate_response
                return ir.status.code, orjson.loads(ir.body)
        raise AssertionError("no immediate response")
    finally:
        channel.close()


@pytest.mark.slow
def test_the_proxy_and_the_ext_proc_host_reject_alike(start_gateway, upstream, tmp_path):
    import httpx

    from leash_cli.config import LoadedConfig, parse_config_text

    for require in (True, False):
        cfg = {
            "gateway": {"require_virtual_key": require, "trust_tenant_header": False, "max_body_bytes": 2000},
            "providers": {
                "openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"},
                "anthropic": {"kind": "anthropic", "endpoint": upstream.url},
            },
        }
        gw = start_gateway(cfg)
        core = build_host(
            LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"),
            tmp_path / f"ep-{require}.db",
        )
        cases = (
            [("/v1/openai/chat/completions", {}, b'{"model": "m", "messages": []}')]
            if require
            else [
                ("/v1/nope/chat/completions", {}, b"{}"),
                ("/v1/openai/%2e%2e/admin", {}, b"{}"),
                ("/v1/openai/chat/completions", {"content-length": "5000"}, None),
                ("/v1/openai/chat/completions", {}, b'{"model": '),
                ("/v1/anthropic/v1/messages", {"x-api-key": "lk-00000000-notakeyatall0000"}, b"{}"),
            ]
        )
        with ExtProcThread(core) as srv:
            for path, extra, body in cases:
                head = {"content-type": "application/json", **extra}
                if body is not None:
                    r = httpx.post(gw.url + path, content=body, headers=head, timeout=10)
                else:  # a declared length over the limit: the head alone is refused
                    r = httpx.post(gw.url + path, content=b"x" * 5000, headers=head, timeout=10)
                status, answer = _immediate(srv.bound_port, {":path": path, ":method": "POST", **head}, body)
                assert (status, answer) == (r.status_code, r.json()), path
                assert status >= 400


def test_stream_usage_false_is_honoured_behind_envoy_too(tmp_path):
    """OpenAI streams are asked for their usage (``stream_options``) unless the provider says ``stream_usage: false``;
    the ext_proc host used to ignore the setting."""
    from leash_cli.config import LoadedConfig, parse_config_text

    body = orjson.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    sent = {}
    for usage in (True, False):
        cfg = {
            "gateway": {"require_virtual_key": False},
            "providers": {"openai": {"kind": "openai", "endpoint": "http://127.0.0.1:9/v1", "stream_usage": usage}},
        }
        core = build_host(
            LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"),
            tmp_path / f"u-{usage}.db",
            record=False,
        )
        with ExtProcThread(core) as srv:
            channel = grpc.insecure_channel(f"127.0.0.1:{srv.bound_port}")
            msgs = [
                pb.ProcessingRequest(
                    request_headers=_headers(
                        {":path": "/v1/openai/chat/completions", ":method": "POST", "content-type": "application/json"}
                    )
                ),
                pb.ProcessingRequest(request_body=pb.HttpBody(body=body, end_of_stream=True)),
            ]
            answers = list(pb_grpc.ExternalProcessorStub(channel).Process(iter(msgs), timeout=15))
            channel.close()
        mutation = answers[1].request_body.response.body_mutation
        sent[usage] = orjson.loads(mutation.body) if mutation.HasField("body") else orjson.loads(body)
    assert sent[True]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in sent[False]
