"""The offline ``mock`` provider: answers in-process, deterministically.

It speaks the OpenAI (Chat Completions, Responses, Embeddings, Models),
Anthropic (Messages) and Gemini (generateContent, streamGenerateContent,
countTokens, embedContent) shapes, streamed and not, with usage blocks, so
``leash up`` is useful with no keys and no network.  A model named
``mock-error-NNN`` answers with that HTTP status, for trying error paths.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from leash_cli.errors import error_body

_ERROR_MODEL = re.compile(r"mock-error-(\d{3})$")
_GOOGLE = re.compile(r"models/([^/:]+):([A-Za-z]+)$")


@dataclass(slots=True)
class MockResult:
    status: int
    content_type: str
    body: bytes | None = None  # a whole body, or
    events: list[bytes] | None = None  # SSE events to stream
    delay: float = 0.0
    chunk_delay: float = 0.0

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.body is not None:
            yield self.body
            return
        for i, ev in enumerate(self.events or ()):
            if i and self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield ev


def _prompt_text(api: str, body: dict) -> str:
    parts: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k in ("text", "content", "parts", "input"):
                if k in v:
                    walk(v[k])

    if api == "google":
        walk(body.get("contents"))
    elif "messages" in body:
        walk(body.get("messages"))
    else:
        walk(body.get("input"))
    return " ".join(parts)


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def reply_text(prompt: str) -> str:
    last = prompt.strip().split("\n")[-1][:80] if prompt.strip() else ""
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    if last:
        return f"Hello from the leash mock provider ({digest}). You said: {last}"
    return f"Hello from the leash mock provider ({digest})."


def _split(text: str, n: int) -> list[str]:
    words = text.split(" ")
    n = max(1, min(n, len(words)))
    size = -(-len(words) // n)
    out = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [w if i == 0 else " " + w for i, w in enumerate(out)]


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def respond(
    api: str,
    method: str,
    rest: str,
    query: str,
    body: object,
    *,
    chunks: int = 5,
    delay_ms: float = 0.0,
    chunk_delay_ms: float = 0.0,
) -> MockResult:
    req = body if isinstance(body, dict) else {}
    model = req.get("model") if isinstance(req.get("model"), str) else None
    if api == "google":
        m = _GOOGLE.search(rest)
        model = m.group(1) if m else model
    model = model or "mock-small"
    err = _ERROR_MODEL.match(model)
    delay, cdelay = delay_ms / 1000, chunk_delay_ms / 1000
    if err:
        status = int(err.group(1))
        return MockResult(status, "application/json", error_body(api, status, f"mock error {status}"), delay=delay)
    prompt = _prompt_text(api, req)
    text = reply_text(prompt)
    n_in, n_out = _tokens(prompt), len(text.split(" "))
    pieces = _split(text, chunks)
    rid = "mock-" + hashlib.sha256((model + prompt).encode()).hexdigest()[:24]
    created = int(time.time())

    def ok(payload: object) -> MockResult:
        return MockResult(200, "application/json", orjson.dumps(payload), delay=delay)

    def stream(events: list[bytes]) -> MockResult:
        return MockResult(200, "text/event-stream", events=events, delay=delay, chunk_delay=cdelay)

    if api == "anthropic":
        if rest.endswith("count_tokens"):
            return ok({"input_tokens": n_in})
        if not rest.endswith("messages"):
            return _not_found(api, rest)
        usage: dict[str, object] = {"input_tokens": n_in, "output_tokens": n_out, "cache_creation_input_tokens": 0,
                                    "cache_read_input_tokens": 0}
        msg = {"id": "msg_" + rid, "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": usage}
        if not req.get("stream"):
            return ok(msg)
        start = {**msg, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        evs = [_sse({"type": "message_start", "message": start}, "message_start"),
               _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    "content_block_start"),
               _sse({"type": "ping"}, "ping")]
        evs += [_sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
                     "content_block_delta") for p in pieces]
        evs += [_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                      "usage": {"output_tokens": n_out}}, "message_delta"),
                _sse({"type": "message_stop"}, "message_stop")]
        return stream(evs)

    if api == "google":
        m = _GOOGLE.search(rest)
        method_name = m.group(2) if m else ""
        usage = {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "totalTokenCount": n_in + n_out}
        if method_name == "countTokens":
            return ok({"totalTokens": n_in})
        if method_name in ("embedContent", "batchEmbedContents"):
            return ok({"embedding": {"values": _vector(prompt)}})
        if method_name not in ("generateContent", "streamGenerateContent"):
            if rest.rstrip("/").endswith("models"):
                return ok({"models": [{"name": "models/mock-small", "displayName": "leash mock"}]})
            return _not_found(api, rest)

        def cand(t: str, last: bool) -> dict:
            c: dict = {"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}
            if last:
                c["finishReason"] = "STOP"
            return c

        if method_name == "generateContent":
            return ok({"candidates": [cand(text, True)], "usageMetadata": usage, "modelVersion": model,
                       "responseId": rid})
        objs = []
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            u = usage if last else {"promptTokenCount": n_in, "totalTokenCount": n_in}
            objs.append({"candidates": [cand(p, last)], "usageMetadata": u, "modelVersion": model,
                         "responseId": rid})
        if "alt=sse" in query:
            return stream([_sse(o) for o in objs])
        return ok(objs)

    # openai
    if rest.rstrip("/").endswith("models") and method == "GET":
        return ok({"object": "list", "data": [{"id": "mock-small", "object": "model", "created": 0,
                                               "owned_by": "leash"}]})
    if rest.endswith("embeddings"):
        inputs = req.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        return ok({"object": "list", "model": model,
                   "data": [{"object": "embedding", "index": i, "embedding": _vector(str(x))}
                            for i, x in enumerate(inputs)],
                   "usage": {"prompt_tokens": n_in, "total_tokens": n_in}})
    if rest.endswith("responses"):
        usage = {"input_tokens": n_in, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": n_out,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": n_in + n_out}
        part: dict[str, object] = {"type": "output_text", "text": text, "annotations": []}
        item: dict[str, object] = {"type": "message", "id": "msg_" + rid, "status": "completed",
                                   "role": "assistant", "content": [part]}
        resp = {"id": "resp_" + rid, "object": "response", "created_at": created, "status": "completed",
                "model": model, "output": [item], "usage": usage}
        if not req.get("stream"):
            return ok(resp)
        pending = {**resp, "status": "in_progress", "output": [], "usage": None}
        seq = iter(range(10_000))
        evs = [_sse({"type": "response.created", "response": pending, "sequence_number": next(seq)},
                    "response.created"),
               _sse({"type": "response.in_progress", "response": pending, "sequence_number": next(seq)},
                    "response.in_progress"),
               _sse({"type": "response.output_item.added", "output_index": 0,
                     "item": {**item, "status": "in_progress", "content": []}, "sequence_number": next(seq)},
                    "response.output_item.added"),
               _sse({"type": "response.content_part.added", "item_id": item["id"], "output_index": 0,
                     "content_index": 0, "part": {**part, "text": ""}, "sequence_number": next(seq)},
                    "response.content_part.added")]
        for p_ in pieces:
            evs.append(_sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                             "content_index": 0, "delta": p_, "sequence_number": next(seq)},
                            "response.output_text.delta"))
        evs += [_sse({"type": "response.output_text.done", "item_id": item["id"], "output_index": 0,
                      "content_index": 0, "text": text, "sequence_number": next(seq)}, "response.output_text.done"),
                _sse({"type": "response.content_part.done", "item_id": item["id"], "output_index": 0,
                      "content_index": 0, "part": part, "sequence_number": next(seq)}, "response.content_part.done"),
                _sse({"type": "response.output_item.done", "output_index": 0, "item": item,
                      "sequence_number": next(seq)}, "response.output_item.done"),
                _sse({"type": "response.completed", "response": resp, "sequence_number": next(seq)},
                     "response.completed")]
        return stream(evs)
    if not rest.endswith("completions"):
        return _not_found(api, rest)
    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out,
             "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
    if not req.get("stream"):
        return ok({"id": "chatcmpl-" + rid, "object": "chat.completion", "created": created, "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                                "logprobs": None, "finish_reason": "stop"}],
                   "usage": usage, "system_fingerprint": "leash-mock"})
    base = {"id": "chatcmpl-" + rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "leash-mock"}
    evs = [_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                      "logprobs": None, "finish_reason": None}]})]
    evs += [_sse({**base, "choices": [{"index": 0, "delta": {"content": p}, "logprobs": None,
                                       "finish_reason": None}]}) for p in pieces]
    evs.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}))
    opts = req.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        evs.append(_sse({**base, "choices": [], "usage": usage}))
    evs.append(b"data: [DONE]\n\n")
    return stream(evs)


def _vector(text: str, dims: int = 8) -> list[float]:
    h = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 4) for b in h[:dims]]


def _not_found(api: str, rest: str) -> MockResult:
    return MockResult(404, "application/json", error_body(api, 404, f"the mock provider has no endpoint {rest!r}"))
