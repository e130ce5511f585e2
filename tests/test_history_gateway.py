"""The history as the gateway writes it: every outcome recorded, keys never stored, drained on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from leash_cli.store import open_readonly
from leash_cli.store.reader import OLDEST_FIRST

CANARY_KEY = "sk-proj-CANARYkeyDoNotLeak0123456789abcdefABCDEF"

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def all_rows(gw, sql=f"select * from requests order by {OLDEST_FIRST}") -> list[dict]:
    return gw.rows(sql)


@pytest.mark.slow
def test_every_outcome_is_recorded(start_gateway):
    # 2 s: only the hanging upstream must time out; at 0.5 s, a parallel run on two loaded cores once had the
    # error-500 upstream answer late, recorded as a 504
    gw = start_gateway({"gateway": {"read_timeout": 2.0, "max_body_bytes": 5000}})
    base = gw.base("openai")
    httpx.post(f"{base}/chat/completions", json=CHAT)  # ok
    httpx.post(f"{base}/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
    httpx.post(f"{base}/chat/completions", json={**CHAT, "model": "mock-error-500"})
    httpx.post(f"{base}/chat/completions", json={**CHAT, "model": "hang"}, timeout=5)
    httpx.post(f"{base}/chat/completions", json={**CHAT, "model": "reset"})
    httpx.post(f"{gw.url}/v1/nowhere/chat/completions", json=CHAT)
    httpx.post(f"{base}/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "x" * 6000}]})
    with httpx.stream(
        "POST", f"{base}/chat/completions", json={**CHAT, "model": "slow-stream", "stream": True}, timeout=10
    ) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data:")
            if seen == 3:
                break
    assert _wait(lambda: len(all_rows(gw)) == 8, 5)  # the cancelled stream is recorded once the gateway sees it
    got = [(r["status"], r["outcome"]) for r in all_rows(gw)]
    assert got == [
        (200, "ok"),
        (400, "error"),
        (500, "upstream_error"),
        (504, "upstream_error"),
        (502, "upstream_error"),
        (404, "error"),
        (413, "error"),
        (200, "client_cancelled"),
    ]
    rows = all_rows(gw)
    assert rows[1]["error"].startswith("invalid_json")
    assert rows[7]["stream"] == 1 and rows[7]["response_text"]  # usage and text seen so far are kept


def test_usage_cost_and_stream_reassembly(start_gateway):
    gw = start_gateway(
        {
            "pricing": {"gpt-4o-mini": {"input": 0.15, "output": 0.6, "cached_input": 0.075}},
            "storage": {"bodies": "full"},
        }
    )  # (raw stream events are kept with full bodies only)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    r = c.chat.completions.create(**CHAT)
    chunks = list(c.chat.completions.create(**CHAT, stream=True))
    assert all(ch.choices for ch in chunks)  # the usage chunk leash asked for is not shown
    rows = all_rows(gw)
    for row, _usage in ((rows[0], r.usage), (rows[1], None)):
        assert row["input_tokens"] == r.usage.prompt_tokens
        assert row["output_tokens"] == r.usage.completion_tokens
        want = r.usage.prompt_tokens * 0.15 / 1e6 + r.usage.completion_tokens * 0.6 / 1e6
        assert row["cost_usd"] == pytest.approx(want, rel=1e-9)
    assert rows[1]["response_text"] == r.choices[0].message.content
    assert rows[1]["stream"] == 1 and rows[1]["ttft_ms"] is not None
    events = json.loads(rows[1]["stream_events"])
    assert any('"usage"' in e for e in events)  # raw events as upstream sent them


def test_unpriced_model_is_null_not_zero(start_gateway):
    gw = start_gateway()
    httpx.post(f"{gw.base('mock')}/chat/completions", json={**CHAT, "model": "mock-small"})
    row = all_rows(gw)[0]
    assert row["input_tokens"] > 0 and row["cost_usd"] is None


def test_provider_keys_never_written_anywhere(start_gateway, upstream, capfd):
    gw = start_gateway(
        {
            "providers": {
                "openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1", "api_key": CANARY_KEY},
                "anthropic": {"kind": "anthropic", "endpoint": upstream.url},
                "google": {"kind": "google", "endpoint": upstream.url},
            }
        }
    )
    client_canary = "sk-ant-api03-CLIENTCANARY" + "x" * 40
    httpx.post(f"{gw.base('openai')}/chat/completions", json=CHAT, headers={"authorization": "Bearer whatever"})
    httpx.post(f"{gw.base('openai')}/chat/completions", json={**CHAT, "model": "mock-error-401"})
    httpx.post(
        f"{gw.base('anthropic')}/v1/messages",
        headers={"x-api-key": client_canary},
        json={"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    )
    httpx.post(
        f"{gw.base('google')}/v1beta/models/gemini-2.0-flash:generateContent?key={client_canary}",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert upstream.requests[-4].headers["authorization"] == f"Bearer {CANARY_KEY}"
    metrics = httpx.get(f"{gw.url}/metrics").text
    health = httpx.get(f"{gw.url}/health").text
    all_rows(gw)
    gw.gateway.recorder.flush()
    written = b"".join(p.read_bytes() for p in gw.db_path.parent.glob("leash.db*"))
    out, err = capfd.readouterr()
    for text in (written.decode("latin-1"), metrics, health, out, err):
        assert CANARY_KEY not in text
        assert client_canary not in text
    row = all_rows(gw, "select query from requests where provider = 'google'")[0]
    assert "key=" not in (row["query"] or "")


@pytest.mark.parametrize("on_error", ["continue", "block"])
def test_store_failure_keeps_serving_or_blocks(start_gateway, monkeypatch, on_error):
    import sqlite3

    from leash_cli.store import Recorder

    def disk_full(self, items):
        raise sqlite3.OperationalError("database or disk is full")

    gw = start_gateway({"storage": {"on_error": on_error, "writer": "thread"}})  # a fault injected in-process
    monkeypatch.setattr(Recorder, "_write", disk_full)
    assert httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT).status_code == 200
    deadline = time.time() + 5
    while gw.gateway.recorder.state != "degraded" and time.time() < deadline:
        time.sleep(0.05)
    health = httpx.get(f"{gw.url}/health").json()
    assert health["status"] == "degraded" and health["store"]["state"] == "degraded"
    assert "disk is full" in health["store"]["last_error"]
    r = httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT)
    if on_error == "continue":
        assert r.status_code == 200
    else:
        assert r.status_code == 503 and r.json()["error"]["code"] == "history_unavailable"
    # degraded is not ready, whatever on_error says (#25: /health informs, /ready decides)
    assert httpx.get(f"{gw.url}/ready").status_code == 503
    monkeypatch.undo()  # the disk recovers: the rows kept in memory are written
    deadline = time.time() + 10
    while gw.gateway.recorder.state != "ok" and time.time() < deadline:
        time.sleep(0.1)
    assert gw.gateway.recorder.state == "ok"
    assert len(all_rows(gw)) >= 2
    health = httpx.get(f"{gw.url}/health").json()
    assert health["status"] == "ok" and health["store"]["last_error"] is None  # cleared on recovery
    assert httpx.get(f"{gw.url}/ready").status_code == 200


def _wait(cond, timeout: float) -> bool:
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.05)
    return cond()


@pytest.mark.slow
def test_writer_process_locked_out_then_back_loses_nothing(start_gateway):
    """The default writer process cannot write (another process holds the database's write lock): the
    gateway keeps serving, says so, and writes every row once the lock is gone."""
    import sqlite3

    gw = start_gateway({"storage": {"writer": "process"}})
    rec = gw.gateway.recorder
    assert type(rec).__name__ == "ProcessRecorder" and rec.pid
    assert httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT).status_code == 200
    assert rec.flush()
    locker = sqlite3.connect(gw.db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(5):
            assert httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT).status_code == 200
        assert _wait(lambda: rec.state == "degraded", 15)
        health = httpx.get(f"{gw.url}/health").json()
        assert health["store"]["state"] == "degraded" and "locked" in health["store"]["last_error"]
        assert health["store"]["queue"] >= 5
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert _wait(lambda: rec.state == "ok" and rec.queue_depth == 0, 15)
    assert len(all_rows(gw)) == 6


@pytest.mark.slow
def test_writer_process_killed_is_restarted_and_loses_nothing(start_gateway):
    gw = start_gateway({"storage": {"writer": "process"}})
    rec = gw.gateway.recorder
    for _ in range(3):
        assert httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT).status_code == 200
    first = rec.pid
    os.kill(first, signal.SIGKILL)
    for _ in range(4):
        assert httpx.post(f"{gw.base('mock')}/chat/completions", json=CHAT).status_code == 200
    assert _wait(lambda: rec.pid != first and rec.state == "ok", 10)
    assert rec.flush() and rec.queue_depth == 0
    assert len(all_rows(gw)) == 7
    assert all_rows(gw, "select count(distinct id) as n from requests")[0]["n"] == 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leash_up(tmp_path, upstream, flush_interval_ms: int) -> tuple[subprocess.Popen, int]:
    """`leash up` in a process of its own, history in tmp_path/h.db; returns once /health answers."""
    port = _free_port()
    cfg = tmp_path / "leash.yaml"
    cfg.write_text(
        json.dumps(
            {
                "gateway": {"port": port},
                "providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"}},
                "storage": {"path": str(tmp_path / "h.db"), "flush_interval_ms": flush_interval_ms},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "leash_cli", "up", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, port


@pytest.mark.slow
def test_sigterm_drains_the_queue(tmp_path, upstream):
    proc, port = _leash_up(tmp_path, upstream, flush_interval_ms=5000)
    try:
        n = 40
        with httpx.Client() as c:
            for _ in range(n):
                assert c.post(f"http://127.0.0.1:{port}/v1/openai/chat/completions", json=CHAT).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    db = open_readonly(tmp_path / "h.db")
    assert db.execute("select count(*) from requests").fetchone()[0] == n
    db.close()


def _running(pid: int) -> bool:
    try:  # a zombie has exited (nobody may reap it in a container without an init)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the writer process in /proc")
def test_sigkill_of_the_gateway_loses_nothing_handed_to_the_writer(tmp_path, upstream):
    """The documented SIGKILL window: rows older than one flush interval are in the writer's
    pipe, and the writer (in its own session) writes them after the gateway is gone."""
    proc, port = _leash_up(tmp_path, upstream, flush_interval_ms=5)
    try:
        writer = next(
            int(p.parent.name)
            for p in Path("/proc").glob("[0-9]*/stat")
            if p.read_text().rsplit(")", 1)[1].split()[1] == str(proc.pid)
        )
        n = 30
        with httpx.Client() as c:
            for _ in range(n):
                assert c.post(f"http://127.0.0.1:{port}/v1/openai/chat/completions", json=CHAT).status_code == 200
        time.sleep(0.2)  # well past one flush interval
        proc.kill()
        proc.wait(10)
        deadline = time.time() + 20
        while _running(writer) and time.time() < deadline:  # it drains, then exits
            time.sleep(0.05)
        assert not _running(writer)
    finally:
        if proc.poll() is None:
            proc.kill()
    db = open_readonly(tmp_path / "h.db")
    assert db.execute("select count(*) from requests").fetchone()[0] == n
    db.close()


def test_logs_filter_expression(start_gateway):
    from typer.testing import CliRunner

    from leash_cli.cli import app

    gw = start_gateway({"modules": {"content-filter": {"blocked_keywords": ["forbidden"]}}})
    httpx.post(f"{gw.base('openai')}/chat/completions", json=CHAT, headers={"x-leash-tenant": "acme"})
    httpx.post(f"{gw.base('openai')}/chat/completions", json={**CHAT, "model": "mock-error-503"})
    httpx.post(
        f"{gw.base('openai')}/chat/completions",
        json={**CHAT, "messages": [{"role": "user", "content": "a forbidden word"}]},
    )
    all_rows(gw)
    run = CliRunner()

    def ids(expr: str) -> list[str]:
        r = run.invoke(app, ["logs", "--db", str(gw.db_path), "--json", "-F", expr])
        assert r.exit_code == 0, r.output
        return [row["status"] for row in json.loads(r.output)]

    assert ids("~t acme") == [200]
    assert ids("~s 5xx") == [503]
    assert ids("~v & ~mod content-filter") == [403]
    assert ids("!~o ok") == [503, 403]
    assert ids("forbidden") == [403]  # full-text, indexed or not yet
    r = run.invoke(app, ["logs", "--db", str(gw.db_path), "-F", "~p (openai"])
    assert r.exit_code == 2 and "bad filter" in r.output and "^" in r.output
