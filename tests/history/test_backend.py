"""The store seam (``leash_cli.store.backend``): what every backend must do, through its protocols only.

Every test takes the ``store`` fixture, a fresh empty :class:`~leash_cli.store.backend.Store`
of each backend: SQLite, and PostgreSQL on a real server (``tests/history/pg_support.py``:
skipped without one, a failure with ``LEASH_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from leash_cli.config import StorageConfig
from leash_cli.exchange import Violation
from leash_cli.keys import KeyRing, create_key, hash_key, list_keys, revoke_key
from leash_cli.store import Recorder, make_recorder, open_readonly, open_store
from leash_cli.store.backend import HistoryReader, Store, StoreError
from leash_cli.store.filters import compile_filter
from leash_cli.store.rows import (
    audit_row,
    build_request_row,
    build_violation_rows,
    iso_utc,
)
from leash_cli.store.sqlite import SqliteStore

from .test_store import make_ex

STORAGE = StorageConfig()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "leash.db")
    if request.param == "postgres":
        return open_store(request.getfixturevalue("pg_url"))
    raise AssertionError(request.param)  # pragma: no cover


def write(store: Store, exchanges, audits=()) -> None:
    w = store.open_writer()
    try:
        w.write_batch(
            [build_request_row(ex, STORAGE) for ex in exchanges],
            [v for ex in exchanges for v in build_violation_rows(ex)],
            list(audits),
        )
    finally:
        w.close()


def reader(store: Store) -> HistoryReader:
    return store.open_reader()


def aged(i: int, seconds_ago: float):
    ex = make_ex(i)
    ex.started_at = time.time() - seconds_ago
    return ex


# -- migrate, write, read ---------------------------------------------------------------------------


def test_a_new_store_has_no_history_until_migrated(store):
    assert not store.exists()
    with pytest.raises(StoreError):
        store.open_reader()
    store.migrate()
    store.migrate()  # twice is harmless
    assert store.exists()
    r = reader(store)
    try:
        assert r.list_requests(10) == [] and r.max_rowid() == 0 and r.stats() == []
    finally:
        r.close()


def test_a_batch_is_read_back_with_its_violations(store):
    one, two = aged(1, 20), aged(2, 10)
    two.violations = [Violation("pii", "EMAIL", "redact", "high", "an email", 3, 20, "messages[0].content", 0.9)]
    write(store, [one, two], [audit_row(time.time(), "config_loaded", "gateway", {"path": "x.yaml"})])
    r = reader(store)
    try:
        listed = r.list_requests(10)
        assert [row["id"] for row in listed] == ["req-000002", "req-000001"]  # newest first
        full = r.get_request("req-000002")
        assert full is not None and full["status"] == 200 and full["input_tokens"] == 102
        assert [(v["module"], v["type"], v["action"], v["start"], v["end"]) for v in full["violations"]] == [
            ("pii", "EMAIL", "redact", 3, 20)
        ]
        assert "authorization" not in full["request_headers"]  # credentials never stored
        assert r.get_request("req-000003") is None
        with pytest.raises(ValueError):  # a prefix of two ids is ambiguous
            r.get_request("req-00000")
        (totals,) = r.stats()
        assert totals["requests"] == 2 and totals["input_tokens"] == 203
        assert [row["id"] for row in r.export_rows()] == ["req-000001", "req-000002"]  # oldest first
        assert r.recent_violations()[0]["request_id"] == "req-000002"
    finally:
        r.close()


def test_the_same_id_again_replaces_the_row_in_place(store):
    write(store, [aged(1, 20), aged(2, 10)])
    again = aged(1, 20)
    again.status = 502
    write(store, [again])
    r = reader(store)
    try:
        assert [(row["id"], row["status"]) for row in r.list_requests(10)] == [
            ("req-000002", 200),
            ("req-000001", 502),
        ]  # newest first
        assert r.max_rowid() == 2  # kept its place: followers (--follow, the TUI) do not see it twice
        assert [row["id"] for row in r.new_requests(1)] == ["req-000002"]
    finally:
        r.close()


def test_search_covers_rows_before_and_after_indexing(store):
    store.migrate()
    w = store.open_writer()
    try:
        w.write_batch([build_request_row(make_ex(i), STORAGE) for i in range(5)], [], [])
        assert w.search_backlog() == 5  # a recorder's writer indexes off the insert path
        r = reader(store)
        try:
            assert len(r.list_requests(10, query="llamas")) == 5
            assert [row["id"] for row in r.page(compile_filter("~q 'llamas 3'"))] == ["req-000003"]
            assert w.index_search(chunk=2, max_rows=3) == 3 and w.search_backlog() == 2
            assert w.index_search(chunk=2) == 2 and w.search_backlog() == 0
            assert len(r.list_requests(10, query="llamas")) == 5
            assert r.list_requests(10, query="alpaca") == []
        finally:
            r.close()
    finally:
        w.close()


def test_retention_prunes_requests_and_violations_but_not_the_audit_log(store):
    old = [aged(i, 3 * 86400) for i in range(3)]
    for ex in old:
        ex.violations = [Violation("pii", "EMAIL", "log", "low", "", 0, 1, "", 1.0)]
    new = [aged(10, 120), aged(11, 60)]
    write(store, old + new, [audit_row(time.time() - 5 * 86400, "config_loaded", "gateway", None)])
    w = store.open_writer()
    try:
        assert w.prune(iso_utc(time.time() - 86400), None, chunk=2, max_chunks=10) == 3
        assert w.prune(None, 1, chunk=2, max_chunks=10) == 1  # keep the newest row only
    finally:
        w.close()
    r = reader(store)
    try:
        assert [row["id"] for row in r.list_requests(10)] == ["req-000011"]
        assert r.recent_violations() == []
    finally:
        r.close()


# -- the TUI's views -----------------------------------------------------------------------------------


def test_the_tui_views(store):
    a, b = make_ex(1), make_ex(2)
    a.tenant, a.cost_usd = "team-a", 0.5
    b.tenant, b.cost_usd = "team-b", None
    b.violations = [Violation("secrets", "AWS_KEY", "block", "high", "", 0, 4, "", 1.0)]
    write(store, [a, b])
    since = iso_utc(time.time() - 3600)
    r = reader(store)
    try:
        assert [row["id"] for row in r.page(compile_filter("~t team-a"))] == ["req-000001"]
        assert [row["id"] for row in r.newer(compile_filter(""), 1)] == ["req-000002"]
        assert r.providers() == [("openai", "openai")]
        assert len(r.recent_outcomes(since)) == 2
        totals = r.cost_totals(since)
        assert (totals["requests"], totals["cost_usd"], totals["unpriced"]) == (2, 0.5, 1)
        assert [(row["name"], row["cost_usd"]) for row in r.cost_by("tenant", since)] == [
            ("team-a", 0.5),
            ("team-b", None),
        ]
        assert sum(r.spend_by_day(since).values()) == 0.5
        assert r.tenant_spend("team-a", since) == 0.5 and r.tenant_spend("nobody", since) == 0.0
        (group,) = r.violation_groups(since, since)
        assert (group["module"], group["type"], group["day"], group["total"]) == ("secrets", "AWS_KEY", 1, 1)
        assert sum(r.violations_by_day(since, module="secrets").values()) == 1
        assert r.violations_by_day(since, module="pii") == {}
    finally:
        r.close()


# -- virtual keys -------------------------------------------------------------------------------------


def test_virtual_keys(store):
    assert list_keys(store) == [] and KeyRing(store).lookup("lk-nope-x")[0] is None
    key, vk = create_key(store, "team-a", description="ci")
    assert key.startswith("lk-") and store.load_keys()[hash_key(key)] == vk
    assert [k.id for k in store.list_keys()] == [vk.id]
    ring = KeyRing(store, refresh=0.0)
    assert ring.lookup(key)[0] == vk
    assert revoke_key(store, vk.id) and not revoke_key(store, vk.id)  # revoked once
    found, why = ring.lookup(key)
    assert found is None and "revoked" in why
    # both changes are in the audit log (no reader query for it yet)
    if isinstance(store, SqliteStore):
        db = open_readonly(store.path)
        try:
            events = [e for (e,) in db.execute("SELECT event FROM audit_log ORDER BY id")]
        finally:
            db.close()
    else:
        events = [e[1] for e in store.audit_events()]
    assert events == ["key_created", "key_revoked"]


# -- maintenance and the recorder ------------------------------------------------------------------------


def test_vacuum_and_backup(store, tmp_path):
    write(store, [make_ex(i) for i in range(20)])
    before, after = store.vacuum()
    assert before > 0 and after > 0
    copy = tmp_path / "copy.db"
    assert store.backup(copy) > 0
    with pytest.raises(StoreError):
        store.backup(copy)  # never overwrites
    r = open_store(copy).open_reader()
    try:
        assert len(r.list_requests(100)) == 20
    finally:
        r.close()


@pytest.mark.parametrize("writer", ["thread", "process"])
@pytest.mark.slow
def test_a_recorder_writes_through_the_store(store, writer):
    rec = make_recorder(store, StorageConfig(writer=writer))
    assert isinstance(rec, Recorder) == (writer == "thread")
    rec.start()
    for i in range(50):
        rec.submit(make_ex(i))
    rec.audit("config_loaded", {"path": "leash.yaml"})
    rec.close()
    assert rec.state == "ok" and rec.rows_written == 50
    r = reader(store)
    try:
        assert r.max_rowid() == 50 and len(r.list_requests(100, query="llamas")) == 50
    finally:
        r.close()
