"""Config reload generations through a real gateway: a reload never closes modules under an exchange in flight.

A `probe` module (a file in ``modules_dir``) writes what happens to it to an
events file: ``open <tag>``, ``sink <tag> <request id> <open|closed>``,
``close <tag>``.  Its sink takes a moment, so "the exchange is over" has to
include the module sinks, not only the response.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from leash_cli.server import reload_config
from leash_cli.store import open_readonly

PROBE = '''
import asyncio

from pydantic import BaseModel


class Probe:
    """Writes what happens to it to a file."""

    name = "probe"
    version = "1.0"

    class Settings(BaseModel):
        tag: str = "a"
        events: str = ""

    def __init__(self, settings, context=None):
        self.s = settings
        self.closed = False
        self._write(f"open {settings.tag}")

    def _write(self, line):
        with open(self.s.events, "a") as f:
            f.write(line + "\\n")

    async def sink(self, ex):
        await asyncio.sleep(0.2)
        self._write(f"sink {self.s.tag} {ex.id} {'closed' if self.closed else 'open'}")

    def close(self):
        self.closed = True
        self._write(f"close {self.s.tag}")
'''

STREAM = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "count slowly"}]}


def _config(tmp_path: Path, tag: str) -> dict:
    return {
        "modules_dir": str(tmp_path / "mods"),
        "providers": {"mock": {"kind": "mock", "chunks": 12, "chunk_delay_ms": 150}},
        "modules": {"probe": {"tag": tag, "events": str(tmp_path / "events.txt")}},
    }


def _events(tmp_path: Path) -> list[str]:
    p = tmp_path / "events.txt"
    return p.read_text().splitlines() if p.exists() else []


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _start(start_gateway, tmp_path: Path, tag: str):
    (tmp_path / "mods").mkdir(exist_ok=True)
    (tmp_path / "mods" / "probe.py").write_text(PROBE)
    return start_gateway(_config(tmp_path, tag))


def _reload(gw, tmp_path: Path, tag: str) -> None:
    path = tmp_path / "reload.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, tag)))
    assert reload_config(gw.gateway, path)


@pytest.mark.slow
def test_a_reload_mid_stream_closes_the_old_modules_when_the_stream_is_over(start_gateway, tmp_path):
    gw = _start(start_gateway, tmp_path, "a")
    got: dict = {}
    first_event = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", f"{gw.base('mock')}/chat/completions", json=STREAM, timeout=30) as r:
            got["id"] = r.headers["x-leash-request-id"]
            parts = []
            for chunk in r.iter_bytes():
                parts.append(chunk)
                first_event.set()
            got["body"] = b"".join(parts)
            got["status"] = r.status_code

    t = threading.Thread(target=stream)
    t.start()
    assert first_event.wait(10)
    _reload(gw, tmp_path, "b")
    # a request after the reload runs on the new generation
    r = httpx.post(f"{gw.base('mock')}/chat/completions", json={**STREAM, "stream": False}, timeout=10)
    assert r.status_code == 200
    after = r.headers["x-leash-request-id"]
    assert _wait(lambda: f"sink b {after} open" in _events(tmp_path))
    assert "close a" not in _events(tmp_path)  # the stream still runs on generation a
    assert t.is_alive()
    t.join(30)
    assert got["status"] == 200 and got["body"].rstrip().endswith(b"data: [DONE]")
    # generation a closes once its last exchange (stream, then its sinks) is over, not on a timer
    assert _wait(lambda: "close a" in _events(tmp_path), 5)
    ev = _events(tmp_path)
    assert f"sink a {got['id']} open" in ev
    assert ev.index(f"sink a {got['id']} open") < ev.index("close a")
    assert "close b" not in ev
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        row = [
            dict(r)
            for r in db.query("select status, outcome, error, response_text from requests where id = ?", [got["id"]])
        ][0]
    finally:
        db.close()
    sent = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in got["body"].decode().splitlines()
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )
    assert (row["status"], row["outcome"], row["error"]) == (200, "ok", None)
    assert sent and row["response_text"] == sent  # recorded in full


def test_a_reload_with_nothing_in_flight_closes_the_old_modules_at_once(start_gateway, tmp_path):
    gw = _start(start_gateway, tmp_path, "a")
    r = httpx.post(f"{gw.base('mock')}/chat/completions", json={**STREAM, "stream": False}, timeout=10)
    assert r.status_code == 200
    assert _wait(lambda: any(e.startswith("sink a") for e in _events(tmp_path)))
    _reload(gw, tmp_path, "b")
    assert _wait(lambda: "close a" in _events(tmp_path), 5)
    _reload(gw, tmp_path, "c")
    assert _wait(lambda: "close b" in _events(tmp_path), 5)
    assert "close c" not in _events(tmp_path)
    assert gw.gateway.live.retired() == []


@pytest.mark.slow
def test_reloads_while_a_stream_runs_keep_its_generation_open_to_the_end(start_gateway, tmp_path):
    gw = _start(start_gateway, tmp_path, "a")
    first_event = threading.Event()
    done = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", f"{gw.base('mock')}/chat/completions", json=STREAM, timeout=30) as r:
            for _ in r.iter_bytes():
                first_event.set()
        done.set()

    t = threading.Thread(target=stream)
    t.start()
    assert first_event.wait(10)
    _reload(gw, tmp_path, "b")
    _reload(gw, tmp_path, "c")
    assert _wait(lambda: "close b" in _events(tmp_path), 5)  # b never had an exchange
    assert "close a" not in _events(tmp_path) and not done.is_set()
    t.join(30)
    assert _wait(lambda: "close a" in _events(tmp_path), 5)
    assert "close c" not in _events(tmp_path)
