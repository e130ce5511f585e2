"""The module host's response side without Envoy: ext_proc messages in, the core's relay
(``core/relay.py``) behind, ProcessingResponses out -- a buffered answer, a block, a stream split
across messages, a stream a module stops, and response-cache hits answered at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.extproc.adapter import StreamHandler
from leash_cli.extproc.server import ExtProcHost, build_host
from leash_cli.pipeline import drain_background

AWS_KEY = "AKIA" + "Q7ZK2M4XW9PT3RB6"
JSON, SSE = "application/json", "text/event-stream"


def _head(headers: dict[str, str]) -> pb.HttpHeaders:
    return pb.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in headers.items()]
        )
    )


def _chat(text: str, stream: bool = False) -> bytes:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def _answer(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    )


def _events(*texts: str) -> bytes:
    out = b""
    for t in texts:
        chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}]}
        out += b"data: " + orjson.dumps(chunk) + b"\n\n"
    return out + b"data: [DONE]\n\n"


class _Host:
    def __init__(self, tmp: Path) -> None:
        cfg = {
            "gateway": {"require_virtual_key": False},
            "providers": {"openai": {"api_key": "sk-gateway-held-key"}},
            "modules": {"secrets-detector": {"action": "block"}, "response-cache": {"backend": "memory"}},
        }
        loaded = LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag")
        self.core = build_host(loaded, tmp / "ep.db", record=False)
        self.host = ExtProcHost(self.core)

    async def exchange(
        self, request: bytes, ctype: str, chunks: list[bytes], rheaders: dict[str, str] | None = None
    ) -> tuple[list[Any], Any]:
        h = StreamHandler(self.host)
        got = [
            await h.handle(
                pb.ProcessingRequest(request_headers=_head({":method": "POST", ":path": "/v1/openai/chat/completions"}))
            ),
            await h.handle(pb.ProcessingRequest(request_body=pb.HttpBody(body=request, end_of_stream=True))),
        ]
        if not got[-1].HasField("immediate_response"):
            got.append(
                await h.handle(
                    pb.ProcessingRequest(
                        response_headers=_head({":status": "200", "content-type": ctype, **(rheaders or {})})
                    )
                )
            )
            for i, c in enumerate(chunks):
                body = pb.HttpBody(body=c, end_of_stream=i == len(chunks) - 1)
                got.append(await h.handle(pb.ProcessingRequest(response_body=body)))
        ex = h.ex
        h.finish()
        await drain_background(5)  # the cache stores the answer in its sink
        return got, ex


def _text(stream: bytes) -> str:
    """The answer text of an OpenAI stream (the scanners may cut its deltas elsewhere)."""
    out = ""
    for line in stream.split(b"\n"):
        if line.startswith(b"data: {"):
            out += orjson.loads(line[6:])["choices"][0]["delta"].get("content", "")
    return out


def _sent(resp: Any, chunk: bytes) -> bytes:
    """What Envoy passes on for a response body message: the chunk, or the mutation's body."""
    mut = resp.response_body.response.body_mutation
    if mut.HasField("body") or mut.clear_body:
        return mut.body
    return chunk


@pytest.fixture
def host(tmp_path: Path) -> _Host:
    return _Host(tmp_path)


def test_buffered_answers_blocks_and_cache_hits(host: _Host) -> None:
    async def run() -> None:
        await host.core.start()
        got, ex = await host.exchange(_chat("hello"), JSON, [_answer("Paris.")])
        assert not got[-1].response_body.HasField("response")  # unchanged: nothing to mutate
        assert ex.status == 200 and ex.outcome == "ok" and b"Paris." in ex.response_body

        got, ex = await host.exchange(_chat("hello"), JSON, [_answer("never asked")])
        hit = got[-1].immediate_response
        assert hit.details == "leash_cache_hit" and hit.status.code == 200 and b"Paris." in hit.body
        names = {h.header.key for h in hit.headers.set_headers}
        assert "content-length" not in names and {"content-type", "x-leash-request-id"} <= names

        got, ex = await host.exchange(_chat("key?"), JSON, [_answer(f"the key is {AWS_KEY}")])
        blocked = got[-1].immediate_response
        assert blocked.status.code == 403 and blocked.details == "leash_block"
        assert AWS_KEY not in blocked.body.decode() and ex.outcome == "blocked"
        assert ex.error.startswith("policy_violation: ") and ex.response_body == blocked.body
        await host.core.stop(1.0)

    asyncio.run(run())


def test_streams_pass_event_by_event_stop_on_a_block_and_replay_from_the_cache(host: _Host) -> None:
    async def run() -> None:
        await host.core.start()
        s = _events("Par", "is is", " the capital.")
        chunks = [s[:30], s[30:100], s[100:]]
        got, ex = await host.exchange(_chat("s", stream=True), SSE, chunks)
        assert got[2].mode_override.response_body_mode  # switched to STREAMED
        out = b"".join(_sent(r, c) for r, c in zip(got[3:], chunks, strict=True))
        assert _text(out) == "Paris is the capital." and out.endswith(b"data: [DONE]\n\n")
        assert ex.outcome == "ok" and ex.response_body == out

        got, ex = await host.exchange(_chat("s", stream=True), SSE, [b"never asked"])
        hit = got[-1].immediate_response
        assert hit.details == "leash_cache_hit" and _text(hit.body) == "Paris is the capital."
        assert ex.response_body == hit.body and hit.body.endswith(b"data: [DONE]\n\n")

        k = _events("Sure, the key is AKIA", AWS_KEY[4:12], AWS_KEY[12:] + " and that is all.", " more")
        chunks = [k[:150], k[150:300], k[300:]]
        got, ex = await host.exchange(_chat("k", stream=True), SSE, chunks)
        out = b"".join(_sent(r, c) for r, c in zip(got[3:], chunks, strict=True))
        assert AWS_KEY[4:12] not in out.decode() and b"policy_violation" in out
        assert ex.outcome == "blocked" and ex.error == "stream stopped by secrets-detector"
        assert ex.response_body == out
        await host.core.stop(1.0)

    asyncio.run(run())


def test_a_configured_secret_echoed_by_the_upstream_is_masked_in_headers_bodies_and_streams(host: _Host) -> None:
    key = "sk-gateway-held-key"

    async def run() -> None:
        await host.core.start()
        got, ex = await host.exchange(_chat("a"), JSON, [_answer(f"you sent {key}")], {"x-echo": f"k={key}"})
        set_h = {
            h.header.key: h.header.raw_value.decode()
            for h in got[2].response_headers.response.header_mutation.set_headers
        }
        assert key not in set_h["x-echo"] and "[leash:masked]" in set_h["x-echo"]
        out = got[-1].response_body.response.body_mutation.body
        assert key not in out.decode() and b"[leash:masked]" in out
        assert key not in str(ex.response_headers) and key.encode() not in ex.response_body

        s = _events("first ", f"then {key} echoed", " end")
        got, ex = await host.exchange(_chat("b", stream=True), SSE, [s])
        out = _sent(got[-1], s)
        assert key not in out.decode() and b"[leash:masked]" in out and out.endswith(b"data: [DONE]\n\n")
        await host.core.stop(1.0)

    asyncio.run(run())
