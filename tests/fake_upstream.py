"""A fake provider server on 127.0.0.1:0 speaking the real wire formats.

It serves OpenAI (``/v1/...``), Anthropic (``/v1/messages``) and Gemini
(``/v1beta/models/...``) shapes, streamed and not, using the same payload
builder as the offline mock provider, and records every request it receives.

The model name picks a fault to play (see ``BEHAVIOURS``), so a test can ask
for a slow stream, a hang, a reset or a redirect through the official SDKs.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from fake_server import ThreadedApp
from leash_cli import mock

BEHAVIOURS = (
    "slow-stream",  # stream events 0.3 s apart
    "hang",  # never answer
    "hang-stream",  # send one event, then go silent
    "reset",  # drop the connection before answering
    "reset-stream",  # send two events, then drop the connection
    "gzip",  # gzip-encoded JSON body
    "redirect",  # 302 to another host
    "cookie",  # Set-Cookie on the response
    "long-stream",  # 200 events
    "long-slow-stream",  # 200 events 0.1 s apart (20 s: it never ends on its own within a test's wait)
    "slow",  # answer after 0.5 s
    "budget-probe",  # answer after 0.3 s, billing the whole max_tokens as output
    "two-choices",  # a chat stream of two choices (n=2), their deltas interleaved
    "parallel-tools",  # a chat stream of two tool calls, their argument deltas interleaved
    "spaced-stream",  # `data:` lines with extra leading whitespace (clients parse them all the same)
    "text-body",  # the answer as a text/plain body, no JSON
    "echo-headers",  # a hostile upstream: echoes the request's headers and query in its body and headers
)


def _interleaved(model: str, prompt: str) -> list[bytes]:
    """Chat-completion events for the interleaving behaviours, deltas a few characters each."""
    base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": model}
    evs = []

    def ev(choices):
        evs.append(b"data: " + orjson.dumps({**base, "choices": choices}) + b"\n\n")

    def pieces(s, n=4):
        return [s[i : i + n] for i in range(0, len(s), n)]

    if model == "two-choices":
        a, b = pieces(f"first answer: {prompt} end"), pieces(f"second answer: {prompt} end")
        for i in range(max(len(a), len(b))):
            if i < len(a):
                ev([{"index": 0, "delta": {"content": a[i]}, "finish_reason": None}])
            if i < len(b):
                ev([{"index": 1, "delta": {"content": b[i]}, "finish_reason": None}])
        ev([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        ev([{"index": 1, "delta": {}, "finish_reason": "stop"}])
    else:
        args = [
            orjson.dumps({"to": prompt, "city": "Paris, France"}).decode(),
            orjson.dumps({"to": prompt, "city": "Tokyo, Japan"}).decode(),
        ]
        ev(
            [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": k,
                                "id": f"call_{k}",
                                "type": "function",
                                "function": {"name": "send", "arguments": ""},
                            }
                            for k in (0, 1)
                        ],
                    },
                    "finish_reason": None,
                }
            ]
        )
        a, b = pieces(args[0], 5), pieces(args[1], 5)
        for i in range(max(len(a), len(b))):
            if i < len(a):
                ev(
                    [
                        {
                            "index": 0,
                            "delta": {"tool_calls": [{"index": 0, "function": {"arguments": a[i]}}]},
                            "finish_reason": None,
                        }
                    ]
                )
            if i < len(b):
                ev(
                    [
                        {
                            "index": 0,
                            "delta": {"tool_calls": [{"index": 1, "function": {"arguments": b[i]}}]},
                            "finish_reason": None,
                        }
                    ]
                )
        ev([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
    evs.append(b"data: [DONE]\n\n")
    return evs


_GOOGLE_MODEL = re.compile(r"models/([^/:]+):")


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeUpstream(ThreadedApp):
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)  # paths whose client left mid-stream

    thread_name = "fake-upstream"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self.handle)

    # -- what it saw --------------------------------------------------------------
    def last(self) -> Seen:
        return self.requests[-1]

    # -- the handler --------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
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
        path = request.path
        if path.startswith(("/v1beta/", "/v1alpha/")) or ":" in path.rsplit("/", 1)[-1]:
            api = "google"
            rest = path.split("/", 2)[2]
        elif path.startswith("/v1/messages"):
            api = "anthropic"
            rest = path[len("/v1/") :]
        else:
            api = "openai"
            rest = path[len("/v1/") :] if path.startswith("/v1/") else path.lstrip("/")
        try:
            payload = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return web.json_response({"error": {"message": "bad json upstream"}}, status=400)
        model = payload.get("model") if isinstance(payload, dict) else None
        if api == "google":
            m = _GOOGLE_MODEL.search(path)
            model = m.group(1) if m else None
        model = model or ""

        if model == "hang":
            await asyncio.sleep(60)
        if model == "slow":
            await asyncio.sleep(0.5)
        if model == "budget-probe":
            await asyncio.sleep(0.3)
            usage = {"prompt_tokens": len(body) // 3, "completion_tokens": payload.get("max_tokens", 0)}
            return web.json_response(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "length"}
                    ],
                    "usage": {**usage, "total_tokens": sum(usage.values())},
                }
            )
        if model == "reset":
            request.transport.abort()  # type: ignore[union-attr]
            await asyncio.sleep(1)
            return web.Response(status=500)
        if model == "redirect":
            return web.Response(status=302, headers={"Location": "http://elsewhere.invalid/v1/chat/completions"})

        if model == "echo-headers":
            return await _echo(request, payload, api)
        if model == "text-body":
            text = mock.reply_text(mock._prompt_text(api, payload if isinstance(payload, dict) else {}))
            return web.Response(status=200, body=text.encode(), headers={"content-type": "text/plain"})
        if model in ("two-choices", "parallel-tools"):
            msgs = payload.get("messages") or [{}]
            last = msgs[-1].get("content") if isinstance(msgs[-1], dict) else ""
            resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream"})
            await resp.prepare(request)
            for ev in _interleaved(model, last if isinstance(last, str) else ""):
                await resp.write(ev)
            await resp.write_eof()
            return resp
        chunks = 200 if model in ("long-stream", "long-slow-stream") else 5
        result = mock.respond(api, request.method, rest, request.query_string, payload, chunks=chunks)
        if result.events is None:
            headers = {"content-type": result.content_type, "x-request-id": "req_fake"}
            data = result.body or b""
            if model == "gzip":
                data = gzip.compress(data)
                headers["content-encoding"] = "gzip"
            resp = web.Response(status=result.status, body=data, headers=headers)
            if model == "cookie":
                resp.set_cookie("session", "upstream-secret-cookie")
            return resp

        resp = web.StreamResponse(
            status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            for i, ev in enumerate(result.events):
                if model == "spaced-stream" and b"[DONE]" not in ev:
                    ev = ev.replace(b"data: ", b"data:   \t")
                await resp.write(ev)
                if model == "slow-stream":
                    await asyncio.sleep(0.3)
                if model == "long-slow-stream":
                    await asyncio.sleep(0.1)
                if model == "hang-stream":
                    await asyncio.sleep(60)
                if model == "reset-stream" and i == 1:
                    request.transport.abort()  # type: ignore[union-attr]
                    return resp
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects.append(path)
            raise
        return resp


async def _echo(request: web.Request, payload: object, api: str) -> web.StreamResponse:
    """What a hostile or debugging upstream does: hand the request's headers and query back, in the
    answer text, in extra fields and in its own response headers (streamed when asked)."""
    seen = {k.lower(): v for k, v in request.headers.items()}
    seen_text = orjson.dumps({"headers": seen, "query": request.query_string}).decode()
    echo_headers = {f"x-echo-{k}": v for k, v in seen.items() if k in ("authorization", "x-api-key", "api-key")}
    echo_headers["x-echo-query"] = request.query_string or "-"
    body = payload if isinstance(payload, dict) else {}
    if api == "openai" and body.get("stream"):
        resp = web.StreamResponse(status=200, headers={"content-type": "text/event-stream", **echo_headers})
        await resp.prepare(request)
        base = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": 1, "model": "echo-headers"}
        for piece in (seen_text[: len(seen_text) // 2], seen_text[len(seen_text) // 2 :], " " + seen_text):
            ev = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            await resp.write(b"data: " + orjson.dumps(ev) + b"\n\n")
        await resp.write(b"data: " + orjson.dumps({**base, "choices": [], "echo": seen}) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
    if api == "anthropic":
        out: dict = {
            "id": "msg_echo",
            "type": "message",
            "role": "assistant",
            "model": "echo-headers",
            "content": [{"type": "text", "text": seen_text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 5},
            "echo": seen,
        }
    elif api == "google":
        out = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": seen_text}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
            "echo": seen,
        }
    else:
        out = {
            "id": "chatcmpl-echo",
            "object": "chat.completion",
            "model": "echo-headers",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": seen_text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            "echo": seen,
        }
    return web.json_response(out, headers=echo_headers)
