"""Behind Envoy the streamed path behaves as the proxy's (issue #24 items 6, 7): the client sees each
chunk of a stream before the provider sends the next, with the default scanners on, and a key split
across chunks stops the stream before any of it leaves."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from ep_support import LocalEnvoy, envoy_binary

from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.extproc.server import ExtProcThread, build_host
from test_stream_live import AWS_KEY, CHUNKS, LiveUpstream, _default_modules, _read_until

pytestmark = pytest.mark.slow  # real Envoy end to end


@pytest.fixture(scope="module")
def live() -> Iterator[LiveUpstream]:
    up = LiveUpstream().start()
    yield up
    up.stop()


@pytest.fixture
def envoy_stack(tmp_path: Path, live: LiveUpstream) -> Iterator[tuple[LocalEnvoy, Path, Any]]:
    envoy_binary()
    cfg = {
        "providers": {"openai": {"kind": "openai", "endpoint": f"{live.url}/v1"}},
        "modules": _default_modules(),
        "gateway": {"require_virtual_key": False},
    }
    db = tmp_path / "leash.db"
    gw = build_host(LoadedConfig(parse_config_text(yaml.safe_dump(cfg), "leash.yaml"), None, "flag"), db)
    host = ExtProcThread(gw)
    server = host.start()
    envoy = LocalEnvoy(gw.state.providers, [server.bound_port], tmp_path).start(wait_healthy=1)
    try:
        yield envoy, db, gw
    finally:
        envoy.stop()
        host.stop()


def _last_row(db: Path, gw: Any) -> tuple[Any, ...]:
    time.sleep(0.2)  # module sinks run as tasks after the answer
    if gw.recorder is not None:
        gw.recorder.flush()
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT verdict, ttft_ms, outcome FROM requests ORDER BY started_at DESC LIMIT 1").fetchone()
    finally:
        con.close()


def test_a_stream_reaches_the_client_chunk_by_chunk_behind_envoy(envoy_stack, live):
    envoy, db, gw = envoy_stack
    live.script(CHUNKS)
    c = openai.OpenAI(base_url=f"{envoy.url}/v1/openai", api_key="k", max_retries=0)
    got = ""
    for ch in c.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]):
        piece = (ch.choices[0].delta.content or "") if ch.choices else ""
        got += piece
        live.saw(piece)
    assert got == "".join(CHUNKS)
    assert live.waits == [True] * (len(CHUNKS) - 1)
    verdict, ttft, outcome = _last_row(db, gw)
    assert verdict == "allowed" and outcome == "ok" and ttft is not None


def test_a_key_split_across_chunks_stops_the_stream_behind_envoy(envoy_stack, live):
    envoy, db, gw = envoy_stack
    live.script(["Sure, the key is AKIA", AWS_KEY[4:12], AWS_KEY[12:] + " and that is all."], lag=3)
    with httpx.stream(
        "POST",
        f"{envoy.url}/v1/openai/chat/completions",
        timeout=30,
        json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ) as r:
        body = b"".join(r.iter_raw()).decode()
    assert "AKIA" not in body and AWS_KEY[4:12] not in body
    assert "Sure, the key is " in body and '"error"' in body
    assert _last_row(db, gw)[0] == "blocked"


def test_a_client_that_leaves_after_the_last_event_got_a_complete_answer_behind_envoy(envoy_stack, live):
    """The upstream holds its response open after ``[DONE]``; the client closes on it, before Envoy
    passes the end of stream on to the module host: a complete answer, recorded as ok."""
    envoy, db, gw = envoy_stack
    live.script(CHUNKS, linger=2.0)
    got = _read_until(
        f"{envoy.url}/v1/openai/chat/completions",
        {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        b"[DONE]",
    )
    assert b"[DONE]" in got
    time.sleep(0.5)
    verdict, _, outcome = _last_row(db, gw)
    assert verdict == "allowed" and outcome == "ok"


def test_a_client_that_leaves_mid_stream_behind_envoy_is_recorded_as_cancelled(envoy_stack, live):
    envoy, db, gw = envoy_stack
    live.script(CHUNKS, linger=2.0)
    got = _read_until(
        f"{envoy.url}/v1/openai/chat/completions",
        {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        CHUNKS[0].encode(),
    )
    assert b"[DONE]" not in got
    time.sleep(3.5)  # the upstream goes on after its wait for the client gives up; Envoy then ends the exchange
    assert _last_row(db, gw)[2] == "client_cancelled"
