"""`leash logs export --format jsonl | leash scan --format jsonl -` (issue #24 item 11): scan takes the
exported exchanges, scans their request and response texts, and says which exchange each finding is in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from leash_cli.cli import app

EMAIL = "alice.smith@example.com"
AWS_ID = "AKIAZ3MSJXLQ7TP2VKR4"


def _leash() -> str:
    return str(Path(sys.executable).parent / "leash")


@pytest.mark.slow
def test_exported_exchanges_pipe_into_scan(start_gateway, tmp_path):
    gw = start_gateway({"modules": {}})  # record everything, block nothing
    ids = []
    for content in (f"mail {EMAIL} please", "nothing to see here", f"my key {AWS_ID}"):
        r = httpx.post(
            f"{gw.base('mock')}/chat/completions",
            timeout=10,
            json={"model": "mock-small", "messages": [{"role": "user", "content": content}]},
        )
        assert r.status_code == 200
        ids.append(r.headers["x-leash-request-id"])
    gw.flush()
    env = {**os.environ, "LEASH_HOME": str(tmp_path / "home")}
    pipe = subprocess.run(
        f"{_leash()} logs export --format jsonl --db {gw.db_path} | {_leash()} scan --format jsonl -",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert pipe.returncode == 0, pipe.stderr  # the history never holds the secret itself: nothing to block
    assert "expected an object" not in pipe.stderr
    rows = [orjson.loads(line) for line in pipe.stdout.splitlines()]
    assert [r["id"] for r in rows] == ids  # one row per exchange, named by its id
    email, clean, secret = rows
    parts = {(f["part"], f["type"]) for f in email["findings"]}
    assert ("request", "EMAIL") in parts
    assert ("response", "EMAIL") in parts  # the mock echoes the prompt
    assert clean["findings"] == [] and clean["decision"] == "allow"
    assert secret["decision"] == "allow" and secret["findings"] == []  # stored as [REDACTED]
    exported = subprocess.run(
        [_leash(), "logs", "export", "--format", "jsonl", "--db", str(gw.db_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    ).stdout
    assert AWS_ID not in exported and "[REDACTED]" in exported
    for f in email["findings"]:
        assert f["end"] > f["start"] >= 0


def test_scan_still_takes_text_objects_and_names_bad_lines():
    r = CliRunner().invoke(
        app,
        ["scan", "--format", "jsonl", "-"],
        input=orjson.dumps({"id": "a", "text": f"write to {EMAIL}"}).decode() + "\n",
    )
    assert r.exit_code == 0, r.output
    row = orjson.loads(r.output.splitlines()[0])
    assert row["id"] == "a" and row["findings"][0]["type"] == "EMAIL"
    r = CliRunner().invoke(app, ["scan", "--format", "jsonl", "-"], input='{"id": "x", "nothing": 1}\n')
    assert r.exit_code == 2
    assert "line 1" in r.output and "leash logs export" in r.output
