"""`leash policy test`: traffic recorded by a real gateway (official SDK, fake upstream) is replayed through
another config without calling any provider; the differences, their exit codes and what cannot be judged."""

from __future__ import annotations

import json
import sqlite3

import httpx
import openai
import pytest
import yaml
from typer.testing import CliRunner

from leash_cli.cli import app


def provider_block(upstream):
    return {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"}}


runner = CliRunner()
EMAIL_PROMPTS = ["mail alice@example.com the report", "cc bob.smith@corp.example please", "reply to x.y@z.org"]
PLAIN = ["what is a monad", "summarise the plan", "translate hello to french"]


def _record(start_gateway, upstream, tmp_path, modules=None, storage=None):
    # bodies: full -- under the default (redacted) the e-mails are stored masked, and a replay judges what is stored
    storage = storage or {"writer": "thread", "bodies": "full"}
    cfg = {"modules": modules or {"pii-detector": {"action": "log"}}, "storage": storage}
    gw = start_gateway(cfg)
    client = openai.OpenAI(
        base_url=gw.base("openai"),
        api_key="sk-test-key-for-the-fake-upstream-0000",
        http_client=httpx.Client(timeout=30),
    )
    for text in EMAIL_PROMPTS + PLAIN:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "count"}], stream=True
    )
    for _ in stream:
        pass
    gw.flush()
    return gw.db_path


def _config(tmp_path, upstream, modules, name="new.yaml", **extra):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"providers": provider_block(upstream), "modules": modules, **extra}))
    return path


def _test(db, cfg, *args):
    r = runner.invoke(app, ["policy", "test", "--config", str(cfg), "--db", str(db), "--format", "json", *args])
    return r.exit_code, (json.loads(r.stdout) if r.exit_code in (0, 1) else r.output)


@pytest.fixture
def recorded(start_gateway, upstream, tmp_path):
    return _record(start_gateway, upstream, tmp_path)


def test_the_same_policy_changes_nothing(recorded, tmp_path, upstream):
    code, out = _test(recorded, _config(tmp_path, upstream, {"pii-detector": {"action": "log"}}))
    assert code == 0, out
    assert out["exchanges"] == 7 and out["judged"] == 7 and out["changed"] == 0
    # every exchange gets the decision it got live (the stream's included: its verdict as recorded)
    assert all(set(d) == {before} for before, d in out["matrix"].items())
    assert sum(out["matrix"]["allowed"].values()) >= 6


def test_blocking_pii_reports_each_exchange_with_its_finding(recorded, tmp_path, upstream):
    code, out = _test(recorded, _config(tmp_path, upstream, {"pii-detector": {"action": "block"}}))
    assert code == 1
    assert out["changes"]["newly_blocked"] == 3 and out["changed"] == 3
    [rule] = out["rules"]
    assert (rule["change"], rule["module"], rule["rule"], rule["count"]) == (
        "newly_blocked",
        "pii-detector",
        "EMAIL",
        3,
    )
    conn = sqlite3.connect(recorded)
    email_ids = {r[0] for r in conn.execute("SELECT id FROM requests WHERE prompt_text LIKE '%@%'")}
    assert {e["request_id"] for e in rule["examples"]} == email_ids
    assert all(e["finding"].startswith("pii-detector/EMAIL") for e in rule["examples"])
    # the cost those exchanges had is what blocking them saves
    cost = conn.execute("SELECT sum(cost_usd) FROM requests WHERE prompt_text LIKE '%@%'").fetchone()[0]
    assert out["cost_saved_usd"] == pytest.approx(cost, abs=1e-6)
    assert out["exchanges"] == 7


def test_redacting_is_reported_as_redacted(recorded, tmp_path, upstream):
    code, out = _test(recorded, _config(tmp_path, upstream, {"pii-detector": {"action": "redact"}}))
    assert code == 1 and out["changes"]["newly_redacted"] == 3 and out["changes"]["newly_blocked"] == 0


def test_rate_limits_run_on_fresh_state_in_recorded_order(recorded, tmp_path, upstream):
    code, out = _test(recorded, _config(tmp_path, upstream, {"rate-limiter": {"requests_per_minute": 2}}))
    assert code == 1
    assert out["changes"]["newly_rate_limited"] == 5
    conn = sqlite3.connect(recorded)
    ids = [r[0] for r in conn.execute("SELECT id FROM requests ORDER BY started_at")]
    [rule] = out["rules"]
    assert rule["module"] == "rate-limiter"
    assert [e["request_id"] for e in rule["examples"]] == ids[2:5]  # the first two in a minute pass
    # --last and --tenant narrow the replay
    code, out = _test(
        recorded, _config(tmp_path, upstream, {"rate-limiter": {"requests_per_minute": 2}}), "--last", "2"
    )
    assert out["exchanges"] == 2 and out["changes"]["newly_rate_limited"] == 0
    code, out = _test(
        recorded, _config(tmp_path, upstream, {"rate-limiter": {"requests_per_minute": 2}}), "--tenant", "nobody"
    )
    assert code == 0 and out["exchanges"] == 0
    code, out = _test(
        recorded, _config(tmp_path, upstream, {"rate-limiter": {"requests_per_minute": 2}}), "--since", "1h"
    )
    assert out["exchanges"] == 7
    code, out = _test(
        recorded,
        _config(tmp_path, upstream, {"rate-limiter": {"requests_per_minute": 2}}),
        "--since",
        "2099-01-01T00:00:00",
    )
    assert code == 0 and out["exchanges"] == 0


def test_response_side_modules_read_the_recorded_responses(recorded, tmp_path, upstream):
    conn = sqlite3.connect(recorded)
    texts = [r[0] for r in conn.execute("SELECT response_text FROM requests ORDER BY started_at")]
    word = next(w for w in texts[0].split() if w.isalpha() and len(w) > 3)
    cfg = _config(
        tmp_path,
        upstream,
        {"content-filter": {"blocked_keywords": [word], "check_requests": False, "check_responses": True}},
    )
    code, out = _test(recorded, cfg)
    n = sum(1 for t in texts if t and word.lower() in t.lower())
    assert code == 1 and out["changes"]["newly_blocked"] == n >= 1


def test_unstored_and_cut_bodies_are_counted_not_judged(start_gateway, upstream, tmp_path):
    db = _record(start_gateway, upstream, tmp_path, storage={"writer": "thread", "bodies": "none"})
    code, out = _test(db, _config(tmp_path, upstream, {"pii-detector": {"action": "block"}}))
    assert code == 0
    assert out["judged"] == 0 and out["not_judged"] == {"request body not stored (storage.bodies: none)": 7}
    conn = sqlite3.connect(db)
    conn.execute("UPDATE requests SET request_body = '{\"model\":', request_body_truncated = 1")
    conn.commit()
    code, out = _test(db, _config(tmp_path, upstream, {"pii-detector": {"action": "block"}}))
    assert out["not_judged"] == {"request body cut at storage.max_body_bytes": 7}


def test_a_body_the_gateway_now_refuses_is_counted_not_judged(recorded, tmp_path, upstream):
    """A row recorded before the gateway refused content blocks nested past what is read (it was then a module
    failure) is not judged: no module can read it, and the gateway would answer 400 before any did."""
    block: dict = {"type": "text", "text": "mail alice@example.com"}
    for _ in range(40):
        block = {"type": "tool_result", "tool_use_id": "t1", "content": [block]}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [block]}]}
    conn = sqlite3.connect(recorded)
    (rid,) = conn.execute("SELECT id FROM requests ORDER BY rowid LIMIT 1").fetchone()
    conn.execute(
        "UPDATE requests SET kind = 'anthropic', path = 'messages', request_body = ? WHERE id = ?",
        (json.dumps(body), rid),
    )
    conn.commit()
    conn.close()
    code, out = _test(recorded, _config(tmp_path, upstream, {"pii-detector": {"action": "block"}}))
    assert out["not_judged"] == {"a body the gateway now refuses (400 invalid_request: nested too deep)": 1}
    assert out["judged"] == 6


def test_table_output_and_errors(recorded, tmp_path, upstream):
    cfg = _config(tmp_path, upstream, {"pii-detector": {"action": "block"}})
    r = runner.invoke(app, ["policy", "test", "--config", str(cfg), "--db", str(recorded)])
    assert r.exit_code == 1
    assert "newly blocked" in r.stdout and "pii-detector" in r.stdout and "EMAIL" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("modules:\n  pii-detector:\n    action: explode\n")
    r = runner.invoke(app, ["policy", "test", "--config", str(bad), "--db", str(recorded)])
    assert r.exit_code == 2 and "error" in r.output
    r = runner.invoke(app, ["policy", "test", "--config", str(cfg), "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["policy", "test", "--config", str(tmp_path / "missing.yaml"), "--db", str(recorded)])
    assert r.exit_code == 2


def test_the_library_reports_progress_and_knows_nothing_of_the_cli(recorded, tmp_path, upstream):
    from leash_cli.config import load_config
    from leash_cli.dryrun import replay
    from leash_cli.store.factory import open_store

    seen: list[int] = []
    reader = open_store(recorded).open_reader()
    try:
        res = replay(
            reader,
            load_config(_config(tmp_path, upstream, {"pii-detector": {"action": "block"}})),
            progress=seen.append,
        )
    finally:
        reader.close()
    assert res.total == 7 and res.changes["newly_blocked"] == 3
    assert seen and seen[-1] == 7


def test_budgets_count_recorded_spend_in_recorded_time(recorded, tmp_path, upstream):
    conn = sqlite3.connect(recorded)
    costs = [r[0] for r in conn.execute("SELECT cost_usd FROM requests ORDER BY started_at")]
    assert all(c is not None for c in costs)
    # a budget nothing fits in refuses every exchange (429, like a rate limit), each with the budget's finding
    code, out = _test(recorded, _config(tmp_path, upstream, {"cost-tracker": {"limit_usd": 0.0}}))
    assert code == 1 and out["changes"]["newly_rate_limited"] == 7
    assert {(r["module"], r["rule"]) for r in out["rules"]} == {("cost-tracker", "BUDGET_EXCEEDED")}
    # a budget of the recorded spend of the first three lets exactly those through: each reserves its worst
    # case (one output token assumed) and settles at its recorded cost, in recorded order
    limit = sum(costs[:3]) + 1e-9
    code, out = _test(
        recorded, _config(tmp_path, upstream, {"cost-tracker": {"limit_usd": limit, "default_max_tokens": 1}})
    )
    assert code == 1, out
    assert out["changes"]["newly_rate_limited"] == 4, out
