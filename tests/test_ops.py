"""Operating the gateway: health, readiness, metrics, the banner, and `leash up` failing clearly."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def test_health_ready_metrics(gateway):
    httpx.post(
        f"{gateway.base('mock')}/chat/completions",
        json={"model": "mock-small", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-leash-tenant": "acme"},
    )
    h = httpx.get(f"{gateway.url}/health").json()
    assert h["status"] == "ok" and h["version"] and h["uptime_s"] >= 0
    assert h["providers"]["mock"] == {"kind": "mock", "endpoint": "mock://local"}
    assert h["store"]["state"] == "ok"
    assert httpx.get(f"{gateway.url}/ready").json() == {"ready": True}
    m = httpx.get(f"{gateway.url}/metrics")
    assert m.headers["content-type"].startswith("text/plain")
    text = m.text
    assert 'leash_gateway_requests_total{model="mock-small",provider="mock",status="200",tenant="acme"} 1.0' in text
    for name in (
        "leash_gateway_request_duration_seconds_bucket",
        "leash_provider_latency_seconds_bucket",
        "leash_gateway_overhead_seconds_bucket",
        "leash_gateway_tokens_total",
        "leash_store_write_errors_total",
        "leash_store_queue_depth",
        "leash_gateway_in_flight_requests",
    ):
        assert name in text


def test_each_module_time_is_a_histogram_in_metrics(start_gateway):
    gw = start_gateway({"modules": {"pii-detector": {"action": "log"}, "secrets-detector": {}}})
    for _ in range(3):
        httpx.post(
            f"{gw.base('mock')}/chat/completions",
            json={"model": "mock-small", "messages": [{"role": "user", "content": "hi there"}]},
        )
    lines = httpx.get(f"{gw.url}/metrics").text.splitlines()
    for module in ("pii-detector", "secrets-detector"):
        series = [
            ln
            for ln in lines
            if ln.startswith("leash_module_processing_duration_seconds") and f'module="{module}"' in ln
        ]
        count = next(ln for ln in series if "_count" in ln)
        assert count.endswith(" 3.0")  # one observation per request (request and response stages summed)
        buckets = [float(ln.rsplit(" ", 1)[1]) for ln in series if "_bucket" in ln]
        assert buckets == sorted(buckets) and buckets[-1] == 3.0 and "+Inf" in series[len(buckets) - 1]
        total = float(next(ln for ln in series if "_sum" in ln).rsplit(" ", 1)[1])
        assert 0 < total < 1
    assert "# TYPE leash_module_processing_duration_seconds histogram" in lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leash(*args: str, cwd=None, env=None, timeout=20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "leash_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_up_prints_a_banner_and_serves_the_embedded_default(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "leash_cli", "up", "--port", str(port), "--db", str(tmp_path / "x.db")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}/v1/mock/chat/completions",
                    json={"model": "mock-small", "messages": [{"role": "user", "content": "hi"}]},
                )
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.status_code == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert f"listening on http://127.0.0.1:{port}" in out
    assert "embedded default" in out
    assert f"http://127.0.0.1:{port}/v1/openai" in out and "https://api.openai.com/v1" in out
    assert proc.returncode == 0


@pytest.mark.slow
def test_up_with_a_bad_config_says_where(tmp_path):
    bad = tmp_path / "leash.yaml"
    bad.write_text("gateway:\n  prot: 1\n")
    r = _leash("up", "--config", str(bad))
    assert r.returncode == 2
    assert "leash.yaml" in r.stderr and "line 2" in r.stderr and "did you mean 'port'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_up_with_a_broken_module_refuses_to_start(tmp_path):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "bad.py").write_text(
        "class Bad:\n    name = 'bad'\n    def policy(self, ex):\n"
        "        return undefined_name\nraise ImportError('no such lib')\n"
    )
    cfg = tmp_path / "leash.yaml"
    cfg.write_text("modules_dir: mods\nmodules:\n  bad: {}\n")
    r = _leash("up", "--config", str(cfg), "--port", str(_free_port()))
    assert r.returncode == 2
    assert "bad.py:5" in r.stderr and "ImportError" in r.stderr and "enabled: false" in r.stderr


@pytest.mark.slow
def test_up_on_a_busy_port_fails_cleanly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _leash("up", "--port", str(port), "--no-record", cwd=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.slow
def test_up_with_a_corrupt_database_says_so(tmp_path):
    db = tmp_path / "leash.db"
    db.write_bytes(b"this is not a database at all, not even close" * 10)
    r = _leash("up", "--db", str(db), "--port", str(_free_port()), cwd=tmp_path)
    assert r.returncode == 2
    assert "not a SQLite file" in r.stderr + r.stdout and "Traceback" not in r.stderr


def _audited(db: Path, event: str) -> bool:
    """Whether the history's audit log holds `event` (read-only; False while the database is not there yet)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return con.execute("SELECT 1 FROM audit_log WHERE event = ?", (event,)).fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        con.close()


@pytest.mark.slow
def test_sighup_reloads_without_dropping_in_flight_requests(tmp_path, upstream):
    import json
    import signal
    import threading

    port = _free_port()
    cfg = tmp_path / "leash.yaml"

    def write(word: str) -> None:
        cfg.write_text(
            json.dumps(
                {
                    "gateway": {"port": port},
                    "providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"}},
                    "storage": {"path": str(tmp_path / "h.db")},
                    "modules": {"content-filter": {"blocked_keywords": [word]}},
                }
            )
        )

    def chat(text: str, **kw) -> httpx.Response:
        return httpx.post(
            f"http://127.0.0.1:{port}/v1/openai/chat/completions",
            timeout=10,
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **kw},
        )

    write("alpha")
    proc = subprocess.Popen(
        [sys.executable, "-m", "leash_cli", "up", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert chat("alpha").status_code == 403
        got: list[str] = []
        streaming = threading.Event()

        def slow() -> None:  # a 2-second stream that spans the reload
            with httpx.stream(
                "POST",
                f"http://127.0.0.1:{port}/v1/openai/chat/completions",
                timeout=10,
                json={"model": "slow-stream", "stream": True, "messages": [{"role": "user", "content": "x"}]},
            ) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        got.append(line)
                        streaming.set()

        t = threading.Thread(target=slow)
        t.start()
        assert streaming.wait(10)  # the stream is under way on the old config
        write("beta")
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while chat("alpha").status_code != 200 and time.time() < deadline:
            time.sleep(0.1)
        assert chat("alpha").status_code == 200 and chat("beta").status_code == 403
        cfg.write_text("modules: [not, a, mapping")  # a broken config is rejected, the running one kept
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not _audited(tmp_path / "h.db", "config_rejected") and time.time() < deadline:
            time.sleep(0.05)
        assert _audited(tmp_path / "h.db", "config_rejected")
        assert chat("beta").status_code == 403
        t.join(10)
        assert got and got[-1] == "data: [DONE]"
    finally:
        proc.terminate()
        err = proc.communicate(timeout=20)[1]
    assert "config reload rejected" in err
    from leash_cli.store import open_readonly

    db = open_readonly(tmp_path / "h.db")
    events = [r[0] for r in db.execute("select event from audit_log order by id")]
    db.close()
    assert events[:3] == ["config_loaded", "config_reloaded", "config_rejected"]
