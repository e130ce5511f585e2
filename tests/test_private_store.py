"""Stored prompts are protected (issue #24 item 9): a private LEASH_HOME and database, and bodies
stored with what the scanners found masked unless the user opts into `storage.bodies: full`."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from leash_cli.config import Config
from leash_cli.paths import leash_home, resolve_db_path
from leash_cli.store import open_readonly, open_writable

EMAIL = "jane.doe@mail.example.org"
AWS_KEY = "AKIA" + "Q7ZK2M4XW9PT3RB6"
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@posix_only
def test_a_fresh_home_and_database_are_private() -> None:
    home = leash_home()
    assert not home.exists()
    path = resolve_db_path()
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless leash says otherwise
    try:
        db = open_writable(path)
        db.execute("create table if not exists t (x)")
        db.execute("insert into t values (1)")
        try:
            assert _mode(home) == 0o700
            assert _mode(path) == 0o600
            for side in ("-wal", "-shm"):
                f = path.with_name(path.name + side)
                assert f.exists() and _mode(f) == 0o600, side
        finally:
            db.close()
    finally:
        os.umask(old)


@posix_only
def test_a_loosened_home_and_database_are_tightened_with_a_notice(caplog: pytest.LogCaptureFixture) -> None:
    path = resolve_db_path()
    open_writable(path).close()
    os.chmod(leash_home(), 0o755)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="leash.paths"):
        db = open_writable(path)
        db.close()
    assert _mode(leash_home()) == 0o700 and _mode(path) == 0o600
    notes = [r.getMessage() for r in caplog.records if r.name == "leash.paths"]
    assert any("0755" in n and "0700" in n for n in notes)
    assert any(str(path) in n and "0644" in n and "0600" in n for n in notes)


@posix_only
def test_a_database_elsewhere_leaves_its_existing_folder_alone(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    os.chmod(project, 0o755)
    open_writable(project / "leash.db").close()
    assert _mode(project) == 0o755 and _mode(project / "leash.db") == 0o600
    fresh = tmp_path / "new" / "dir" / "leash.db"
    open_writable(fresh).close()
    assert _mode(fresh.parent) == 0o700


def test_the_default_is_redacted_bodies() -> None:
    assert Config().storage.bodies == "redacted"


def _default_modules() -> dict[str, Any]:
    import yaml

    from leash_cli.resources import default_config_path

    return dict(yaml.safe_load(default_config_path().read_text())["modules"])


def _stored(gw: Any) -> tuple[dict[str, Any], str]:
    gw.flush()
    time.sleep(0.05)
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        row = dict(next(iter(db.query("select * from requests order by started_at desc limit 1"))))
    finally:
        db.close()
    raw = b"".join(p.read_bytes() for p in gw.db_path.parent.glob("leash.db*")).decode("latin-1")
    return row, raw


@pytest.mark.parametrize("stream", [False, True])
def test_findings_under_log_are_masked_in_the_stored_bodies_by_default(start_gateway, upstream, stream):
    modules = _default_modules()
    modules["secrets-detector"] = {"action": "log"}  # pii-detector logs by default
    gw = start_gateway({"modules": modules})  # no storage section: the default
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    prompt = f"mail {EMAIL} and use key {AWS_KEY} please"
    if stream:
        text = "".join(
            (ch.choices[0].delta.content or "") if ch.choices else ""
            for ch in c.chat.completions.create(
                model="gpt-4o", stream=True, messages=[{"role": "user", "content": prompt}]
            )
        )
    else:
        text = (
            c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
            .choices[0]
            .message.content
            or ""
        )
    sent = upstream.last().body.decode()
    assert EMAIL in sent and AWS_KEY in sent  # action log: the upstream got the prompt unchanged
    assert EMAIL in text  # (the fake upstream echoes the prompt: the answer carries it too)
    row, raw = _stored(gw)
    assert row["verdict"] == "allowed"
    for col in ("request_body", "prompt_text", "response_text"):
        assert row[col] and EMAIL not in row[col] and AWS_KEY not in row[col] and "[REDACTED]" in row[col], col
    assert EMAIL not in raw and AWS_KEY not in raw
    if stream:  # the raw stream splits the answer across events: no piece of a finding may be kept
        body = row["response_body"] or ""
        deltas = "".join(
            json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            for line in body.splitlines()
            if line.startswith("data: {") and '"choices":[{' in line
        )
        assert EMAIL not in deltas and AWS_KEY not in deltas


def test_full_bodies_keep_what_was_found_verbatim(start_gateway, upstream):
    modules = _default_modules()
    modules["secrets-detector"] = {"action": "log"}
    gw = start_gateway({"modules": modules, "storage": {"bodies": "full"}})
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"mail {EMAIL} key {AWS_KEY}"}])
    row, _ = _stored(gw)
    assert EMAIL in row["request_body"] and EMAIL in row["prompt_text"]
    # found credentials stay masked in every mode (see docs/security.md)
    assert AWS_KEY not in row["request_body"]
