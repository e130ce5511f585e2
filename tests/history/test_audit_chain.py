"""The tamper-evident audit chain: rows written by the recorder are chained and signed; an attacker with
`sqlite3` or `psycopg` who edits, deletes or inserts rows (or cuts the tail) is reported precisely; retention
keeps a proof.  Every test runs on both stores: a SQLite file and a real PostgreSQL database (pg_support.py;
skipped with the reason when there is no server, unless LEASH_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time

import pytest
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import StorageConfig
from leash_cli.exchange import Violation
from leash_cli.store import open_store
from leash_cli.store.backend import VirtualKey
from leash_cli.store.chain import load_key, verify
from leash_cli.store.writer import Recorder

from .samples import exchange

runner = CliRunner()


class History:
    """One history under test: a SQLite file or a PostgreSQL schema; ``sql`` runs what an attacker with
    write access would (``?`` placeholders on both)."""

    def __init__(self, kind, location):
        self.kind = kind
        self.location = location

    def __str__(self):
        return str(self.location)

    def sql(self, statement, *params):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.location)
            try:
                cur = conn.execute(statement, params)
                rows = cur.fetchall()
                conn.commit()
                return rows
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.location, autocommit=True) as conn:
            cur = conn.execute(statement.replace("%", "%%").replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def chain(self):
        return open_store(self.location).open_chain()


@pytest.fixture(params=["sqlite", "postgres"])
def db_path(request, tmp_path):
    if request.param == "sqlite":
        return History("sqlite", tmp_path / "leash.db")
    return History("postgres", request.getfixturevalue("pg_url"))


def _record(db_path, n=6, *, started=None, storage=None, close=True):
    rec = Recorder(db_path.location, storage or StorageConfig())
    rec.start()
    t0 = started if started is not None else time.time()
    for i in range(n):
        ex = exchange(
            id=f"req-{i}",
            body=b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
            status=200,
            started_at=t0 + i,
        )
        ex.model = "gpt-4o"
        if i % 2:
            ex.verdict = "blocked"
            ex.outcome = "blocked"
            ex.violations.append(Violation("pii-detector", "EMAIL", "block", "high", "an email", 0, 5, "messages"))
        rec.submit(ex)
    rec.audit("config_loaded", {"path": "leash.yaml"}, actor="test")
    assert rec.flush()
    if close:
        rec.close()
    return rec


def _verify(db_path):
    src = db_path.chain()
    try:
        return verify(src, load_key())
    finally:
        src.close()


def _problems(rep):
    return sorted((f.problem, f.table, f.ref) for f in rep.findings)


def test_rows_are_chained_and_a_shutdown_checkpoint_is_signed(db_path):
    _record(db_path)
    rep = _verify(db_path)
    assert rep.ok, rep.findings
    # 6 requests + 3 violations + 1 audit row
    assert rep.entries == 10 and rep.rows == 10
    assert rep.last_checkpoint is not None and rep.last_checkpoint.reason == "shutdown"
    assert rep.unsigned_tail == 0
    key_file = os.environ["LEASH_HOME"] + "/audit.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location)])
    assert r.exit_code == 0, r.output
    assert "intact" in r.output


def test_edit_delete_insert_are_each_reported_exactly(db_path):
    _record(db_path)
    sql = db_path.sql
    sql("UPDATE requests SET verdict = 'allowed', outcome = 'ok' WHERE id = 'req-3'")
    sql("DELETE FROM requests WHERE id = 'req-4'")
    vid = sql("SELECT min(id) FROM violations")[0][0]
    sql("UPDATE violations SET action = 'log' WHERE id = ?", vid)
    sql(
        "INSERT INTO requests (id, started_at, tenant, verdict) VALUES ('forged', '2026-01-01T00:00:00.000Z',"
        " 'default', 'allowed')"
    )
    sql("UPDATE audit_log SET actor = 'someone else'")
    rep = _verify(db_path)
    aid = str(sql("SELECT id FROM audit_log")[0][0])
    assert _problems(rep) == sorted(
        [
            ("edited", "requests", "req-3"),
            ("deleted", "requests", "req-4"),
            ("edited", "violations", str(vid)),
            ("inserted", "requests", "forged"),
            ("edited", "audit_log", aid),
        ]
    )
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location), "--format", "json"])
    assert r.exit_code == 1, r.output
    assert len(json.loads(r.output)["findings"]) == 5


def test_removing_a_row_with_its_chain_entry_breaks_the_links(db_path):
    _record(db_path)
    sql = db_path.sql
    seq = sql("SELECT seq FROM audit_chain WHERE kind = 'request' AND ref = 'req-2'")[0][0]
    sql("DELETE FROM requests WHERE id = 'req-2'")
    sql("DELETE FROM audit_chain WHERE seq = ?", seq)
    rep = _verify(db_path)
    assert [(f.problem, f.seq) for f in rep.findings] == [("entries_removed", seq + 1)]


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(db_path):
    from leash_cli.store.chain import make_entries

    _record(db_path)
    # the attacker edits a row and recomputes every hash after it: the links hold, the checkpoint does not
    db_path.sql("UPDATE requests SET cost_usd = 0.0 WHERE id = 'req-1'")
    src = db_path.chain()
    entries = list(src.entries())
    rows = {(k, ref): values for k in ("request", "violation", "audit") for _r, ref, _c, values in src.rows(k)}
    src.close()
    heads = {"audit": (0, "0" * 64), "decision": (0, "0" * 64)}
    writer = entries[0].writer
    new = make_entries(heads, 1, [(e.kind, e.ref, e.created_at, rows[(e.kind, e.ref)]) for e in entries], writer)
    db_path.sql("DELETE FROM audit_chain")
    cols = "seq, chain, kind, ref, created_at, row_hash, prev_hash, hash"
    for e in new:
        if db_path.kind == "sqlite":
            db_path.sql(f"INSERT INTO audit_chain ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", *e)
        else:
            db_path.sql(f"INSERT INTO audit_chain (writer, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", writer, *e)
    rep = _verify(db_path)
    assert {f.problem for f in rep.findings} == {"chain_rewritten"}


def test_a_cut_tail_after_the_last_checkpoint_is_reported(db_path):
    _record(db_path)
    sql = db_path.sql
    # the attacker removes the newest exchanges and their entries (the chain still links)
    top = sql("SELECT max(seq) FROM audit_chain WHERE chain LIKE 'decision%'")[0][0]
    refs = [r[0] for r in sql("SELECT ref FROM audit_chain WHERE chain LIKE 'decision%' AND seq > ? - 3", top)]
    sql("DELETE FROM audit_chain WHERE chain LIKE 'decision%' AND seq > ? - 3", top)
    sql(f"DELETE FROM requests WHERE id IN ({','.join('?' * len(refs))})", *refs)
    sql(f"DELETE FROM violations WHERE CAST(id AS TEXT) IN ({','.join('?' * len(refs))})", *refs)
    rep = _verify(db_path)
    assert [f.problem for f in rep.findings] == ["tail_cut"]
    assert "3 or more entries" in rep.findings[0].detail
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location)])
    assert r.exit_code == 1 and "TAIL_CUT" in r.output


def test_a_cut_tail_stays_reported_after_a_later_checkpoint_signs_the_cut_head(db_path):
    _record(db_path)
    sql = db_path.sql
    top = sql("SELECT max(seq) FROM audit_chain WHERE chain LIKE 'decision%'")[0][0]
    refs = [r[0] for r in sql("SELECT ref FROM audit_chain WHERE chain LIKE 'decision%' AND seq > ? - 2", top)]
    sql("DELETE FROM audit_chain WHERE chain LIKE 'decision%' AND seq > ? - 2", top)
    sql(f"DELETE FROM requests WHERE id IN ({','.join('?' * len(refs))})", *refs)
    sql(f"DELETE FROM violations WHERE CAST(id AS TEXT) IN ({','.join('?' * len(refs))})", *refs)
    _record(db_path, n=0)  # the gateway restarts and stops: its shutdown checkpoint signs the cut head
    rep = _verify(db_path)
    assert [f.problem for f in rep.findings] == ["tail_cut"]
    assert rep.checkpoints == 2


def test_a_forged_or_removed_checkpoint_is_reported(db_path):
    rec = _record(db_path, close=False)
    rec._checkpoint("interval")  # a checkpoint in the middle: the writer's own thread is idle
    assert rec.flush()
    rec.close()
    sql = db_path.sql
    ids = [r[0] for r in sql("SELECT id FROM audit_checkpoints ORDER BY id")]
    assert len(ids) == 2
    sql("DELETE FROM audit_checkpoints WHERE id = ?", ids[0])
    rep = _verify(db_path)
    assert [f.problem for f in rep.findings] == ["checkpoint_removed"]
    sql("UPDATE audit_checkpoints SET decision_seq = 1")
    assert "checkpoint_forged" in {f.problem for f in _verify(db_path).findings}


def test_retention_removes_whole_segments_and_verification_still_passes(db_path):
    old = time.time() - 10 * 86400
    _record(db_path, n=6, started=old)
    _record(db_path, n=0)  # a second run of the writer
    rec = Recorder(db_path.location, StorageConfig(retention="1d"))
    rec.start()
    for i in range(3):
        rec.submit(exchange(id=f"new-{i}", status=200))
    assert rec.flush()
    assert rec.prune()
    rec.close()
    sql = db_path.sql
    assert [r[0] for r in sql("SELECT id FROM requests ORDER BY id")] == ["new-0", "new-1", "new-2"]
    assert sql("SELECT count(*) FROM violations")[0][0] == 0
    removed = sql("SELECT removed FROM audit_tombstones WHERE chain LIKE 'decision%'")[0][0]
    assert removed == 9  # 6 requests + 3 violations
    rep = _verify(db_path)
    assert rep.ok, rep.findings
    assert rep.tombstones[0].removed == 9
    # a forged tombstone (a prefix removed by hand, its proof written without the key) is caught
    sql("UPDATE audit_tombstones SET removed = 2")
    assert [f.problem for f in _verify(db_path).findings] == ["tombstone_forged"]


def test_audit_rows_written_by_other_commands_are_chained(db_path):
    _record(db_path)
    vk = VirtualKey("k1", "team-a", "lk-1234", None, "2026-01-01T00:00:00.000Z", None, None)
    store = open_store(db_path.location)
    store.create_key(vk, "hash")
    assert store.revoke_key("k1", "2026-01-02T00:00:00.000Z")
    rep = _verify(db_path)
    assert rep.ok, rep.findings
    # two new entries after the last checkpoint: not signed yet, and said so
    assert rep.unsigned_tail == 2


def test_export_writes_every_entry_with_its_proof(db_path, tmp_path):
    _record(db_path)
    out = tmp_path / "chain.jsonl"
    r = runner.invoke(app, ["audit", "export", "--db", str(db_path.location), "--format", "jsonl", "-o", str(out)])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    entries = [x for x in recs if x["type"] == "entry"]
    assert len(entries) == 10
    assert entries[0]["prev_hash"] == "0" * 64 and entries[0]["row"]["id"] == "req-0"
    assert all(
        b["prev_hash"] == a["hash"]
        for a, b in zip(
            [e for e in entries if e["chain"].startswith("decision")],
            [e for e in entries if e["chain"].startswith("decision")][1:],
        )
    )
    assert [x["reason"] for x in recs if x["type"] == "checkpoint"] == ["shutdown"]


def test_verify_errors_exit_2(db_path, tmp_path, monkeypatch):
    if db_path.kind == "sqlite":
        r = runner.invoke(app, ["audit", "verify", "--db", str(tmp_path / "none.db")])
    else:  # an empty database: no history yet
        r = runner.invoke(app, ["audit", "verify", "--db", db_path.location])
    assert r.exit_code == 2
    assert "no history" in r.output or "does not exist" in r.output or "no such" in r.output.lower(), r.output
    _record(db_path)
    monkeypatch.setenv("LEASH_HOME", str(tmp_path / "elsewhere"))
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location)])
    assert r.exit_code == 2 and "no audit key" in r.output


def test_a_checkpoint_signed_with_another_key_is_reported(db_path, monkeypatch):
    _record(db_path)
    monkeypatch.setenv("LEASH_AUDIT_KEY", "another key, long enough")
    rep = _verify(db_path)
    assert [f.problem for f in rep.findings] == ["checkpoint_forged"]
    assert "another key" in rep.findings[0].detail


@pytest.mark.parametrize("writer", ["process"])
@pytest.mark.slow
def test_the_writer_process_chains_and_checkpoints_too(db_path, writer):
    from leash_cli.store.writer import make_recorder

    rec = make_recorder(db_path.location, StorageConfig(writer=writer))
    rec.start()
    for i in range(4):
        rec.submit(exchange(id=f"p-{i}", status=200))
    assert rec.flush()
    rec.close()
    rep = _verify(db_path)
    assert rep.ok and rep.entries == 4 and rep.last_checkpoint is not None


def test_the_writer_signs_checkpoints_while_rows_arrive(db_path):
    rec = Recorder(db_path.location, StorageConfig(audit_checkpoint_interval="0s"))  # every write round
    rec.start()
    rec.submit(exchange(id="a", status=200))
    assert rec.flush()
    rec.submit(exchange(id="b", status=200))
    assert rec.flush()
    src = db_path.chain()
    try:
        cps = src.checkpoints()
    finally:
        src.close()
    assert [c.reason for c in cps] == ["interval", "interval"] and [c.decision_seq for c in cps] == [1, 2]
    rec.close()
    rep = _verify(db_path)
    assert rep.ok and rep.checkpoints == 3 and rep.last_checkpoint.reason == "shutdown"


@pytest.mark.slow
def test_since_limits_what_is_checked(db_path):
    old = time.time() - 3 * 86400
    _record(db_path, n=4, started=old)
    db_path.sql("UPDATE requests SET verdict = 'allowed' WHERE id = 'req-1'")  # three days ago
    assert [f.ref for f in _verify(db_path).findings] == ["req-1"]
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location), "--since", "1d"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["audit", "verify", "--db", str(db_path.location), "--since", "4d"])
    assert r.exit_code == 1 and "req-1" in r.output


def test_verify_reads_one_snapshot_while_the_gateway_writes(db_path):
    rec = _record(db_path, close=False)
    src = db_path.chain()
    walked = src.entries

    def entries_then_a_commit():
        yield from walked()
        rec.submit(exchange(id="late", status=200))  # committed after the chain was read, before the rows
        assert rec.flush()

    src.entries = entries_then_a_commit
    try:
        rep = verify(src, load_key())
    finally:
        src.close()
        rec.close()
    assert rep.ok, rep.findings  # without one snapshot, "late" would be a row without an entry: "inserted"
    assert rep.entries == 10
