"""Issue #25 item 1: one request cannot freeze the gateway.

Large bodies are scanned in a worker thread (in windows, so no single regular-expression
call holds the GIL for long), a module's budget is enforced while it runs, and the text one
exchange may have scanned is capped (``gateway.max_scan_chars``, fail closed by default).
"""

from __future__ import annotations

import json
import statistics
import textwrap
import threading
import time

import httpx
import pytest

from leash_cli.modules.pii_detector import PiiDetector
from leash_cli.scanners import PiiScanner

CHAT = {"model": "gpt-4o-mini"}


def _chat(gw, content: str, timeout: float = 10) -> httpx.Response:
    body = {**CHAT, "messages": [{"role": "user", "content": content}]}
    return httpx.post(f"{gw.base('openai')}/chat/completions", json=body, timeout=timeout)


def _poll_health(url: str, done: threading.Event) -> list[float]:
    """/health's latencies, one poll every 20 ms until `done`."""
    lat: list[float] = []
    with httpx.Client(timeout=30) as c:
        while not done.is_set():
            t = time.perf_counter()
            r = c.get(f"{url}/health")
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["version"]
            time.sleep(0.02)
    return lat


@pytest.mark.slow
def test_health_answers_while_a_10_mib_hostile_body_is_scanned(start_gateway):
    """10 MiB of IBAN-shaped numbers (the red team's worst case for the PII scanner; these fail
    the checksum, so every one is checked and the whole body is scanned) takes seconds to scan;
    meanwhile every /health poll is answered, and fast."""
    gw = start_gateway(
        {
            "gateway": {"max_body_bytes": 12 * 1024 * 1024, "max_scan_chars": 16 * 1024 * 1024},
            "modules": {"pii-detector": {"action": "block", "timeout": 120}},
            "storage": {"bodies": "none"},
        }
    )
    hostile = " ".join("DE00370400440532013000" for _ in range(10 * 1024 * 1024 // 23))
    baseline = _poll_once(gw.url, 10)
    done = threading.Event()
    result: dict = {}

    def send() -> None:
        t = time.perf_counter()
        try:
            result["r"] = _chat(gw, hostile, timeout=180)
        finally:
            result["s"] = time.perf_counter() - t
            done.set()

    th = threading.Thread(target=send)
    th.start()
    time.sleep(0.3)  # the body is in and being scanned
    lat = _poll_health(gw.url, done)
    th.join(200)
    r = result["r"]
    assert r.status_code == 200
    assert len(lat) >= 5, f"only {len(lat)} polls during a {result['s']:.1f} s scan"
    worst, median = max(lat), statistics.median(lat)
    print(
        f"\n10 MiB hostile scan: {result['s']:.2f} s; /health during it: {len(lat)} polls, "
        f"median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms (idle baseline median "
        f"{statistics.median(baseline) * 1000:.1f} ms)"
    )
    # the target is 50 ms; on a shared 2-core machine the bound is generous, but the old
    # code answered only after the whole scan (seconds)
    assert median < 0.05
    assert worst < 0.5 < result["s"]


def _poll_once(url: str, n: int) -> list[float]:
    out = []
    with httpx.Client(timeout=10) as c:
        for _ in range(n):
            t = time.perf_counter()
            c.get(f"{url}/health")
            out.append(time.perf_counter() - t)
    return out


def test_a_sleeping_module_is_abandoned_at_its_budget_and_the_loop_keeps_serving(start_gateway, tmp_path):
    d = tmp_path / "modules"
    d.mkdir()
    (d / "sleepy.py").write_text(
        textwrap.dedent(
            """
            import time

            class Sleepy:
                name = "sleepy"

                def policy(self, ex):
                    if "sleep" in ex.prompt_text:
                        time.sleep(4)
            """
        )
    )
    gw = start_gateway({"modules_dir": "modules", "modules": {"sleepy": {"timeout": 0.5}}})
    done = threading.Event()
    result: dict = {}

    def send() -> None:
        t = time.perf_counter()
        result["r"] = _chat(gw, "please sleep")
        result["s"] = time.perf_counter() - t
        done.set()

    th = threading.Thread(target=send)
    th.start()
    time.sleep(0.1)
    lat = _poll_health(gw.url, done)
    th.join(10)
    r = result["r"]
    assert r.status_code == 503 and r.json()["error"]["code"] == "module_error"
    assert result["s"] < 2.5  # the budget (0.5 s), not the module's 4 s
    assert lat and max(lat) < 0.5  # the old code froze the loop for the whole sleep
    assert _chat(gw, "hello").status_code == 200


def test_text_over_max_scan_chars_is_refused_by_default(start_gateway):
    gw = start_gateway({"gateway": {"max_scan_chars": 1000}, "modules": {"pii-detector": {}}})
    r = _chat(gw, "x " * 1000)
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "scan_limit_exceeded" and "gateway.max_scan_chars" in err["message"]
    assert _chat(gw, "short and fine").status_code == 200
    gw.flush()
    import sqlite3

    con = sqlite3.connect(gw.db_path)
    got = con.execute("SELECT type, action FROM violations").fetchall()
    assert ("SCAN_LIMIT", "block") in got


def test_on_scan_limit_allow_scans_up_to_the_cap_and_notes_the_rest(start_gateway, upstream):
    gw = start_gateway(
        {
            "gateway": {"max_scan_chars": 1000, "on_scan_limit": "allow"},
            "modules": {"pii-detector": {"action": "redact"}},
        }
    )
    early = "mail alice@example.com now. "
    late = " bob@example.org"
    r = _chat(gw, early + "y" * 2000 + late)
    assert r.status_code == 200
    sent = json.loads(upstream.last().body)["messages"][0]["content"]
    assert "alice@example.com" not in sent and "[EMAIL]" in sent  # within the cap: scanned
    assert sent.endswith(late)  # beyond it: passed unscanned, as configured
    gw.flush()
    import sqlite3

    con = sqlite3.connect(gw.db_path)
    assert ("SCAN_LIMIT", "log") in con.execute("SELECT type, action FROM violations").fetchall()


def test_windowed_scan_finds_what_a_whole_scan_finds():
    """Long texts are scanned in overlapping windows: same findings, including one on a seam."""
    det = PiiDetector(PiiDetector.Settings())
    filler = "lorem ipsum dolor sit amet " * 3000  # ~81k characters
    seam = 64 * 1024 - 8  # an e-mail across the first window's edge
    text = filler[:seam] + " carol@example.net " + filler[seam:] + " 4111 1111 1111 1111 end"
    whole = sorted((f.type, f.start, f.end) for f in PiiScanner().scan(text))
    windowed = sorted((f.type, f.start, f.end) for f in det._scan(text))
    assert windowed == whole and any(t == "EMAIL" for t, _, _ in whole)
