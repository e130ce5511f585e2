"""The history writer in its own process (storage.writer: process): the Recorder API over a pipe."""

import copy
import os
import signal
import time

import pytest

from leash_cli.config import StorageConfig
from leash_cli.store import (
    SNAPSHOT_PROMPT,
    Recorder,
    build_request_row,
    make_recorder,
    open_readonly,
    row_from_snapshot,
    snapshot,
)
from leash_cli.writer import ProcessRecorder

from .test_store import make_ex, rows


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "leash.db"


def test_make_recorder_follows_storage_writer(db_path):
    assert isinstance(make_recorder(db_path, StorageConfig()), ProcessRecorder)
    assert isinstance(make_recorder(db_path, StorageConfig(writer="thread")), Recorder)


@pytest.mark.parametrize("bodies", ["full", "redacted", "none"])
def test_snapshot_then_row_is_the_row(bodies):
    storage = StorageConfig(bodies=bodies)
    ex = make_ex(3, stream=True)
    ex.stream_events = [b"data: {}\n\n", b"data: [DONE]\n\n"]
    ex.annotations["redactions"] = ["llamas"]
    ex.annotations["secrets"] = ["camelids-secret-value"]
    ex.json()  # parsed, as the gateway does
    assert row_from_snapshot(snapshot(ex, storage), storage) == build_request_row(ex, storage)
    fresh = make_ex(4)  # never parsed: the writer parses the body for the prompt text
    parsed = copy.deepcopy(fresh)
    parsed.json()
    assert snapshot(fresh, storage)[SNAPSHOT_PROMPT] == (None if bodies == "none" else ("parse-later", "openai"))
    assert row_from_snapshot(snapshot(fresh, storage), storage) == build_request_row(parsed, storage)


def test_snapshot_row_keeps_timings_and_the_prompt_as_sent():
    """The row holds the exchange's own durations and the prompt text of the body that was
    sent: parsed later from the bytes, or from the parsed body while its edits are unsaved."""
    from leash_cli.store import REQUEST_COLUMNS

    storage = StorageConfig(bodies="full")
    ex = make_ex(5, stream=True)
    ex.t_first_token = ex.t_start + 0.05
    ex.json()
    row = dict(zip(REQUEST_COLUMNS, row_from_snapshot(snapshot(ex, storage), storage)))
    assert row["latency_ms"] == round(ex.total_seconds * 1000, 3) == 105.0
    assert row["upstream_ms"] == round(ex.upstream_seconds * 1000, 3) == 100.0
    assert row["overhead_ms"] == round(ex.overhead_seconds * 1000, 3) == 5.0
    assert row["ttft_ms"] == round(ex.ttft_seconds * 1000, 3) == 50.0
    assert row["prompt_text"] == "tell me about llamas 5"
    ex.replace_text(("messages", 0, "content"), "tell me about alpacas")  # an edit not yet serialized
    snap = snapshot(ex, storage)
    assert snap[SNAPSHOT_PROMPT] == "tell me about alpacas"
    assert dict(zip(REQUEST_COLUMNS, row_from_snapshot(snap, storage)))["prompt_text"] == "tell me about alpacas"
    ex.commit_body()
    snap = snapshot(ex, storage)
    assert snap[SNAPSHOT_PROMPT] == ("parse-later", "openai")
    assert dict(zip(REQUEST_COLUMNS, row_from_snapshot(snap, storage)))["prompt_text"] == "tell me about alpacas"
    unfinished = make_ex(6)
    unfinished.t_end = unfinished.t_upstream_end = None
    row = dict(zip(REQUEST_COLUMNS, row_from_snapshot(snapshot(unfinished, storage), storage)))
    assert row["latency_ms"] is row["upstream_ms"] is row["overhead_ms"] is row["ended_at"] is None


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc/PID/maps (Linux)")
def test_the_writer_process_writes_without_numpy(db_path):
    # sqlite_utils imports numpy when it is installed; the writer keeps it out (12 MB of resident memory)
    rec = ProcessRecorder(db_path, StorageConfig())
    rec.start()
    try:
        for i in range(20):
            rec.submit(make_ex(i))
        assert rec.flush(20) and rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 20
        with open(f"/proc/{rec.pid}/maps") as f:
            maps = f.read()
        assert "sqlite3" in maps and "numpy" not in maps
    finally:
        rec.close()


@pytest.mark.slow
def test_rows_audit_flush_and_close(db_path):
    rec = ProcessRecorder(db_path, StorageConfig(batch_size=100))
    rec.start()
    assert rec.pid and rec.state == "ok"
    for i in range(1500):
        rec.submit(make_ex(i))
    rec.audit("config_reload", {"path": "leash.yaml", "token": "sk-proj-abcdefghijklmnopqrstuvwx"})
    assert rec.flush(20) and rec.queue_depth == 0
    assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 1500
    for i in range(1500, 2000):
        rec.submit(make_ex(i))
    rec.close()
    assert rec.rows_written == 2000 and rec.write_errors == 0 and rec.queue_depth == 0
    assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 2000
    audit = rows(db_path, "SELECT * FROM audit_log")
    assert [a["event"] for a in audit] == ["config_reload"] and "sk-proj-abc" not in audit[0]["detail"]
    row = rows(db_path, "SELECT * FROM requests WHERE id = 'req-000007'")[0]
    assert row["prompt_text"] == "tell me about llamas 7" and "sk-proj" not in row["request_headers"]


@pytest.mark.slow
def test_a_reload_reaches_the_writer(db_path):
    rec = ProcessRecorder(db_path, StorageConfig())
    rec.start()
    try:
        rec.submit(make_ex(1))
        rec.storage = StorageConfig(bodies="none")  # as on SIGHUP
        rec.submit(make_ex(2))
        assert rec.flush()
        got = {r["id"]: r for r in rows(db_path)}
        assert got["req-000001"]["request_body"] and got["req-000002"]["request_body"] is None
    finally:
        rec.close()


@pytest.mark.slow
def test_prune_and_index_commands(db_path):
    rec = ProcessRecorder(db_path, StorageConfig(retention="1h"))
    rec.start()
    try:
        old = make_ex(1)
        old.started_at -= 7200
        rec.submit(old)
        rec.submit(make_ex(2))
        assert rec.prune() and rec.index()
        assert [r["id"] for r in rows(db_path)] == ["req-000002"]
        assert rec.pruned == 1
        db = open_readonly(db_path)
        try:
            hits = db.execute("SELECT rowid FROM requests_fts WHERE requests_fts MATCH 'llamas'").fetchall()
        finally:
            db.close()
        assert len(hits) == 1
    finally:
        rec.close()


@pytest.mark.slow
def test_a_killed_writer_is_replaced_and_rows_are_resent(db_path):
    rec = ProcessRecorder(db_path, StorageConfig(flush_interval_ms=1000))
    rec.start()
    try:
        first = rec.pid
        for i in range(50):
            rec.submit(make_ex(i))
        os.kill(first, signal.SIGKILL)
        deadline = time.time() + 10
        while (rec.pid == first or rec.state != "ok") and time.time() < deadline:
            time.sleep(0.05)
        assert rec.pid != first and rec.state == "ok"
        for i in range(50, 60):
            rec.submit(make_ex(i))
        assert rec.flush(10) and rec.queue_depth == 0
        assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 60
    finally:
        rec.close()


@pytest.mark.slow
def test_a_row_that_cannot_be_built_is_counted_not_raised(db_path):
    rec = ProcessRecorder(db_path, StorageConfig())
    rec.start()
    try:
        bad = make_ex(1)
        bad.usage = None  # not an exchange the gateway would make
        rec.submit(bad)
        rec.submit(make_ex(2))
        assert rec.flush() and rec.build_errors == 1
        assert [r["id"] for r in rows(db_path)] == ["req-000002"]
    finally:
        rec.close()


@pytest.mark.slow
def test_rows_the_writer_cannot_build_or_the_gateway_cannot_send_are_counted(db_path):
    """A row that fails in the writer (a value the gateway never checks) and an item no
    encoding can carry both count as finished: the rows around them are written, and
    nothing is left waiting (flush answers, the queue empties)."""
    rec = ProcessRecorder(db_path, StorageConfig())
    rec.start()
    try:
        odd = make_ex(1)
        odd.started_at = "yesterday"  # the writer cannot format this timestamp
        unsendable = make_ex(2)
        unsendable.client = lambda: None  # neither marshal nor pickle can encode it
        for ex in (make_ex(0), odd, make_ex(3), unsendable, make_ex(4)):
            rec.submit(ex)
        assert rec.flush(10) and rec.queue_depth == 0
        assert [r["id"] for r in rows(db_path)] == ["req-000000", "req-000003", "req-000004"]
        rec.submit(make_ex(5))
        assert rec.flush(10) and rec.queue_depth == 0 and rec.rows_written == 4
    finally:
        rec.close()


class Tenant(str):
    """A str subclass: marshal cannot encode it."""


def test_batch_frames_carry_items_in_order_with_commands_between():
    """Items of one interval go in one list frame (marshal; pickle for a value marshal cannot
    encode), commands keep their place between them."""
    import os as _os

    from leash_cli.writer import encode, frame, read_frames

    a = ("s", ("req-1", 1.5, {"h": "v"}, b"body", None), [])
    b = ("a", ("2025-01-01T00:00:00.000Z", "config_loaded", None, None))
    c = ("s", ("req-2", Tenant("acme"), [b"data: 1\n\n"]), [("req-2", "pii")])
    cmd = frame(("F", 7, "flush"))
    data = encode([a, b, cmd, c])
    assert data[4:5] == b"M"  # the first two items: one marshal frame
    r, w = _os.pipe()
    _os.write(w, data)
    _os.close(w)
    got = list(read_frames(r))
    _os.close(r)
    assert got == [a, b, ("F", 7, "flush"), c]
    assert type(got[3][1][1]) is Tenant  # the frame with the str subclass went as pickle


def test_sent_rows_are_kept_as_their_batch_and_a_new_writer_skips_what_was_finished(db_path):
    """Once written to the pipe, rows are kept as the encoded batch (the exchange's objects are
    let go); a writer that finished part of a batch and died: the next one is sent the batch
    with a skip for the finished part, then what was never sent."""
    import os as _os

    from leash_cli.writer import _Batch, encode, items, read_frames

    rec = ProcessRecorder(db_path, StorageConfig())  # not started: the queue is driven by hand
    for i in range(5):
        rec.submit(make_ex(i))
    with rec._lock:
        encode(rec._out, rec._unfinished)
        rec._out.clear()
    assert [type(e) for e in rec._unfinished] == [_Batch] and rec.queue_depth == 5
    rec._status((2, False, None, {}, None))  # the writer finished two
    assert rec.queue_depth == 3 and rec._unfinished[0].done == 2
    rec.submit(make_ex(5))  # not sent yet
    with rec._lock:
        data = encode(rec._resend(), None)
    r, w = _os.pipe()
    _os.write(w, data)
    _os.close(w)
    got = [m[1][0] for m in items(read_frames(r))]
    _os.close(r)
    assert got == ["req-000002", "req-000003", "req-000004", "req-000005"]
    rec._status((6, False, None, {}, None))
    assert rec.queue_depth == 0 and not rec._unfinished


def test_a_full_backlog_drops_the_oldest_rows_sent_or_not(db_path):
    """With no writer taking rows, the backlog stays at max_pending: the oldest rows go first,
    whether still queued for the pipe or already sent in a batch (then counted as finished)."""
    from leash_cli.writer import encode

    rec = ProcessRecorder(db_path, StorageConfig(), max_pending=3)  # not started: driven by hand
    for i in range(3):
        rec.submit(make_ex(i))
    with rec._lock:
        encode(rec._out, rec._unfinished)  # rows 0-2 sent in one batch
        rec._out.clear()
    rec._send(b"a command", item=False)  # queued ahead of the next rows
    for i in range(3, 7):
        rec.submit(make_ex(i))
    assert rec.queue_depth == 3 and rec.dropped == 4 and rec._finished == 3
    with rec._lock:
        out = [e for e in rec._out if type(e) is not bytes]
    assert [e[1][0] for e in out] == ["req-000004", "req-000005", "req-000006"]
    assert not [e for e in rec._unfinished if type(e) is not tuple]  # the sent batch is gone


@pytest.mark.slow
def test_the_writer_commits_on_its_own_interval_and_at_once_on_flush(db_path):
    """Rows leave the gateway every flush_interval_ms; the writer process commits them every
    commit_interval_ms (larger transactions), or at once when asked to flush."""
    rec = ProcessRecorder(db_path, StorageConfig(flush_interval_ms=1, commit_interval_ms=10_000))
    rec.start()
    try:
        rec.submit(make_ex(1))
        deadline = time.monotonic() + 1
        while rec.queue_depth and time.monotonic() < deadline:  # handed over, not yet committed
            time.sleep(0.05)
            if rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"]:
                break
        assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 0 and rec.queue_depth == 1
        assert rec.flush(5) and rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 1
    finally:
        rec.close()


@pytest.mark.slow
def test_a_reload_changes_the_writers_commit_interval(db_path):
    """New storage settings reach the writer process in line with the rows, and its next
    round commits on the new interval (it read the interval once at start before)."""
    rec = ProcessRecorder(db_path, StorageConfig(flush_interval_ms=1, commit_interval_ms=10_000))
    rec.start()
    try:
        rec.storage = StorageConfig(flush_interval_ms=1, commit_interval_ms=20)
        assert rec.flush(5)  # ends the round that was gathering on the old interval
        rec.submit(make_ex(1))
        deadline = time.monotonic() + 3
        while not rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 1  # committed without a flush
    finally:
        rec.close()


@pytest.mark.slow
def test_event_loop_and_sender_thread_never_interleave_writes(db_path):
    """Rows submitted from an event loop are flushed by the loop; commands (flush, from another
    thread here) go through the sender thread: both at once must never corrupt the pipe."""
    import asyncio
    import threading

    rec = ProcessRecorder(db_path, StorageConfig(flush_interval_ms=1))
    rec.start()
    first = rec.pid
    stop = threading.Event()

    def flusher():
        while not stop.is_set():
            rec.flush(0.05)

    t = threading.Thread(target=flusher)
    t.start()

    big = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"x" * 200_000 + b'"}]}'

    async def produce():  # bodies far larger than a pipe holds: partial writes, a busy sender
        for i in range(6000):
            rec.submit(make_ex(i, body=big) if i % 10 == 0 else make_ex(i))
            if i % 50 == 0:
                await asyncio.sleep(0.001)

    try:
        asyncio.run(produce())
    finally:
        stop.set()
        t.join()
    assert rec.flush(20) and rec.queue_depth == 0
    assert rec.pid == first and rec.state == "ok"  # the writer never choked on a torn frame
    assert rows(db_path, "SELECT count(*) AS n FROM requests")[0]["n"] == 6000
    rec.close()


@pytest.mark.slow
def test_the_loop_flush_leaves_the_pipe_to_a_writing_sender(db_path):
    rec = ProcessRecorder(db_path, StorageConfig())
    rec.start()
    try:
        with rec._lock:
            rec._sending = True  # as while the sender thread writes, outside the lock
        rec._out.append(b"not-a-frame")
        rec._flush_from_loop()
        assert list(rec._out) == [b"not-a-frame"] and rec._need_sender  # untouched, handed to the sender
    finally:
        rec._out.clear()
        rec._sending = rec._need_sender = False
        rec.close()


@pytest.mark.slow
def test_rows_left_by_an_event_loop_that_stopped_are_written(db_path):
    import asyncio

    rec = ProcessRecorder(db_path, StorageConfig(flush_interval_ms=200))
    rec.start()
    try:

        async def submit_and_leave():  # the loop's scheduled flush never runs: it closes first
            rec.submit(make_ex(1))

        asyncio.run(submit_and_leave())
        deadline = time.time() + 5
        while rec.rows_written < 1 and time.time() < deadline:
            time.sleep(0.05)
        assert rec.rows_written == 1  # the sender thread took them over, no flush() asked for
    finally:
        rec.close()
