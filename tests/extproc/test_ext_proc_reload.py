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
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from test_reload import PROBE, _events, _wait

from leash_cli.config import load_config
from leash_cli.core.gateway import reload_config
from leash_cli.extproc.server import ExtProcThread, build_host
from leash_cli.store import open_readonly


def _config(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / f"leash-{tag}.yaml"
    path.write_text(yaml.safe_dump({
        "modules_dir": str(tmp_path / "mods"),
        "gateway": {"require_virtual_key": False},
        "providers": {"openai": {"kind": "openai", "endpoint": "http://127.0.0.1:9/v1"}},
        "modules": {"probe": {"tag": tag, "events": str(tmp_path / "events.txt")}},
    }))
    return path


def _headers(pairs: dict[str, str], end: bool = False) -> pb.HttpHeaders:
    return pb.HttpHeaders(headers=base_pb2.HeaderMap(headers=[
        base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs.items()]), end_of_stream=end)


def _event(text: str) -> bytes:
    return b"data: " + orjson.dumps({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
                                     "choices": [{"index": 0, "delta": {"content": text}}]}) + b"\n\n"


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

        send(request_headers=_headers({":path": "/v1/openai/chat/completions", ":method": "POST",
                                       "content-type": "application/json"}))
        body = orjson.dumps({"model": "gpt-4o-mini", "stream": True,
                             "messages": [{"role": "user", "content": "hello"}]})
        send(request_body=pb.HttpBody(body=body, end_of_stream=True))
        got = send(response_headers=_headers({":status": "200", "content-type": "text/event-stream"}))
        rid = {h.header.key: h.header.raw_value.decode()
               for h in got.response_headers.response.header_mutation.set_headers}["x-leash-request-id"]
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
            row = [dict(r) for r in conn.query("select status, outcome, response_text from requests where id = ?",
                                               [rid])][0]
        finally:
            conn.close()
        assert row == {"status": 200, "outcome": "ok", "response_text": "one two"}
