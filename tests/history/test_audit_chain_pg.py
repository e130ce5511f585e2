"""The audit chain on PostgreSQL with several writers: each gateway's recorder keeps chains of its own (no
shared head, no fork), both verify; a row written again by another writer is checked against that writer's
entry; and `leash audit export` has the same shape (and the same row hashes) as on SQLite.  The single-writer
tamper tests run on both stores in test_audit_chain.py."""

from __future__ import annotations

import json
import threading
import time

import pytest
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import StorageConfig
from leash_cli.exchange import Violation
from leash_cli.store import make_recorder, open_store
from leash_cli.store.chain import load_key, verify

from .samples import exchange

runner = CliRunner()


def _ex(i, *, t0, status=200):
    ex = exchange(
        id=f"req-{i}",
        body=b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
        status=status,
        started_at=t0 + i,
    )
    ex.model = "gpt-4o"
    if i % 2:
        ex.verdict = "blocked"
        ex.outcome = "blocked"
        ex.violations.append(Violation("pii-detector", "EMAIL", "block", "high", "an email", 0, 5, "messages"))
    return ex


def _verify(location):
    src = open_store(location).open_chain()
    try:
        return verify(src, load_key())
    finally:
        src.close()


def _sql(url, statement, *params):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


@pytest.mark.slow
def test_two_gateways_writing_at_once_keep_a_chain_each_and_both_verify(pg_url):
    open_store(pg_url).migrate()
    recorders = [
        make_recorder(pg_url, StorageConfig(writer=w, batch_size=20, commit_interval_ms=5))
        for w in ("process", "thread")
    ]
    for rec in recorders:
        rec.start()
    t0 = time.time()

    def feed(w: int) -> None:
        rec = recorders[w]
        for i in range(300):
            rec.submit(_ex(w * 100000 + i, t0=t0))
            if i % 100 == 0:
                rec.audit("config_reloaded", {"writer": w}, actor="test")
        for i in range(10):  # the same exchange through both gateways (a retried delivery): one row
            rec.submit(_ex(900000 + i, t0=t0, status=200 + w))

    feeders = [threading.Thread(target=feed, args=(w,)) for w in range(2)]
    for f in feeders:
        f.start()
    for f in feeders:
        f.join()
    for rec in recorders:
        assert rec.flush()
        rec.close()
    rep = _verify(pg_url)
    assert rep.ok, rep.findings[:5]
    assert len(rep.writers) == 2 and len({w.writer for w in rep.writers}) == 2
    # 310 requests + 155 violations + 3 audit rows per writer, each in its own chain, each signed at shutdown
    assert [w.entries for w in rep.writers] == [310 + 155 + 3] * 2
    assert all(w.last_checkpoint is not None and w.last_checkpoint.reason == "shutdown" for w in rep.writers)
    assert rep.unsigned_tail == 0
    # one chain per writer: each writer's seq runs 1..n with no gap and no fork
    for (writer,) in _sql(pg_url, "SELECT writer FROM audit_writers"):
        seqs = [r[0] for r in _sql(pg_url, "SELECT seq FROM audit_chain WHERE writer = %s ORDER BY seq", writer)]
        assert seqs == list(range(1, len(seqs) + 1))
    r = runner.invoke(app, ["audit", "verify", "--db", pg_url])
    assert r.exit_code == 0, r.output
    assert r.output.count("writer ") == 2 and "intact" in r.output
    # tampering in either writer's rows is still found, and named
    _sql(pg_url, "UPDATE requests SET verdict = 'allowed' WHERE id IN ('req-3', 'req-100003', 'req-900001')")
    _sql(pg_url, "DELETE FROM violations WHERE id = (SELECT max(id) FROM violations)")
    probs = sorted((f.problem, f.ref) for f in _verify(pg_url).findings)
    vid = [f.ref for f in _verify(pg_url).findings if f.problem == "deleted"]
    assert probs == sorted(
        [("edited", "req-3"), ("edited", "req-100003"), ("edited", "req-900001"), ("deleted", vid[0])]
    )


@pytest.mark.slow
def test_a_cut_tail_of_one_writer_is_reported_for_that_writer(pg_url):
    open_store(pg_url).migrate()
    recs = [make_recorder(pg_url, StorageConfig(writer="thread")) for _ in range(2)]
    t0 = time.time()
    for w, rec in enumerate(recs):
        rec.start()
        for i in range(4):
            rec.submit(_ex(w * 10 + i, t0=t0))
        assert rec.flush()
    for rec in recs:
        rec.close()
    writer = _sql(pg_url, "SELECT writer FROM audit_chain WHERE ref = 'req-12'")[0][0]
    top = _sql(pg_url, "SELECT max(seq) FROM audit_chain WHERE writer = %s", writer)[0][0]
    refs = [r[0] for r in _sql(pg_url, "SELECT ref FROM audit_chain WHERE writer = %s AND seq > %s", writer, top - 2)]
    _sql(pg_url, "DELETE FROM audit_chain WHERE writer = %s AND seq > %s", writer, top - 2)
    _sql(pg_url, "DELETE FROM requests WHERE id = ANY(%s)", refs)
    _sql(pg_url, "DELETE FROM violations WHERE id::text = ANY(%s)", refs)
    rep = _verify(pg_url)
    assert [f.problem for f in rep.findings] == ["tail_cut"]
    assert writer in rep.findings[0].detail and "2 or more entries" in rep.findings[0].detail


def test_retention_prunes_every_writers_chain_and_verification_passes(pg_url):
    open_store(pg_url).migrate()
    old = time.time() - 10 * 86400
    recs = [make_recorder(pg_url, StorageConfig(writer="thread")) for _ in range(2)]
    for w, rec in enumerate(recs):
        rec.start()
        for i in range(4):
            rec.submit(_ex(w * 10 + i, t0=old))
        assert rec.flush()
    for rec in recs:
        rec.close()
    rec = make_recorder(pg_url, StorageConfig(writer="thread", retention="1d"))
    rec.start()
    rec.submit(exchange(id="new-0", status=200))
    assert rec.flush()
    assert rec.prune()
    rec.close()
    assert [r[0] for r in _sql(pg_url, "SELECT id FROM requests")] == ["new-0"]
    tombs = dict(_sql(pg_url, "SELECT chain, removed FROM audit_tombstones"))
    assert sorted(tombs.values()) == [6, 6]  # per writer: 4 requests + 2 violations
    rep = _verify(pg_url)
    assert rep.ok, rep.findings


def _export(location, tmp_path, name):
    out = tmp_path / name
    r = runner.invoke(app, ["audit", "export", "--db", str(location), "--format", "jsonl", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def _shape(v):
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items() if k != "heads"}
    return type(v).__name__ if v is not None else None


@pytest.mark.slow
def test_export_has_the_same_shape_and_row_hashes_as_sqlite(pg_url, tmp_path):
    t0 = float(int(time.time()))  # the same rows on both stores
    for location in (tmp_path / "leash.db", pg_url):
        rec = make_recorder(location, StorageConfig(writer="thread"))
        rec.start()
        for i in range(6):
            rec.submit(_ex(i, t0=t0))
        assert rec.flush()
        rec.close()
    lite = _export(tmp_path / "leash.db", tmp_path, "lite.jsonl")
    pg = _export(pg_url, tmp_path, "pg.jsonl")
    assert [x["type"] for x in lite] == [x["type"] for x in pg]
    assert [set(x) for x in lite] == [set(x) for x in pg]
    entries = [(a, b) for a, b in zip(lite, pg) if a["type"] == "entry"]
    assert len(entries) == 9
    for a, b in entries:
        assert set(a["row"]) == set(b["row"])
        # the same row, hashed in the same canonical form on both stores
        assert (a["kind"], a["ref"], a["row_hash"]) == (b["kind"], b["ref"], b["row_hash"])
        assert b["chain"].startswith(a["chain"] + "@")  # a writer's own chain
    cps = [(a, b) for a, b in zip(lite, pg) if a["type"] == "checkpoint"]
    assert cps and all(set(a["heads"]) == {"audit", "decision"} for a, _ in cps)
    assert all({k.partition("@")[0] for k in b["heads"]} == {"audit", "decision"} for _, b in cps)


def test_a_running_writer_signs_what_an_idle_writer_left_unsigned(pg_url):
    """``leash keys create`` while the gateway writes gets a writer id of its own (the gateway holds its id);
    the gateway's next checkpoint signs that tail too (reason ``adopted``)."""
    from leash_cli.store.backend import VirtualKey

    rec = make_recorder(pg_url, StorageConfig(writer="thread", audit_checkpoint_interval="0s"))
    rec.start()
    rec.submit(_ex(0, t0=time.time()))
    assert rec.flush()
    store = open_store(pg_url)
    store.create_key(VirtualKey("k1", "team-a", "lk-1", None, "2026-01-01T00:00:00.000Z", None, None), "h")
    rep = _verify(pg_url)
    assert rep.ok and rep.unsigned_tail == 1 and len(rep.writers) == 2
    rec.submit(_ex(1, t0=time.time()))
    assert rec.flush()  # an interval checkpoint: its own, and the idle writer's
    rep = _verify(pg_url)
    assert rep.ok and rep.unsigned_tail == 0, rep.as_dict()
    assert sorted(w.last_checkpoint.reason for w in rep.writers) == ["adopted", "interval"]
    rec.close()
    # an edit of the key's audit row is caught as on SQLite
    _sql(pg_url, "UPDATE audit_log SET actor = 'mallory' WHERE event = 'key_created'")
    assert [f.problem for f in _verify(pg_url).findings] == ["edited"]


@pytest.mark.slow
def test_verify_and_export_find_the_database_from_storage_url(pg_url, tmp_path):
    rec = make_recorder(pg_url, StorageConfig(writer="thread"))
    rec.start()
    for i in range(3):
        rec.submit(_ex(i, t0=time.time()))
    assert rec.flush()
    rec.close()
    cfg = tmp_path / "leash.yaml"
    cfg.write_text(f"storage:\n  url: {json.dumps(pg_url)}\n")
    r = runner.invoke(app, ["audit", "verify", "--config", str(cfg), "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["ok"] and report["entries"] == 4 and len(report["writers"]) == 1
    r = runner.invoke(app, ["audit", "export", "--config", str(cfg), "--format", "jsonl"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in r.output.splitlines()]
    assert [x["type"] for x in recs] == ["entry"] * 4 + ["checkpoint"]
    _sql(pg_url, "DELETE FROM requests WHERE id = 'req-2'")
    r = runner.invoke(app, ["audit", "verify", "--config", str(cfg)])
    assert r.exit_code == 1 and "DELETED requests row req-2" in r.output.replace("\n", " ")


@pytest.mark.slow
def test_retention_while_two_gateways_write_keeps_verification_passing(pg_url):
    """Retention runs (its own recorder, pruning again and again) while two gateways write new exchanges and
    deliver old ones again: whatever interleaving, the chains still verify afterwards."""
    open_store(pg_url).migrate()
    old = time.time() - 10 * 86400
    seed = make_recorder(pg_url, StorageConfig(writer="thread"))
    seed.start()
    for i in range(60):
        seed.submit(_ex(i, t0=old))
    assert seed.flush()
    seed.close()
    writers = [
        make_recorder(pg_url, StorageConfig(writer="thread", batch_size=10, commit_interval_ms=2)) for _ in (0, 1)
    ]
    pruner = make_recorder(pg_url, StorageConfig(writer="thread", retention="1d"))
    for rec in (*writers, pruner):
        rec.start()
    stop = threading.Event()

    def prune() -> None:
        while not stop.is_set():
            pruner.prune()

    def feed(w: int) -> None:
        for i in range(150):
            writers[w].submit(_ex(1000 * (w + 1) + i, t0=time.time()))
            if i % 5 == 0:  # an old exchange delivered again (the same id): upserted while retention runs
                writers[w].submit(_ex(i % 60, t0=old, status=500 + w))

    pruning = threading.Thread(target=prune)
    pruning.start()
    feeders = [threading.Thread(target=feed, args=(w,)) for w in (0, 1)]
    for f in feeders:
        f.start()
    for f in feeders:
        f.join()
    for rec in writers:
        assert rec.flush()
        rec.close()
    stop.set()
    pruning.join()
    assert pruner.prune()
    pruner.close()
    rep = _verify(pg_url)
    assert rep.ok, rep.findings[:5]
    # the seeded segment went; old exchanges delivered again sit between young entries of the gateways' chains
    # and stay until the entries before them age (a segment ends at the first young entry)
    assert any(t.chain == f"decision@{rep.writers[0].writer}" and t.removed >= 60 for t in rep.tombstones)
