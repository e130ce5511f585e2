"""The recorder: one writer thread, batches, degradation, retention, readers."""

from __future__ import annotations

import logging
import sqlite3
import time

import orjson
import pytest

from leash_cli import store as store_mod
from leash_cli.config import StorageConfig
from leash_cli.exchange import Usage, Violation
from leash_cli.pricing import Pricer
from leash_cli.store import Recorder, StoreError, iso_utc, open_readonly, open_writable
from leash_cli.store import schema as store_schema

from .samples import exchange

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def make_ex(i: int = 0, **kw):
    body = kw.pop(
        "body",
        orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": f"tell me about llamas {i}"}]}),
    )
    ex = exchange(id=kw.pop("id", f"req-{i:06d}"), body=body, model="gpt-4o", **kw)
    ex.request_headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {SECRET}",
        "x-api-key": SECRET,
        "x-custom-token": "abc",
        "user-agent": "test",
    }
    ex.response_headers = {
        "content-type": "application/json",
        "set-cookie": "s=1",
        "x-ratelimit-remaining-tokens": "999",
    }
    ex.status = 200
    ex.usage = Usage(input_tokens=100 + i, output_tokens=50, cached_input_tokens=10)
    ex.response_body = b'{"choices":[{"message":{"content":"Llamas are camelids."}}]}'
    ex.response_text = "Llamas are camelids."
    ex.t_upstream_start = ex.t_start + 0.001
    ex.t_upstream_end = ex.t_start + 0.101
    ex.t_end = ex.t_start + 0.105
    ex.module_timings = {"pii": 0.0002}
    return ex


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "leash.db"


def rows(path, sql="SELECT * FROM requests ORDER BY id", params=()):
    db = open_readonly(path)
    try:
        cur = db.execute(sql, params)
        return [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    finally:
        db.close()


# -- the basics -----------------------------------------------------------------------------------


def test_n_submitted_then_close_gives_n_rows(db_path):
    rec = Recorder(db_path, StorageConfig(batch_size=100))
    rec.start()
    n = 2500
    for i in range(n):
        rec.submit(make_ex(i))
    rec.close()
    assert rec.rows_written == n and rec.write_errors == 0 and rec.state == "ok"
    assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == n
    assert rec.queue_depth == 0


def test_row_contents(db_path):
    rec = Recorder(db_path, StorageConfig(bodies="full"))
    rec.start()
    ex = make_ex(1, stream=True)
    ex.tenant, ex.key_id, ex.client = "team-a", "key_1", "127.0.0.1"
    ex.query = "api-version=2024-06-01&key=AIzaSyA-abcdefghijklmnopqrstuvwxyz12345"
    ex.cost_usd, ex.cost_detail = 0.00125, {"source": "config"}
    ex.stream_events = [b"data: {}\n\n", b"data: [DONE]\n\n"]
    ex.violations = [Violation("pii", "email", "redact", "high", "an email", 3, 20, "messages[0].content", 0.9)]
    rec.submit(ex)
    rec.close()
    (r,) = rows(db_path)
    assert r["id"] == "req-000001"
    assert r["started_at"] == iso_utc(ex.started_at) and r["started_at"].endswith("Z")
    assert len(r["started_at"]) == len("2025-01-01T00:00:00.000Z")
    assert r["ended_at"] >= r["started_at"]
    assert (r["tenant"], r["key_id"], r["client"], r["provider"], r["kind"], r["model"]) == (
        "team-a",
        "key_1",
        "127.0.0.1",
        "openai",
        "openai",
        "gpt-4o",
    )
    assert (r["method"], r["path"], r["status"], r["stream"], r["outcome"], r["verdict"]) == (
        "POST",
        "chat/completions",
        200,
        1,
        "ok",
        "allowed",
    )
    assert r["query"] == "api-version=2024-06-01"  # credentials removed
    assert r["latency_ms"] == pytest.approx(105, abs=0.01)
    assert r["upstream_ms"] == pytest.approx(100, abs=0.01)
    assert r["overhead_ms"] == pytest.approx(5, abs=0.01)
    assert (r["input_tokens"], r["output_tokens"], r["cached_input_tokens"]) == (101, 50, 10)
    assert r["cache_write_tokens"] is None and r["reasoning_tokens"] is None
    assert r["cost_usd"] == 0.00125 and orjson.loads(r["cost_detail"]) == {"source": "config"}
    assert orjson.loads(r["module_timings"]) == {"pii": pytest.approx(0.2)}  # milliseconds
    req_h = orjson.loads(r["request_headers"])
    assert req_h == {"content-type": "application/json", "user-agent": "test"}
    resp_h = orjson.loads(r["response_headers"])
    assert resp_h == {"content-type": "application/json", "x-ratelimit-remaining-tokens": "999"}
    assert SECRET in r["request_body"] or "llamas" in r["request_body"]
    assert r["prompt_text"] == "tell me about llamas 1"
    assert r["response_text"] == "Llamas are camelids."
    assert orjson.loads(r["stream_events"]) == ["data: {}\n\n", "data: [DONE]\n\n"]
    (v,) = rows(db_path, "SELECT * FROM violations")
    assert v["request_id"] == "req-000001" and v["created_at"] == r["started_at"]
    assert (v["module"], v["type"], v["action"], v["severity"], v["detail"]) == (
        "pii",
        "email",
        "redact",
        "high",
        "an email",
    )
    assert (v["start"], v["end"], v["field"], v["score"]) == (3, 20, "messages[0].content", 0.9)


def test_no_credentials_anywhere_in_headers(db_path):
    rec = Recorder(db_path, StorageConfig())
    rec.start()
    ex = make_ex(2)
    ex.request_headers["x-forwarded-note"] = f"Bearer {SECRET}"  # a credential in an unexpected header
    rec.submit(ex)
    rec.close()
    (r,) = rows(db_path)
    assert SECRET not in r["request_headers"] and SECRET not in r["response_headers"]
    assert orjson.loads(r["request_headers"])["x-forwarded-note"] == "[REDACTED]"


def test_audit_and_resubmit_same_id_updates(db_path):
    rec = Recorder(db_path, StorageConfig())
    rec.start()
    rec.audit("config_loaded", {"path": "leash.yaml"}, actor="system")
    ex = make_ex(3)
    rec.submit(ex)
    assert rec.flush()
    ex2 = make_ex(3)
    ex2.response_text = "Alpacas are smaller."
    rec.submit(ex2)
    rec.close()
    (a,) = rows(db_path, "SELECT * FROM audit_log")
    assert (a["event"], a["actor"], orjson.loads(a["detail"])) == ("config_loaded", "system", {"path": "leash.yaml"})
    assert a["created_at"].endswith("Z")
    assert [r["response_text"] for r in rows(db_path)] == ["Alpacas are smaller."]
    # the full-text index followed the update
    hits = rows(db_path, "SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?", ("alpacas",))
    assert len(hits) == 1
    assert rows(db_path, "SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?", ("camelids",)) == []


def test_pricer_fills_missing_cost(db_path):
    rec = Recorder(db_path, StorageConfig(), pricer=Pricer())
    rec.start()
    rec.submit(make_ex(0))
    rec.close()
    (r,) = rows(db_path)
    # gpt-4o: 100 input (10 cached), 50 output
    assert r["cost_usd"] == pytest.approx(90 * 2.5 / 1e6 + 10 * 1.25 / 1e6 + 50 * 10 / 1e6)


# -- bodies ------------------------------------------------------------------------------------------


def test_bodies_redacted_masks_credentials_and_listed_values(db_path):
    rec = Recorder(db_path, StorageConfig(bodies="redacted"))
    rec.start()
    body = orjson.dumps({"messages": [{"role": "user", "content": f"my key is {SECRET} and my email a@b.example"}]})
    ex = make_ex(4, body=body)
    ex.annotations["redactions"] = ["a@b.example"]
    ex.response_text = f"your key {SECRET}"
    ex.stream_events = [b"data: x\n\n"]
    rec.submit(ex)
    rec.close()
    (r,) = rows(db_path)
    for col in ("request_body", "prompt_text", "response_text"):
        assert SECRET not in r[col] and "[REDACTED]" in r[col], col
    assert "a@b.example" not in r["request_body"]
    assert r["stream_events"] is None
    assert r["input_tokens"] == 104


def test_bodies_none_keeps_counts_only(db_path):
    rec = Recorder(db_path, StorageConfig(bodies="none"))
    rec.start()
    ex = make_ex(5)
    ex.stream_events = [b"data: x\n\n"]
    rec.submit(ex)
    rec.close()
    (r,) = rows(db_path)
    for col in ("request_body", "response_body", "response_text", "prompt_text", "stream_events"):
        assert r[col] is None, col
    assert (r["input_tokens"], r["output_tokens"]) == (105, 50)
    assert rows(db_path, "SELECT rowid FROM requests_fts WHERE requests_fts MATCH 'llamas'") == []


def test_bodies_truncated_at_max_body_bytes(db_path):
    rec = Recorder(db_path, StorageConfig(bodies="full", max_body_bytes=20))
    rec.start()
    ex = make_ex(6)
    ex.stream_events = [b"data: 0123456789\n\n", b"data: 0123456789\n\n"]
    rec.submit(ex)
    rec.close()
    (r,) = rows(db_path)
    assert len(r["request_body"].encode()) == 20 and r["request_body_truncated"] == 1
    assert r["response_body_truncated"] == 1
    assert len(orjson.loads(r["stream_events"])) == 1  # the event list is capped too


# -- failure modes --------------------------------------------------------------------------------------


def _readonly_connect(path, *, timeout=5.0):
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False, isolation_level=None)


def test_readonly_database_degrades_without_raising_then_recovers(db_path, monkeypatch, caplog):
    # create the file, then make every write connection read-only (we run as root, so chmod alone
    # would not stop writes; mode=ro gives SQLite's own "attempt to write a readonly database")
    first = Recorder(db_path, StorageConfig())
    first.start()
    first.close()
    monkeypatch.setattr(store_schema, "_connect", _readonly_connect)
    caplog.set_level(logging.ERROR, logger="leash.store")

    rec = Recorder(db_path, StorageConfig())
    rec.start()  # no exception
    for i in range(10):
        rec.submit(make_ex(i))  # no exception
    rec.audit("blocked", {"why": "test"})
    assert not rec.flush(timeout=5)
    assert rec.state == "degraded"
    assert "readonly" in rec.last_error
    assert rec.write_errors >= 1
    assert rec.queue_depth == 11  # kept in memory
    assert any("DEGRADED" in m for m in caplog.messages)

    monkeypatch.undo()  # the disk is writable again
    deadline = time.monotonic() + 10
    while rec.state != "ok" and time.monotonic() < deadline:
        rec.flush(timeout=1)
    rec.close()
    assert rec.state == "ok" and rec.rows_written == 10
    assert len(rows(db_path)) == 10


@pytest.mark.skipif(
    hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0, reason="root ignores file permissions"
)
def test_chmod_readonly_file_degrades(db_path):
    rec = Recorder(db_path, StorageConfig())
    rec.start()
    rec.close()
    db_path.chmod(0o444)
    rec = Recorder(db_path, StorageConfig())
    rec.start()
    rec.submit(make_ex(1))
    assert not rec.flush(timeout=3)
    assert rec.state == "degraded"
    rec.close(timeout=0.5)


def test_unopenable_path_degrades(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    rec = Recorder(blocker / "leash.db", StorageConfig())  # parent is a file: cannot mkdir
    rec.start()
    rec.submit(make_ex(1))
    assert rec.state == "degraded" and rec.last_error
    rec.close(timeout=0.5)


def test_backlog_is_bounded_and_drops_oldest(db_path, monkeypatch):
    Recorder(db_path, StorageConfig()).start()
    monkeypatch.setattr(store_schema, "_connect", _readonly_connect)
    rec = Recorder(db_path, StorageConfig(), max_pending=5)
    rec.start()
    for i in range(12):
        rec.submit(make_ex(i))
    rec.flush(timeout=5)
    assert rec.dropped == 7 and rec.queue_depth == 5
    rec.close(timeout=0.2)


def test_disabled_does_nothing(db_path):
    rec = Recorder(db_path, StorageConfig(enabled=False))
    rec.start()
    rec.submit(make_ex(1))
    rec.audit("x")
    rec.close()
    assert rec.state == "disabled" and not db_path.exists()


def test_corrupt_file_raises_store_error(db_path):
    db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be read"):
        Recorder(db_path, StorageConfig()).start()
    with pytest.raises(StoreError, match="cannot be read"):
        open_readonly(db_path)


def test_newer_schema_raises_store_error(db_path):
    db = open_writable(db_path)
    db["_sqlite_migrations"].insert({"migration_set": "leash", "name": "999_from_the_future", "applied_at": "x"})
    db.close()
    with pytest.raises(StoreError, match="written by a newer leash"):
        open_readonly(db_path)
    with pytest.raises(StoreError, match="written by a newer leash"):
        Recorder(db_path, StorageConfig()).start()

    db = sqlite3.connect(db_path)
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '999_from_the_future'")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="written by a newer leash"):
        open_readonly(db_path)


def test_readers_migrate_nothing(db_path):
    sqlite3.connect(db_path).execute("CREATE TABLE other (x)").connection.close()
    with pytest.raises(StoreError):
        open_readonly(db_path)
    db = sqlite3.connect(db_path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["other"]


def test_schema_is_wal_and_migrated_once(db_path):
    db = open_writable(db_path)
    db.close()
    db = open_writable(db_path)  # idempotent
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [m.name for m in store_mod.migrations.applied(db)] == list(store_mod.KNOWN_MIGRATIONS)
    assert store_mod.KNOWN_MIGRATIONS[:4] == ("001_initial", "002_virtual_keys", "003_deferred_fts", "004_audit_chain")
    assert (
        db.execute("PRAGMA user_version").fetchone()[0] == store_mod.SCHEMA_VERSION == len(store_mod.KNOWN_MIGRATIONS)
    )
    assert {"requests", "violations", "audit_log", "requests_fts", "fts_state"} <= set(db.table_names())
    assert [c.name for c in db["requests"].columns] == list(store_mod.REQUEST_COLUMNS)
    db.close()


# -- readers while writing -------------------------------------------------------------------------------


def test_readable_by_a_second_connection_while_the_writer_runs(db_path):
    rec = Recorder(db_path, StorageConfig(flush_interval_ms=5))
    rec.start()
    for i in range(50):
        rec.submit(make_ex(i))
    assert rec.flush()
    reader = open_readonly(db_path)
    assert reader.execute("SELECT count(*) FROM requests").fetchone()[0] == 50
    # the writer keeps writing while the reader holds its connection open
    for i in range(50, 120):
        rec.submit(make_ex(i))
    assert rec.flush()
    assert reader.execute("SELECT count(*) FROM requests").fetchone()[0] == 120
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM requests")  # read-only
    rec.close()
    reader.close()


# -- retention ----------------------------------------------------------------------------------------------


def test_retention_and_max_rows(db_path):
    rec = Recorder(db_path, StorageConfig(retention="30d", max_rows=5))
    rec.start()
    now = time.time()
    for i in range(3):
        ex = make_ex(i)
        ex.started_at = now - 40 * 86400  # older than 30 days
        ex.violations = [Violation("m", "t", "log")]
        rec.submit(ex)
    for i in range(3, 11):
        ex = make_ex(i)
        ex.started_at = now - (11 - i)  # newest last
        rec.submit(ex)
    assert rec.prune()
    rec.close()
    ids = [r["id"] for r in rows(db_path)]
    assert ids == [f"req-{i:06d}" for i in range(6, 11)]  # the 5 newest
    assert rows(db_path, "SELECT count(*) AS n FROM violations")[0]["n"] == 0
    assert rows(db_path, "SELECT count(*) AS n FROM requests_fts")[0]["n"] == 5
    assert rec.pruned == 6


def test_a_row_sqlite_refuses_is_dropped_not_retried_forever(db_path, caplog):
    rec = Recorder(db_path, StorageConfig())
    rec.start()
    bad = make_ex(1)
    bad.model = {"not": "a string"}  # SQLite cannot bind a dict
    rec.submit(make_ex(0))
    rec.submit(bad)
    rec.submit(make_ex(2))
    assert rec.flush()
    rec.close()
    assert rec.state == "ok" and rec.build_errors == 1
    assert [r["id"] for r in rows(db_path)] == ["req-000000", "req-000002"]
