"""Full-text search with indexing off the insert path (migration 003).

Rows above ``fts_state.indexed_upto`` are not in ``requests_fts`` yet; readers
must find them anyway, the recorder indexes them when idle, and deletes and
updates keep the external-content index consistent either way.
"""

from __future__ import annotations

import copy
import importlib.util
import sqlite3
import time
from pathlib import Path

import orjson
import pytest

from leash_cli import history as hist
from leash_cli import store as store_mod
from leash_cli.config import StorageConfig
from leash_cli.exchange import Usage, Violation
from leash_cli.store import Recorder, fts_watermark, index_fts, open_readonly, open_writable

from .samples import exchange

TEXTS = [
    ("Tell me about llamas and alpacas", "Llamas are camelids from South America."),
    ("What is a Café au lait?", "Coffee with hot milk."),
    ("Explain foo-bar naming", "The foo bar convention is old."),
    ("SQLite FTS5 prefix queries", "Tokens like llama* match llamas."),
    ("Ünïcödé tëxt with dïäcritics", "naïve résumé"),
    ("nothing here", "still nothing"),
    ("LLAMA in capitals", "alpaca"),
    ("zebra", None),
]
SEARCHES = [
    "llamas",
    "llama",
    "llama*",
    "LLAMA",
    "cafe",
    "café",
    "foo-bar",
    "foo bar",
    "bar foo",
    "naive",
    "resume",
    "unicode",
    "camelids america",
    "alpaca*",
    "zebra",
    "nothing capitals",
    "fts5",
    "x",
]


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "leash.db"


def make_ex(i: int, prompt: str = "hello", answer: str | None = "world", **kw):
    body = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]})
    ex = exchange(id=kw.pop("id", f"req-{i:06d}"), body=body, model="gpt-4o", **kw)
    ex.status = 200
    ex.usage = Usage(input_tokens=10, output_tokens=5)
    ex.response_body = orjson.dumps({"choices": [{"message": {"content": answer}}]})
    ex.response_text = answer
    ex.t_end = ex.t_start + 0.1
    return ex


def recorder(path: Path, **kw) -> Recorder:
    rec = Recorder(path, StorageConfig(retention=None, **kw))
    rec.FTS_IDLE = 3600.0  # no idle indexing unless a test asks for it
    rec.start()
    return rec


def state(path: Path) -> tuple[int, int, int]:
    """(watermark, max rowid, deferred)."""
    db = open_readonly(path)
    try:
        top = db.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
        deferred = db.execute("SELECT deferred FROM fts_state").fetchone()[0]
        return fts_watermark(db), top, deferred
    finally:
        db.close()


def integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('integrity-check')")
        conn.commit()
    finally:
        conn.close()


def search(path: Path, text: str, n: int = 100, **filters) -> list[str]:
    db = open_readonly(path)
    try:
        return [r["id"] for r in hist.list_requests(db, n, query=text, **filters)]
    finally:
        db.close()


def fts_only(path: Path, text: str) -> list[str]:
    """What the bare index finds (what a reader that only reads requests_fts sees)."""
    db = open_readonly(path)
    try:
        cur = db.execute(
            "SELECT r.id FROM requests_fts f JOIN requests r ON r.rowid = f.rowid WHERE requests_fts MATCH ? "
            "ORDER BY f.rowid DESC",
            [hist.fts_query(text)],
        )
        return [r[0] for r in cur.fetchall()]
    finally:
        db.close()


def write_texts(path: Path) -> Recorder:
    rec = recorder(path)
    for i, (p, a) in enumerate(TEXTS):
        rec.submit(make_ex(i, p, a))
    assert rec.flush()
    return rec


# -- search before and after indexing --------------------------------------------------------------------


def test_rows_just_written_are_found_before_indexing_then_via_the_index(db_path):
    rec = write_texts(db_path)
    upto, top, deferred = state(db_path)
    assert (upto, top, deferred) == (0, len(TEXTS), 1)  # nothing indexed yet
    assert fts_only(db_path, "llamas") == []
    before = {q: search(db_path, q) for q in SEARCHES}
    assert before["llamas"] == ["req-000003", "req-000000"]  # newest written first
    assert rec.index()
    assert state(db_path)[:2] == (len(TEXTS), len(TEXTS))
    after = {q: search(db_path, q) for q in SEARCHES}
    # the unindexed path answers exactly what the index answers (case, diacritics, phrases, prefixes)
    assert after == before
    assert {q: fts_only(db_path, q) for q in SEARCHES} == after
    rec.close()
    integrity(db_path)


def test_search_spans_indexed_and_unindexed_rows_in_order(db_path):
    rec = recorder(db_path)
    for i in range(6):
        rec.submit(make_ex(i, f"llama number {i}", "ok"))
    assert rec.flush() and rec.index()
    for i in range(6, 10):
        rec.submit(make_ex(i, f"llama number {i}", "ok"))
    assert rec.flush()
    assert state(db_path)[:2] == (6, 10)
    expected = [f"req-{i:06d}" for i in range(9, -1, -1)]
    assert search(db_path, "llama") == expected
    assert search(db_path, "llama", n=3) == expected[:3]  # only unindexed rows
    assert search(db_path, "llama", n=5) == expected[:5]  # both
    assert search(db_path, "llama number 7") == ["req-000007"]
    assert search(db_path, "llama", provider="nope") == []
    db = open_readonly(db_path)
    try:
        follow = hist.new_requests(db, 3, query="llama")
        assert [r["id"] for r in follow] == [f"req-{i:06d}" for i in range(3, 10)]
        assert [r["id"] for r in hist.new_requests(db, 3, limit=4, query="llama")] == [
            f"req-{i:06d}" for i in range(3, 7)
        ]
        assert [r["id"] for r in hist.new_requests(db, 7, query="llama")] == ["req-000007", "req-000008", "req-000009"]
    finally:
        db.close()
    rec.close()


def test_search_clause_for_other_readers(db_path):
    rec = recorder(db_path)
    for i in range(4):
        rec.submit(make_ex(i, "alpaca wool", "yes"))
    assert rec.flush() and rec.index()
    rec.submit(make_ex(4, "alpaca wool", "yes"))
    rec.submit(make_ex(5, "no match", "yes"))
    assert rec.flush()
    db = open_readonly(db_path)
    try:
        sql, params = hist.search_clause(db, "alpaca")
        got = [r[0] for r in db.execute(f"SELECT r.id FROM requests r WHERE {sql} ORDER BY r.id", params)]
        assert got == [f"req-{i:06d}" for i in range(5)]
        assert hist.unindexed_matches(db, "alpaca") == [5]  # rowids
    finally:
        db.close()
    rec.close()


# -- the writer indexes when idle, or when far behind ------------------------------------------------------------


def test_idle_writer_indexes_in_the_background(db_path):
    rec = Recorder(db_path, StorageConfig(retention=None))
    rec.FTS_IDLE = 0.05
    rec.start()
    for i in range(20):
        rec.submit(make_ex(i, "quokka", "smiles"))
    assert rec.flush()
    deadline = time.monotonic() + 5
    while state(db_path)[0] < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state(db_path)[:2] == (20, 20)
    assert len(fts_only(db_path, "quokka")) == 20
    rec.close()
    integrity(db_path)


def test_a_busy_writer_keeps_the_unindexed_tail_bounded(db_path):
    rec = recorder(db_path, batch_size=50)
    rec.FTS_MAX_LAG, rec.FTS_CHUNK = 100, 60
    for i in range(1000):
        rec.submit(make_ex(i, "wombat", "burrow"))
        if i % 50 == 49:
            assert rec.flush()
            upto, top, _ = state(db_path)
            assert top - upto <= rec.FTS_MAX_LAG + 50
    rec.close()
    assert state(db_path)[:2] == (1000, 1000)  # close indexes the rest
    integrity(db_path)


def test_close_indexes_everything_and_hands_indexing_back_to_the_trigger(db_path):
    rec = write_texts(db_path)
    rec.close()
    assert state(db_path) == (len(TEXTS), len(TEXTS), 0)
    # another tool writing without a recorder: the insert trigger indexes as it always did
    db = open_writable(db_path)
    db.execute(
        "INSERT INTO requests (id, started_at, prompt_text) VALUES ('ext-1', '2025-01-01T00:00:00.000Z', 'platypus')"
    )
    db.close()
    assert fts_only(db_path, "platypus") == ["ext-1"]
    assert state(db_path)[:2] == (len(TEXTS) + 1, len(TEXTS) + 1)
    integrity(db_path)


def test_a_killed_recorder_leaves_a_tail_the_next_one_indexes(db_path):
    rec = write_texts(db_path)
    rec._closed = True  # as if killed: no close(), nothing indexed, deferred still set
    assert state(db_path) == (0, len(TEXTS), 1)
    # a script writing meanwhile: no trigger indexing (deferred), so its row joins the tail
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO requests (id, started_at, prompt_text) VALUES ('ext-1', '2025-01-01T00:00:00.000Z', "
        "'llamas again')"
    )
    conn.commit()
    conn.close()
    assert search(db_path, "llamas") == ["ext-1", "req-000003", "req-000000"]
    rec2 = recorder(db_path)
    rec2.close()
    assert state(db_path) == (len(TEXTS) + 1, len(TEXTS) + 1, 0)
    assert fts_only(db_path, "llamas") == ["ext-1", "req-000003", "req-000000"]
    integrity(db_path)


def test_trigger_indexing_catches_up_a_tail_first(db_path):
    rec = write_texts(db_path)
    rec._closed = True
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE fts_state SET deferred = 0")  # e.g. after a crash, set by hand
    conn.execute("INSERT INTO requests (id, started_at, prompt_text) VALUES ('ext-1', '2025-01-01T00:00:00.000Z', 'x')")
    conn.commit()
    conn.close()
    assert state(db_path) == (len(TEXTS) + 1, len(TEXTS) + 1, 0)
    assert fts_only(db_path, "llamas") == ["req-000003", "req-000000"]
    integrity(db_path)


# -- deletes and updates keep the index consistent ------------------------------------------------------------


def test_retention_deletes_indexed_and_unindexed_rows(db_path):
    rec = Recorder(db_path, StorageConfig(retention="30d"))
    rec.FTS_IDLE = 3600.0
    rec._last_prune = time.monotonic()  # prune when asked, not on the first write
    rec.start()
    now = time.time()
    for i in range(10):  # old, to be pruned: 5 indexed, 5 not
        ex = make_ex(i, "old llama", "gone")
        ex.started_at = now - 40 * 86400 + i
        ex.violations = [Violation("m", "t", "log")]
        rec.submit(ex)
        if i == 4:
            assert rec.flush() and rec.index()
    for i in range(10, 14):
        rec.submit(make_ex(i, "new llama", "kept"))
    assert rec.flush()
    assert state(db_path)[:2] == (5, 14)
    assert rec.prune()
    integrity(db_path)
    assert search(db_path, "llama") == [f"req-{i:06d}" for i in range(13, 9, -1)]
    assert search(db_path, "old") == []
    rec.close()
    integrity(db_path)
    assert fts_only(db_path, "llama") == [f"req-{i:06d}" for i in range(13, 9, -1)]
    assert fts_only(db_path, "gone") == []


def test_deleting_the_newest_rows_pulls_the_watermark_down(db_path):
    rec = write_texts(db_path)
    assert rec.index()
    rec.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM requests")  # everything, the newest included
    conn.execute("UPDATE fts_state SET deferred = 1")  # as while a recorder runs
    conn.commit()
    conn.close()
    assert state(db_path)[:2] == (0, 0)
    integrity(db_path)
    # rowids are reused from 1: they must count as not indexed
    rec = recorder(db_path)
    rec.submit(make_ex(100, "reused rowid", "fine"))
    assert rec.flush()
    assert state(db_path)[:2] == (0, 1)
    assert search(db_path, "reused") == ["req-000100"]
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM requests")  # a never-indexed row: the index is not touched
    conn.commit()
    conn.close()
    integrity(db_path)
    rec.close()
    integrity(db_path)


def test_resubmitting_an_id_updates_indexed_and_unindexed_rows(db_path):
    rec = recorder(db_path)
    rec.submit(make_ex(1, "first llama", "one"))
    rec.submit(make_ex(2, "second llama", "two"))
    assert rec.flush() and rec.index()
    rec.submit(make_ex(3, "third llama", "three"))
    assert rec.flush()
    rec.submit(make_ex(1, "first alpaca", "uno"))  # indexed row
    rec.submit(make_ex(3, "third alpaca", "tres"))  # unindexed row
    assert rec.flush()
    assert search(db_path, "alpaca") == ["req-000003", "req-000001"]
    assert search(db_path, "llama") == ["req-000002"]
    integrity(db_path)
    rec.close()
    integrity(db_path)
    assert fts_only(db_path, "alpaca") == ["req-000003", "req-000001"]
    assert fts_only(db_path, "llama") == ["req-000002"]


# -- the migration ------------------------------------------------------------------------------------------------


def test_migration_from_002_keeps_every_indexed_row(db_path):
    db = store_mod.sqlite_utils.Database(sqlite3.connect(db_path, isolation_level=None))
    store_mod.migrations.apply(db, stop_before="003_deferred_fts")
    for i, (p, a) in enumerate(TEXTS):  # the 002 insert trigger indexes these
        db.execute(
            "INSERT INTO requests (id, started_at, prompt_text, response_text) VALUES (?, ?, ?, ?)",
            [f"req-{i:06d}", "2025-01-01T00:00:00.000Z", p, a],
        )
    db.close()
    db = open_writable(db_path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    assert {"requests_started_at", "requests_model", "requests_tenant"} <= names
    assert not {"requests_provider", "requests_status", "requests_outcome"} & names
    db.close()
    assert state(db_path) == (len(TEXTS), len(TEXTS), 0)
    assert fts_only(db_path, "llamas") == ["req-000003", "req-000000"]
    integrity(db_path)


def test_index_fts_in_chunks(db_path):
    rec = write_texts(db_path)
    rec._closed = True
    db = open_writable(db_path)
    assert index_fts(db.conn, chunk=3, max_rows=5) == 5
    assert fts_watermark(db.conn) == 5
    assert index_fts(db.conn, chunk=3) == len(TEXTS) - 5
    assert index_fts(db.conn) == 0
    store_mod.rebuild_fts(db.conn)
    assert fts_watermark(db.conn) == len(TEXTS)
    db.close()
    integrity(db_path)


# -- the row is what it was ---------------------------------------------------------------------------------------


def _legacy_builder():
    path = Path(__file__).resolve().parents[2] / "bench" / "record_bench.py"
    spec = importlib.util.spec_from_file_location("leash_record_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("bodies", ["full", "redacted", "none"])
def test_build_request_row_matches_the_v002_builder(bodies):
    bench = _legacy_builder()
    st = StorageConfig(bodies=bodies, max_body_bytes=2000)
    cases = [bench.exchange(1), bench.exchange(2, stream=True)]
    tool = make_ex(3)
    tool.request_body = orjson.dumps(
        {
            "model": "gpt-4o",
            "instructions": "be brief",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "look"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"function": {"name": "f", "arguments": '{"a":1}'}}],
                },
                {"role": "tool", "content": "result"},
                "not a message",
            ],
        }
    )
    anth = make_ex(4, api="anthropic", path="messages")
    anth.request_body = orjson.dumps(
        {
            "system": "sys",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "user", "content": [{"type": "text", "text": "x"}]},
            ],
        }
    )
    anth2 = make_ex(5, api="anthropic", path="messages")
    anth2.request_body = orjson.dumps({"system": "sys", "messages": [{"role": "user", "content": "hi"}, 7]})
    goog = make_ex(6, api="google", path="models/g:generateContent")
    goog.request_body = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "gemini"}]}]})
    odd = make_ex(7)
    odd.request_body = b"not json"
    empty = make_ex(8)
    empty.request_body = orjson.dumps({"model": "m", "messages": []})
    nomsg = make_ex(9)
    nomsg.request_body = orjson.dumps({"model": "m"})
    blanks = make_ex(10)
    blanks.request_body = orjson.dumps(
        {"messages": [{"role": "user", "content": ""}, {"role": "user", "content": "a"}]}
    )
    big = bench.exchange(11, stream=True)
    big.stream_events = big.stream_events * 20  # cut at max_body_bytes
    bad = bench.exchange(12, stream=True)
    bad.stream_events = [b"\xff\xfe data", "a str event", bytearray(b"data: x")]
    redact = make_ex(13, "my card 4111111111111111 and key sk-proj-abcdefghijklmnopqrstuvwxyz0123", "ok")
    redact.annotations["redactions"] = ["4111111111111111"]
    redact.request_headers = {
        "authorization": "Bearer sk-x",
        "x-api-key": "k",
        "User-Agent": "a" * 300,
        "x-note": "Bearer abcdefghijklmnop",
        "accept": 5,
    }
    redact.error = "failed with sk-proj-abcdefghijklmnopqrstuvwxyz0123"
    redact.query = "a=1&key=secret"
    cached = bench.exchange(14)
    cached.texts()
    cases += [tool, anth, anth2, goog, odd, empty, nomsg, blanks, big, bad, redact, cached]
    for ex in cases:
        for _ in range(2):  # the second time through the caches
            assert store_mod.build_request_row(copy.copy(ex), st) == bench.v002_build_request_row(copy.copy(ex), st)


def test_newest_matches_of_a_long_unindexed_tail(db_path):
    rec = recorder(db_path)
    for i in range(900):
        rec.submit(make_ex(i, "llama" if i % 3 == 0 else "camel", "x"))
    assert rec.flush()
    assert state(db_path)[0] == 0
    assert search(db_path, "llama", n=5) == [f"req-{i:06d}" for i in (897, 894, 891, 888, 885)]
    assert len(search(db_path, "llama", n=1000)) == 300
    db = open_readonly(db_path)
    try:
        assert hist.unindexed_matches(db, "llama", newest=2) == [895, 898]  # rowids
        assert len(hist.unindexed_matches(db, "llama")) == 300
    finally:
        db.close()
    rec.close()
