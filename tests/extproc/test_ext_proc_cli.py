"""`leash ext-proc` as a process: gRPC (ExternalProcessor + health), /metrics, SIGTERM drains the history."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import orjson
import pytest
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from ep_support import free_port

from leash_cli.extproc.health import SERVING, HealthCheckRequest, HealthCheckResponse

pytestmark = pytest.mark.slow  # starts `leash ext-proc` as a process


def _headers(pairs: dict[str, str], eos: bool = False) -> pb.HttpHeaders:
    return pb.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs.items()]
        ),
        end_of_stream=eos,
    )


def _exchange(stub, body: bytes, response: bytes) -> list[pb.ProcessingResponse]:
    msgs = [
        pb.ProcessingRequest(
            request_headers=_headers(
                {
                    ":path": "/v1/openai/chat/completions",
                    ":method": "POST",
                    "content-type": "application/json",
                    "authorization": "Bearer sk-x",
                }
            )
        ),
        pb.ProcessingRequest(request_body=pb.HttpBody(body=body, end_of_stream=True)),
        pb.ProcessingRequest(response_headers=_headers({":status": "200", "content-type": "application/json"})),
        pb.ProcessingRequest(response_body=pb.HttpBody(body=response, end_of_stream=True)),
    ]
    return list(stub.Process(iter(msgs), timeout=10))


def test_ext_proc_process_serves_drains_and_stops(tmp_path: Path):
    cfg = tmp_path / "leash.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "providers": {"openai": {"endpoint": "https://api.openai.com/v1"}},
                "gateway": {"require_virtual_key": False},
                "modules": {"pii-detector": {"action": "redact"}},
                "pricing": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}},
            }
        )
    )
    db = tmp_path / "leash.db"
    port, mport = free_port(), free_port()
    env = {**os.environ, "LEASH_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leash_cli",
            "ext-proc",
            "--config",
            str(cfg),
            "--port",
            str(port),
            "--metrics-port",
            str(mport),
            "--db",
            str(db),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{mport}/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"ext-proc did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=HealthCheckRequest.SerializeToString,
            response_deserializer=HealthCheckResponse.FromString,
        )
        assert check(HealthCheckRequest(service=""), timeout=5).status == SERVING
        stub = pb_grpc.ExternalProcessorStub(channel)
        body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "mail a@example.com"}]})
        upstream = orjson.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
            }
        )
        out = _exchange(stub, body, upstream)
        assert [o.WhichOneof("response") for o in out] == [
            "request_headers",
            "request_body",
            "response_headers",
            "response_body",
        ]
        mutated = out[1].request_body.response
        assert b"a@example.com" not in mutated.body_mutation.body and b"[EMAIL]" in mutated.body_mutation.body
        cl = {h.header.key: h.header.raw_value for h in mutated.header_mutation.set_headers}
        assert cl["content-length"] == str(len(mutated.body_mutation.body)).encode()
        rid = {h.header.key: h.header.raw_value for h in out[2].response_headers.response.header_mutation.set_headers}
        assert rid[b"x-leash-request-id".decode()]
        # a block: an ImmediateResponse in OpenAI's error shape
        bad = pb.ProcessingRequest(
            request_headers=_headers({":path": "/v1/nope/chat/completions", ":method": "POST"}, eos=True)
        )
        imm = list(stub.Process(iter([bad]), timeout=10))[0].immediate_response
        assert imm.status.code == 404 and orjson.loads(imm.body)["error"]["code"] == "unknown_provider"
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert (
            'leash_gateway_requests_total{model="gpt-4o-mini",provider="openai",status="200",tenant="default"}'
            in metrics
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{mport}/health", timeout=5) as r:
            assert orjson.loads(r.read())["status"] == "ok"
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, proc.stderr.read().decode()[-2000:]
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT provider, status, input_tokens, output_tokens, cost_usd FROM requests ORDER BY started_at"
    ).fetchall()
    con.close()
    ok = [r for r in rows if r[0] == "openai"]
    assert len(ok) == 1 and ok[0][1:4] == (200, 10, 2)
    assert abs(ok[0][4] - (10 * 1.0 + 2 * 2.0) / 1e6) < 1e-12
    assert any(r[1] == 404 for r in rows)
