"""Recording benchmark: CPU per history row (build + insert), before/after variants.

    python bench/record_bench.py                       # ~1-2 minutes
    python bench/record_bench.py --rows 20000 --repeat 5
    python bench/record_bench.py --only e2e --src /tmp/old/src   # end to end on another leash tree

Everything is CPU time of this process (``time.process_time()``, all
threads), never wall time: the machine may be busy with other work.  Each
figure is the best of ``--repeat`` runs.

The exchanges are the ones of the gateway benchmark (bench/run.py against
bench/upstream.py), built the way the gateway builds them: the ~280 B chat
request already parsed (the proxy parses JSON bodies), no module ran (so
``ex.texts()`` was never called), priced, and either the ~700 B JSON
completion or a 20-event SSE stream with ``stream_events`` kept
(``storage.bodies: full``).

Sections:

``build``   ``build_request_row`` per exchange: ``v002`` is a frozen copy of
            the function as released with schema 002 (below), ``now`` the
            current one; ``now, texts cached`` when a module already listed
            the prompt texts.
``insert``  the prepared rows into a file database (WAL, synchronous=NORMAL)
            already holding ``--prefill`` rows, ``--batch`` rows a
            transaction (the writer commits every 50 ms: ~200 rows at 4k
            req/s), one schema/statement variant per line, each ending in a
            passive checkpoint so the WAL copy is counted.
``fts``     what deferred indexing costs when it runs (idle time), per row.
``e2e``     ``Recorder.submit`` -> committed, per exchange: building and
            writing in the writer thread plus the queue, as in the gateway.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--rows", type=int, default=10_000, help="rows per timed run")
ap.add_argument("--prefill", type=int, default=50_000, help="rows already in the database")
ap.add_argument("--batch", type=int, default=200, help="rows per transaction")
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--only", choices=["build", "insert", "fts", "e2e"], action="append")
ap.add_argument("--src", type=Path, help="import leash_cli from this src folder (e.g. an older tree) for e2e")
ARGS = ap.parse_args() if __name__ == "__main__" else ap.parse_args([])
sys.path.insert(0, str(ARGS.src or HERE.parent / "src"))
sys.path.insert(1, str(HERE))

import orjson  # noqa: E402

import upstream  # noqa: E402  (bench/upstream.py: the canned answers)
from leash_cli import store  # noqa: E402
from leash_cli.config import StorageConfig  # noqa: E402
from leash_cli.exchange import Exchange, Usage  # noqa: E402
from leash_cli.pricing import Pricer  # noqa: E402

# bench/run.py's request (imported by value: run.py pulls in its own CLI)
PROMPT_300B = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": "Summarise the plot of a short story about a fox who learns to share with "
            "the other animals of the forest, in two sentences, for a child of seven.",
        },
    ],
}
_PRICER = Pricer()


def exchange(i: int, stream: bool = False) -> Exchange:
    """One exchange as the gateway hands it to the recorder in bench/run.py."""
    body = {**PROMPT_300B, "stream": True, "stream_options": {"include_usage": True}} if stream else PROMPT_300B
    raw = orjson.dumps(body) if stream else json.dumps(body).encode()  # a stream's body was rewritten
    ex = Exchange(
        id=f"{int(1.7e15) + i:013x}{i:011x}",
        provider="openai",
        kind="openai",
        api="openai",
        method="POST",
        path="chat/completions",
        client="127.0.0.1:37600",
        request_body=raw,
        request_headers={
            "host": "127.0.0.1:40000",
            "content-type": "application/json",
            "content-length": str(len(raw)),
        },
        model="gpt-4o-mini",
        stream=stream,
    )
    ex.json()
    ex.t_upstream_start, ex.t_upstream_headers = ex.t_start + 0.0002, ex.t_start + 0.002
    ex.t_upstream_end, ex.t_end = ex.t_start + 0.0022, ex.t_start + 0.0023
    ex.status = 200
    if stream:
        ex.response_headers = {"content-type": "text/event-stream"}
        ex.stream_events = [p + b"\n\n" for p in upstream.STREAM.split(b"\n\n") if p]
        ex.response_body = upstream.STREAM
        ex.response_text = "".join(f"word{k} " for k in range(18))
        ex.t_first_token = ex.t_start + 0.0021
        ex.usage = Usage(52, 18)
        ex.annotations["leash_include_usage"] = True
    else:
        ex.response_headers = {"content-type": "application/json"}
        ex.response_body = upstream.COMPLETION
        ex.response_text = "The quick brown fox jumps over the lazy dog. " * 5
        ex.usage = Usage(52, 50, 0, None, 0)
    ex.cost_usd, ex.cost_detail = _PRICER.price(ex.kind, ex.model, ex.usage, ex.provider)
    return ex


# -- v002: build_request_row as released with schema 002 (frozen, for the "before" column) ------------------


def _v002_iso_utc(ts):
    if ts is None:
        return None
    secs = int(ts)
    ms = int(round((ts - secs) * 1000))
    if ms >= 1000:
        secs, ms = secs + 1, ms - 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ms:03d}Z"


def _v002_clean_headers(headers):
    from leash_cli.exchange import strip_credentials

    out = {}
    for k, v in strip_credentials(headers or {}).items():
        if store._SECRET_HEADER.search(k):
            continue
        v = str(v)
        out[k] = store.CREDENTIAL_PATTERN.sub(store.MASK, v) if len(v) >= 12 else v
    return out


def _v002_prompt_text(ex, fallback):
    if isinstance(getattr(type(ex), "prompt_text", None), property):
        try:
            return ex.prompt_text
        except Exception:
            pass
    return fallback(ex.json())


def v002_build_request_row(ex: Exchange, storage: StorageConfig) -> tuple:
    from leash_cli.usage import prompt_text

    s = store.rows  # the row builder's private helpers
    limit = storage.max_body_bytes
    mode = storage.bodies
    u = ex.usage
    total = ex.total_seconds
    ended = ex.started_at + total if total is not None else None
    events = None
    if mode == "none":
        req_body = resp_body = resp_text = prompt = None
        req_trunc = resp_trunc = 0
    else:
        req_body, req_trunc = s._cut_bytes(ex.request_body, limit)
        resp_body, resp_trunc = s._cut_bytes(ex.response_body, limit)
        resp_text = s._cut_text(ex.response_text, limit)
        try:
            prompt = _v002_prompt_text(ex, prompt_text)
            prompt = s._cut_text(prompt, limit) if prompt else None
        except Exception:
            prompt = None
        if mode == "redacted":
            lits = s._redaction_values(ex)
            req_body = s._mask_all(req_body, lits)
            resp_body = s._mask_all(resp_body, lits)
            resp_text = s._mask_all(resp_text, lits)
            prompt = s._mask_all(prompt, lits)
        elif ex.stream_events:
            kept, size = [], 0
            for raw in ex.stream_events:
                size += len(raw)
                if size > limit:
                    break
                kept.append(s._decode(raw) if isinstance(raw, (bytes, bytearray)) else str(raw))
            events = orjson.dumps(kept).decode()
    timings = {k: s._ms(v) for k, v in ex.module_timings.items()} if ex.module_timings else None
    return (
        ex.id,
        _v002_iso_utc(ex.started_at),
        _v002_iso_utc(ended),
        ex.tenant,
        ex.key_id,
        ex.provider,
        ex.kind,
        ex.model,
        ex.method,
        ex.path,
        s.clean_query(ex.query),
        ex.status,
        1 if ex.stream else 0,
        ex.outcome,
        ex.verdict,
        s._ms(total),
        s._ms(ex.upstream_seconds),
        s._ms(ex.overhead_seconds),
        s._ms(ex.ttft_seconds),
        u.input_tokens,
        u.output_tokens,
        u.cached_input_tokens,
        u.cache_write_tokens,
        u.reasoning_tokens,
        ex.cost_usd,
        ex.client,
        s.mask_credentials(ex.error) if ex.error else None,
        s._dumps(ex.cost_detail),
        s._dumps(timings),
        s._dumps(_v002_clean_headers(ex.request_headers)),
        s._dumps(_v002_clean_headers(ex.response_headers)) if ex.response_headers else None,
        req_trunc,
        resp_trunc,
        req_body,
        resp_body,
        resp_text,
        prompt,
        events,
    )


# -- measuring --------------------------------------------------------------------------------------------------


def cpu_per_item(fn, items: list, repeat: int) -> float:
    """Best of ``repeat`` runs of ``fn(item)`` over fresh copies of ``items``: CPU µs per item."""
    best = float("inf")
    for _ in range(repeat):
        batch = [copy.copy(it) for it in items]
        t0 = time.process_time()
        for it in batch:
            fn(it)
        best = min(best, (time.process_time() - t0) / len(items) * 1e6)
    return best


def section_build(n: int, repeat: int) -> dict:
    st = StorageConfig()
    out = {}
    for kind, stream in (("chat", False), ("stream", True)):
        exes = [exchange(i, stream) for i in range(n)]
        assert v002_build_request_row(exes[0], st) == store.build_request_row(copy.copy(exes[0]), st)
        out[f"{kind}: v002"] = cpu_per_item(lambda ex: v002_build_request_row(ex, st), exes, repeat)
        out[f"{kind}: now"] = cpu_per_item(lambda ex: store.build_request_row(ex, st), exes, repeat)
        for ex in exes:
            ex.texts()
        out[f"{kind}: now, texts cached"] = cpu_per_item(lambda ex: store.build_request_row(ex, st), exes, repeat)
    return out


def _rows(exes: list, start: int) -> list[tuple]:
    st = StorageConfig()
    rows = []
    for i, ex in enumerate(exes):
        r = list(store.build_request_row(ex, st))
        r[0] = f"{int(1.7e15) + start + i:013x}{start + i:011x}"
        r[1] = r[2] = store.iso_utc(1.7e9 + (start + i) * 0.001)
        rows.append(tuple(r))
    return rows


IDX5 = ("provider", "model", "tenant", "outcome", "status")
PLAIN = "INSERT INTO requests ({}) VALUES ({})".format(
    ", ".join(store.REQUEST_COLUMNS), ", ".join("?" * len(store.REQUEST_COLUMNS))
)
UPSERT = store._INSERT_REQUEST


def _db(path: Path, schema: str, extra: tuple[str, ...]):
    db = store.sqlite_utils.Database(store._connect(path), execute_plugins=False)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA synchronous=NORMAL")
    if schema == "v002":
        store.migrations.apply(db, stop_before="003_deferred_fts")
    else:
        store.migrations.apply(db)
        store.set_fts_deferred(db.conn, True)  # as the recorder runs it
    for sql in extra:
        db.execute(sql)
    return db


INSERT_VARIANTS = [
    # name, schema, statement, extra SQL, index FTS in each batch
    ("v002: FTS trigger, 6 indexes, upsert (before)", "v002", UPSERT, (), False),
    ("v002, upsert -> plain INSERT", "v002", PLAIN, (), False),
    ("no FTS trigger, 6 indexes, upsert", "v002", UPSERT, ("DROP TRIGGER requests_ai",), False),
    ("no FTS trigger, 6 indexes, plain", "v002", PLAIN, ("DROP TRIGGER requests_ai",), False),
    ("FTS bulk per batch (no trigger), 6 idx, plain", "v002", PLAIN, ("DROP TRIGGER requests_ai",), True),
    ("003: deferred FTS, 3 indexes, upsert (now)", "003", UPSERT, (), False),
    ("003, plain INSERT", "003", PLAIN, (), False),
    (
        "003 - model, tenant indexes",
        "003",
        UPSERT,
        tuple(f"DROP INDEX requests_{c}" for c in ("model", "tenant")),
        False,
    ),
    (
        "003 + narrow started_at index",
        "003",
        UPSERT,
        ("DROP INDEX requests_started_at", "CREATE INDEX requests_started_at ON requests (started_at)"),
        False,
    ),
    (
        "003, no index at all but the PK",
        "003",
        UPSERT,
        ("DROP INDEX requests_started_at", "DROP INDEX requests_model", "DROP INDEX requests_tenant"),
        False,
    ),
    ("003 + cache_size 64 MB", "003", UPSERT, ("PRAGMA cache_size=-65536",), False),
    ("003 + mmap_size 256 MB", "003", UPSERT, ("PRAGMA mmap_size=268435456",), False),
]


def section_insert(n: int, prefill: int, batch: int, repeat: int, stream: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="leash-record-bench-"))
    exes = [exchange(i, stream) for i in range(min(n, 2000))]
    exes = (exes * (n // len(exes) + 1))[:n]
    pre = _rows(exes, 0)
    out = {}
    try:
        for name, schema, stmt, extra, bulk in INSERT_VARIANTS:
            path = tmp / "v.db"
            db = _db(path, schema, extra)
            conn = db.conn
            for s in range(0, prefill, len(pre)):
                conn.execute("BEGIN")
                conn.executemany(stmt, _rows(exes[: min(len(pre), prefill - s)], s))
                conn.execute("COMMIT")
            if schema != "v002" or "DROP TRIGGER requests_ai" in extra:
                conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('rebuild')")
                if schema != "v002":
                    store.rebuild_fts(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            best, start = float("inf"), prefill
            for _ in range(repeat):
                rows = _rows(exes, start)
                t0 = time.process_time()
                for i in range(0, n, batch):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(stmt, rows[i : i + batch])
                    if bulk:
                        conn.execute(
                            "INSERT INTO requests_fts (rowid, prompt_text, response_text) SELECT rowid, "
                            "prompt_text, response_text FROM requests WHERE rowid > ?",
                            [start + i],
                        )
                    conn.execute("COMMIT")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                best = min(best, (time.process_time() - t0) / n * 1e6)
                start += n
            out[name] = best
            print(f"    {name:<52} {best:7.1f}", flush=True)
            db.close()
            for p in tmp.glob("v.db*"):
                p.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def section_fts(n: int, repeat: int) -> dict:
    """Deferred indexing: CPU per row of store.index_fts over rows written without indexing."""
    tmp = Path(tempfile.mkdtemp(prefix="leash-record-bench-"))
    out = {}
    try:
        for kind, stream in (("chat", False), ("stream", True)):
            exes = [exchange(i, stream) for i in range(min(n, 2000))]
            exes = (exes * (n // len(exes) + 1))[:n]
            for chunk in (500, 5000):
                best = float("inf")
                db = _db(tmp / "f.db", "003", ())
                start = 0
                for _ in range(repeat):
                    db.conn.execute("BEGIN")
                    db.conn.executemany(PLAIN, _rows(exes, start))
                    db.conn.execute("COMMIT")
                    start += n
                    t0 = time.process_time()
                    store.index_fts(db.conn, chunk=chunk)
                    best = min(best, (time.process_time() - t0) / n * 1e6)
                db.conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('integrity-check')")
                db.close()
                for p in tmp.glob("f.db*"):
                    p.unlink()
                out[f"{kind}: index_fts, {chunk} rows a transaction"] = best
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def section_e2e(n: int, repeat: int) -> dict:
    """Recorder.submit -> committed; the writer thread builds and writes (CPU of both threads)."""
    out = {}
    for kind, stream in (("chat", False), ("stream", True)):
        best = best_idle = float("inf")
        for _ in range(repeat):
            tmp = Path(tempfile.mkdtemp(prefix="leash-record-bench-"))
            try:
                rec = store.Recorder(tmp / "e.db", StorageConfig(retention=None))
                if hasattr(rec, "FTS_IDLE"):
                    rec.FTS_IDLE = 3600.0  # index at close, timed apart
                rec.start()
                exes = [exchange(i, stream) for i in range(n)]
                t0 = time.process_time()
                for i, ex in enumerate(exes):
                    rec.submit(ex)
                    if i % 200 == 199:
                        time.sleep(0.001)  # arrive like traffic: the writer commits ~200-row batches
                rec.flush(600)
                t1 = time.process_time()
                rec.close(600)
                t2 = time.process_time()
                assert rec.rows_written == n, (rec.rows_written, rec.last_error)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            best = min(best, (t1 - t0) / n * 1e6)
            best_idle = min(best_idle, (t2 - t1) / n * 1e6)
        out[f"{kind}: submit -> committed"] = best
        out[f"{kind}: at close (deferred FTS indexing)"] = best_idle
    return out


def main() -> None:
    a = ARGS
    only = set(a.only or ["build", "insert", "fts", "e2e"])
    print(f"leash_cli from {Path(store.__file__).parent}; CPU µs per row, best of {a.repeat}")
    results: dict = {}
    if "build" in only:
        print("build_request_row:", flush=True)
        results["build"] = section_build(a.rows, a.repeat)
        for k, v in results["build"].items():
            print(f"    {k:<52} {v:7.1f}")
    if "insert" in only:
        for kind, stream in (("chat", False), ("stream", True)):
            print(f"insert ({kind} rows, {a.batch} a transaction, {a.prefill:,} rows already there):", flush=True)
            results[f"insert_{kind}"] = section_insert(a.rows, a.prefill, a.batch, a.repeat, stream)
    if "fts" in only:
        print("deferred full-text indexing (runs when the gateway is idle):", flush=True)
        results["fts"] = section_fts(a.rows, a.repeat)
        for k, v in results["fts"].items():
            print(f"    {k:<52} {v:7.1f}")
    if "e2e" in only:
        print("end to end through Recorder:", flush=True)
        results["e2e"] = section_e2e(a.rows, a.repeat)
        for k, v in results["e2e"].items():
            print(f"    {k:<52} {v:7.1f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "record_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
