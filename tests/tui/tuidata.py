"""Fixed test data for the TUI tests: exchanges written straight into a history database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leash_cli.store import iso_utc, open_writable

#: the frozen clock of the snapshot tests: 2025-05-01T12:00:00Z
NOW = 1746100800.0

PROVIDERS = [
    ("openai", "openai", "gpt-4o-mini"),
    ("anthropic", "anthropic", "claude-3-5-haiku"),
    ("google", "google", "gemini-2.0-flash"),
    ("mock", "mock", "mock-1"),
]


def row(i: int, started: float, **kw: Any) -> dict[str, Any]:
    provider, kind, model = PROVIDERS[i % len(PROVIDERS)]
    r = {
        "id": f"req-{i:07d}",
        "started_at": iso_utc(started),
        "ended_at": iso_utc(started + 0.5),
        "tenant": ("acme", "globex", "default")[i % 3],
        "provider": provider,
        "kind": kind,
        "model": model,
        "method": "POST",
        "path": "chat/completions" if kind in ("openai", "mock") else "messages",
        "status": 200,
        "stream": i % 5 == 0,
        "outcome": "ok",
        "verdict": "allowed",
        "latency_ms": 100.0 + (i * 37) % 900,
        "upstream_ms": 95.0 + (i * 37) % 900,
        "overhead_ms": 5.0 + i % 3,
        "ttft_ms": 50.0 if i % 5 == 0 else None,
        "input_tokens": 100 + i % 50,
        "output_tokens": 20 + i % 30,
        "cost_usd": round(0.0001 * (1 + i % 20), 6) if kind != "mock" else None,
        "request_body_truncated": 0,
        "response_body_truncated": 0,
    }
    r.update(kw)
    return r


def build(path: Path, n: int, *, now: float = NOW, spacing: float = 1.0, bodies: bool = False) -> None:
    """``n`` rows, the newest started at ``now - 1``, one every ``spacing`` seconds.

    Large builds drop the indexes and triggers, insert, and create them again
    (about twice as fast); the full-text index then holds none of these rows.
    """
    db = open_writable(path)
    schema = []
    if n > 50_000 and not bodies:
        schema = db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'requests' "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ).fetchall()
        for kind, name, _ in schema:
            db.execute(f"DROP {kind} {name}")
        db.execute("PRAGMA synchronous=OFF")

    def gen():
        for i in range(n):
            r = row(i, now - 1 - (n - 1 - i) * spacing)
            if bodies:
                r["prompt_text"] = f"question number {i}"
                r["response_text"] = f"answer number {i}"
            yield r

    db["requests"].insert_all(gen(), batch_size=2000)
    for _, _, sql in schema:
        db.execute(sql)
    db.close()


def build_rich(path: Path, now: float = NOW) -> None:
    """A dozen varied exchanges (streams, blocks, redactions, errors, unpriced) for views and snapshots."""
    db = open_writable(path)
    rows = []
    violations = []
    for i in range(12):
        r = row(i, now - 3600 * 24 * (i % 4) - 60 * i - 5)
        r["request_headers"] = json.dumps({"content-type": "application/json", "user-agent": "openai-python/1.0"})
        r["response_headers"] = json.dumps({"content-type": "application/json"})
        body = {
            "model": r["model"],
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"What is {i} + {i}?"},
            ],
        }
        if r["kind"] == "google":
            body = {"contents": [{"role": "user", "parts": [{"text": f"What is {i} + {i}?"}]}]}
            r["path"] = f"models/{r['model']}:generateContent"
        r["request_body"] = json.dumps(body)
        r["prompt_text"] = f"What is {i} + {i}?"
        r["response_text"] = f"It is {2 * i}."
        r["response_body"] = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": r["response_text"]}}]}
        )
        r["module_timings"] = json.dumps({"pii-detector": 1.25, "rate-limiter": 0.05})
        if r["cost_usd"] is not None:
            r["cost_detail"] = json.dumps(
                {
                    "input_usd": r["cost_usd"] * 0.4,
                    "output_usd": r["cost_usd"] * 0.6,
                    "input_per_million": 0.15,
                    "output_per_million": 0.6,
                    "source": "genai-prices",
                }
            )
        if r["stream"]:
            r["stream_events"] = json.dumps(
                [
                    'data: {"choices":[{"delta":{"content":"It is "}}]}\n\n',
                    f'data: {{"choices":[{{"delta":{{"content":"{2 * i}."}}}}]}}\n\n',
                    "data: [DONE]\n\n",
                ]
            )
        if i == 1:
            r.update(status=403, outcome="blocked", verdict="blocked", output_tokens=0, cost_usd=None)
            violations.append((r, "pii-detector", "credit_card", "block", "card ****1111"))
        if i == 2:
            r.update(verdict="redacted")
            violations.append((r, "pii-detector", "email", "redact", "j***@example.com"))
        if i == 3:
            r.update(verdict="shadow_blocked")
            violations.append((r, "prompt-injection", "jailbreak", "shadow_block", "ignore previous instructions"))
        if i == 4:
            r.update(
                status=502,
                outcome="upstream_error",
                error="upstream_unreachable: connection refused",
                output_tokens=None,
                cost_usd=None,
            )
        if i == 5:
            r.update(status=429, outcome="blocked", verdict="blocked")
            violations.append((r, "rate-limiter", "rate_limit", "block", "60 requests/minute"))
        rows.append(r)
    db["requests"].insert_all(rows)
    db["violations"].insert_all(
        [
            {
                "request_id": r["id"],
                "created_at": r["started_at"],
                "module": m,
                "type": t,
                "action": a,
                "severity": "high",
                "detail": d,
            }
            for r, m, t, a, d in violations
        ]
    )
    db.close()
