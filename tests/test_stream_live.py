"""Streams stay live under the scanners (issue #24 items 6 and 7).

A fake upstream streams in real time and waits, before each next chunk, until the client has seen
the text of the chunk before it: a gateway that held the stream back would leave it waiting (the
wait gives up after a while and the test fails; no test here measures time).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from aiohttp import web

from leash_cli.store import open_readonly

AWS_KEY = "AKIA" + "Q7ZK2M4XW9PT3RB6"
EMAIL = "jane.doe@mail.example.org"
GIVE_UP = 3.0  # seconds the fake waits for the client before it sends the next chunk anyway


class LiveUpstream:
    """Streams ``chunks`` (texts) in the OpenAI or Anthropic stream format.  Before sending chunk
    i + 1 it waits until the client reported (``saw``) that it holds all the text of chunks
    0..i - ``lag`` (``lag`` = how many chunks a gateway may hold back)."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.lag = 0
        self.linger = 0.0  # seconds between the answer's last event and the end of the response
        self.waits: list[bool] = []  # per chunk sent after the first: did the client see in time?
        self.sent_at: list[float] = []  # perf_counter just before each chunk was written
        self._seen = ""
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, chunks: list[str], lag: int = 0, linger: float = 0.0) -> None:
        self.chunks, self.lag, self.waits, self.sent_at, self._seen = chunks, lag, [], [], ""
        self.linger = linger

    def saw(self, text: str) -> None:
        with self._cond:
            self._seen += text
            self._cond.notify_all()

    def _wait_for(self, text: str) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._seen.startswith(text), GIVE_UP)

    def start(self) -> LiveUpstream:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()

    async def _stream(
        self, request: web.Request, head: list[bytes], event: Any, tail: list[bytes]
    ) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for h in head:
            await resp.write(h)
        for i, text in enumerate(self.chunks):
            if i > 0:
                upto = "".join(self.chunks[: max(0, i - self.lag)])
                self.waits.append(await asyncio.to_thread(self._wait_for, upto))
            self.sent_at.append(time.perf_counter())
            await resp.write(event(text))
        for t in tail:
            await resp.write(t)
        if self.linger:
            await asyncio.sleep(self.linger)
        await resp.write_eof()
        return resp

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        def ev(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-4o",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        return await self._stream(
            request,
            [ev({"role": "assistant", "content": ""})],
            lambda t: ev({"content": t}),
            [ev({}, "stop"), b"data: [DONE]\n\n"],
        )

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        def ev(name: str, obj: dict[str, Any]) -> bytes:
            return b"event: " + name.encode() + b"\ndata: " + json.dumps(obj).encode() + b"\n\n"

        start = {
            "type": "message_start",
            "message": {
                "id": "m1",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        }
        head = [
            ev("message_start", start),
            ev(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        tail = [
            ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ev(
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
            ),
            ev("message_stop", {"type": "message_stop"}),
        ]
        return await self._stream(
            request,
            head,
            lambda t: ev(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
            ),
            tail,
        )


@pytest.fixture(scope="module")
def live() -> Iterator[LiveUpstream]:
    up = LiveUpstream().start()
    yield up
    up.stop()


def _default_modules() -> dict[str, Any]:
    import yaml

    from leash_cli.resources import default_config_path

    return dict(yaml.safe_load(default_config_path().read_text())["modules"])


def _gateway(start_gateway: Any, live: LiveUpstream, modules: dict[str, Any], **extra: Any) -> Any:
    return start_gateway(
        {
            "providers": {
                "openai": {"kind": "openai", "endpoint": f"{live.url}/v1"},
                "anthropic": {"kind": "anthropic", "endpoint": live.url},
            },
            "modules": modules,
            **extra,
        }
    )


def _rows(gw: Any) -> list[dict[str, Any]]:
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        rows = [dict(r) for r in db.query("select id, verdict, ttft_ms, outcome from requests order by started_at")]
        for r in rows:
            r["violations"] = [
                dict(v)
                for v in db.query("select module, type, action from violations where request_id = ?", (r["id"],))
            ]
        return rows
    finally:
        db.close()


CHUNKS = ["Hello there, ", "this is ", "a streamed answer ", "that arrives ", "piece by piece."]


def test_openai_stream_reaches_the_client_chunk_by_chunk_through_the_default_scanners(start_gateway, live):
    gw = _gateway(start_gateway, live, _default_modules())
    live.script(CHUNKS)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    got = ""
    for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]):
        piece = (ch.choices[0].delta.content or "") if ch.choices else ""
        got += piece
        live.saw(piece)
    assert got == "".join(CHUNKS)
    assert live.waits == [True] * (len(CHUNKS) - 1)  # each chunk reached the client before the next left
    row = _rows(gw)[-1]
    assert row["verdict"] == "allowed" and row["violations"] == []  # item 7: a clean stream is allowed


def test_anthropic_stream_reaches_the_client_chunk_by_chunk_through_the_default_scanners(start_gateway, live):
    gw = _gateway(start_gateway, live, _default_modules())
    live.script(CHUNKS)
    a = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="k", max_retries=0)
    got = ""
    with a.messages.stream(model="claude", max_tokens=50, messages=[{"role": "user", "content": "hi"}]) as s:
        for piece in s.text_stream:
            got += piece
            live.saw(piece)
    assert got == "".join(CHUNKS)
    assert live.waits == [True] * (len(CHUNKS) - 1)
    assert _rows(gw)[-1]["verdict"] == "allowed"


def test_a_word_split_across_chunks_waits_one_chunk_at_most(start_gateway, live):
    gw = _gateway(start_gateway, live, _default_modules())
    chunks = ["Hel", "lo the", "re, how a", "re you", " today?"]
    live.script(chunks, lag=1)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    got = ""
    for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]):
        piece = (ch.choices[0].delta.content or "") if ch.choices else ""
        got += piece
        live.saw(piece)
    assert got == "".join(chunks)
    assert all(live.waits)


def test_ttft_is_when_the_client_got_its_first_text(start_gateway, live, monkeypatch):
    """The first chunk ends inside a word, so the gateway holds it until the second arrives: the
    recorded time to first token is after the upstream sent that second chunk."""
    gw = _gateway(start_gateway, live, _default_modules())
    seen: list[Any] = []
    rec = gw.gateway.recorder
    submit = rec.submit
    monkeypatch.setattr(rec, "submit", lambda ex: (seen.append(ex), submit(ex))[1])
    live.script(["Hel", "lo there, ", "friend."], lag=1)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]):
        live.saw((ch.choices[0].delta.content or "") if ch.choices else "")
    deadline = time.monotonic() + GIVE_UP  # the client can read [DONE] before the gateway records
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    ex = seen[-1]
    assert ex.t_first_token is not None and ex.t_first_token > live.sent_at[1]
    row = _rows(gw)[-1]
    assert row["ttft_ms"] == pytest.approx((ex.t_first_token - ex.t_start) * 1000, abs=0.01)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_an_aws_key_split_across_chunks_blocks_the_stream_before_any_of_it_leaves(start_gateway, live, api):
    gw = _gateway(start_gateway, live, _default_modules())  # secrets-detector: block
    chunks = ["Sure, the key is AKIA", AWS_KEY[4:12], AWS_KEY[12:] + " and that is all."]
    live.script(chunks, lag=3)
    if api == "openai":
        with httpx.stream(
            "POST",
            f"{gw.base('openai')}/chat/completions",
            timeout=30,
            json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        ) as r:
            body = b"".join(r.iter_raw()).decode()
        err = [json.loads(line[6:]) for line in body.splitlines() if line.startswith('data: {"error"')]
        assert err and err[0]["error"]["code"] == "policy_violation"
        c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
        live.script(chunks, lag=3)
        with pytest.raises(openai.APIError):
            for _ in c.chat.completions.create(
                model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]
            ):
                pass
    else:
        with httpx.stream(
            "POST",
            f"{gw.base('anthropic')}/v1/messages",
            timeout=30,
            json={"model": "claude", "max_tokens": 9, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        ) as r:
            body = b"".join(r.iter_raw()).decode()
        assert "event: error" in body and "message_stop" not in body
    assert "AKIA" not in body and AWS_KEY[4:12] not in body
    assert "Sure, the key is " in body  # what came before the key was not held back
    rows = _rows(gw)
    assert rows[-1]["verdict"] == "blocked"
    assert any(v["type"] == "AWS_ACCESS_KEY_ID" and v["action"] == "block" for v in rows[-1]["violations"])


def test_an_email_split_across_chunks_is_redacted_and_recorded_as_redacted(start_gateway, live):
    modules = _default_modules()
    modules["pii-detector"] = {"action": "redact"}
    gw = _gateway(start_gateway, live, modules)
    chunks = ["Write to jane.d", "oe@mail.exam", "ple.org today."]
    live.script(chunks, lag=2)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    got = "".join(
        (ch.choices[0].delta.content or "") if ch.choices else ""
        for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}])
    )
    assert got == "Write to [EMAIL] today."
    row = _rows(gw)[-1]
    assert row["verdict"] == "redacted"
    assert [(v["type"], v["action"]) for v in row["violations"]] == [("EMAIL", "redact")]


def test_a_clean_stream_under_a_redacting_scanner_is_allowed(start_gateway, live):
    gw = _gateway(start_gateway, live, {"pii-detector": {"action": "redact"}, "secrets-detector": {"action": "redact"}})
    live.script(CHUNKS)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    got = ""
    for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]):
        piece = (ch.choices[0].delta.content or "") if ch.choices else ""
        got += piece
        live.saw(piece)
    assert got == "".join(CHUNKS)
    assert all(live.waits)
    row = _rows(gw)[-1]
    assert row["verdict"] == "allowed" and row["violations"] == []


def test_a_finding_split_across_events_leaves_no_piece_in_the_stored_stream(start_gateway, live):
    """Under `log` the client gets the pieces as they come; the history (storage.bodies: redacted, the
    default) must not keep them: the raw stream would hold the address in pieces."""
    modules = _default_modules()
    modules["secrets-detector"] = {"action": "log"}
    gw = _gateway(start_gateway, live, modules)
    chunks = ["Write to jane.d", "oe@mail.exam", "ple.org, key AKIA", AWS_KEY[4:12], AWS_KEY[12:] + " ok."]
    live.script(chunks, lag=len(chunks))
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    got = "".join(
        (ch.choices[0].delta.content or "") if ch.choices else ""
        for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}])
    )
    assert got == "".join(chunks)  # log: the client got it unchanged
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        row = dict(next(iter(db.query("select * from requests order by started_at desc limit 1"))))
    finally:
        db.close()
    stored = " ".join(str(row[k] or "") for k in ("response_body", "response_text", "stream_events"))
    for piece in ("jane.d", "oe@mail.exam", AWS_KEY[4:12], AWS_KEY[12:]):
        assert piece not in stored, piece
    assert row["response_text"] and "[REDACTED]" in row["response_text"]


def _read_until(url: str, body: dict[str, Any], last: bytes) -> bytes:
    """Read a stream until `last` arrives, then close the connection at once (as an SDK that stops
    at ``[DONE]`` does), before the upstream ended its response."""
    got = b""
    with httpx.stream("POST", url, json=body, timeout=10) as r:
        for piece in r.iter_raw():
            got += piece
            if last in got:
                break
    return got


@pytest.mark.parametrize(
    ("provider", "path", "body", "last"),
    [
        ("openai", "chat/completions", {"model": "gpt-4o", "stream": True}, b"[DONE]"),
        ("anthropic", "v1/messages", {"model": "claude", "max_tokens": 50, "stream": True}, b"message_stop"),
    ],
)
def test_a_client_that_leaves_after_the_last_event_got_a_complete_answer(
    start_gateway, live, provider, path, body, last
):
    """The upstream holds its response open after the answer's last event; the client closes on that
    event.  It had the whole answer: the record says ok, not client_cancelled."""
    gw = _gateway(start_gateway, live, _default_modules())
    live.script(CHUNKS, linger=2.0)
    got = _read_until(f"{gw.base(provider)}/{path}", {**body, "messages": [{"role": "user", "content": "hi"}]}, last)
    assert last in got
    time.sleep(0.3)
    row = _rows(gw)[-1]
    assert row["outcome"] == "ok" and row["verdict"] == "allowed"


def test_a_client_that_leaves_before_the_last_event_is_recorded_as_cancelled(start_gateway, live):
    gw = _gateway(start_gateway, live, _default_modules())
    live.script(CHUNKS, linger=2.0)
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    got = _read_until(f"{gw.base('openai')}/chat/completions", body, CHUNKS[0].encode())
    assert b"[DONE]" not in got
    time.sleep(0.3)
    assert _rows(gw)[-1]["outcome"] == "client_cancelled"
