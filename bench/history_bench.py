"""History benchmark: fill a database with synthetic exchanges, time the reader queries.

    python bench/history_bench.py [--rows 1000000] [--days 30] [--recorder-rows 50000] [--keep PATH]

Rows go in through the real schema (migrations, indexes) with the recorder's
own INSERT statement in large transactions, spread evenly over ``--days``
days up to now, then are full-text indexed in bulk as the recorder does when
idle (``store.index_fts``).  ``--recorder-rows`` more exchanges are then pushed
through ``Recorder.submit`` to measure the writer's end-to-end throughput.
The queries timed are the ones ``leash logs -n 50``, ``leash logs -q ...``
and ``leash stats --since 24h`` run, then the searches again with
``--tail`` rows not indexed yet (a saturated gateway keeps up to about
``Recorder.FTS_MAX_LAG`` of them).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from leash_cli import history as hist
from leash_cli.config import StorageConfig
from leash_cli.exchange import Exchange, Usage, Violation
from leash_cli.store import (
    _INSERT_REQUEST,
    Recorder,
    index_fts,
    iso_utc,
    open_readonly,
    open_writable,
    set_fts_deferred,
)

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "llama",
    "alpaca",
    "camel",
    "python",
    "rust",
    "sqlite",
    "index",
    "query",
    "cost",
    "token",
    "stream",
    "prompt",
    "answer",
    "model",
    "gateway",
    "policy",
    "secret",
    "summary",
    "translate",
    "explain",
    "code",
    "review",
    "bug",
    "fix",
    "test",
    "invoice",
    "customer",
    "order",
    "report",
    "weather",
    "travel",
    "recipe",
    "music",
    "history",
    "science",
    "math",
    "physics",
    "chemistry",
]
PROVIDERS = [
    ("openai", "openai", "gpt-4o"),
    ("openai", "openai", "gpt-4o-mini"),
    ("anthropic", "anthropic", "claude-sonnet-4-0"),
    ("google", "google", "gemini-2.5-flash"),
    ("groq", "openai", "llama-3.3-70b"),
]
TENANTS = ["default", "team-a", "team-b", "team-c"]
RARE = "zanzibarquux"  # in 1 row out of 1000


def synthetic_row(i: int, ts: float, rnd: random.Random) -> tuple:
    prov, kind, model = PROVIDERS[i % len(PROVIDERS)]
    words = rnd.choices(WORDS, k=40)
    if i % 1000 == 0:
        words[7] = RARE
    prompt = " ".join(words[:25])
    answer = " ".join(words[25:])
    latency = rnd.lognormvariate(6.0, 0.6)  # ~400 ms median
    overhead = rnd.uniform(0.3, 3.0)
    status = 200 if i % 50 else (429 if i % 100 else 500)
    outcome = "ok" if status == 200 else "upstream_error"
    if i % 333 == 0:
        status, outcome = 403, "blocked"
    tin, tout = rnd.randint(50, 4000), rnd.randint(10, 1000)
    cost = None if prov == "groq" else (tin * 2.5 + tout * 10) / 1e6
    req = orjson.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).decode()
    resp = orjson.dumps({"choices": [{"message": {"content": answer}}], "usage": {"prompt_tokens": tin}}).decode()
    return (
        f"req-{i:08d}",
        iso_utc(ts),
        iso_utc(ts + latency / 1000),
        TENANTS[i % len(TENANTS)],
        None,
        prov,
        kind,
        model,
        "POST",
        "chat/completions",
        None,
        status,
        i % 2,
        outcome,
        "blocked" if outcome == "blocked" else "allowed",
        latency,
        latency - overhead,
        overhead,
        latency / 3 if i % 2 else None,
        tin,
        tout,
        tin // 4,
        None,
        None,
        cost,
        "127.0.0.1",
        None,
        None,
        '{"pii": 0.2}',
        '{"content-type": "application/json"}',
        '{"content-type": "application/json"}',
        0,
        0,
        req,
        resp,
        answer,
        prompt,
        None,
    )


def fill(path: Path, rows: int, days: float, first: int = 0, index: bool = True) -> float:
    db = open_writable(path)
    conn = db.conn
    set_fts_deferred(conn, True)  # as while the recorder runs: rows wait for bulk indexing
    rnd = random.Random(42 + first)
    now = time.time()
    span = days * 86400
    t0 = time.perf_counter()
    batch = 20_000
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        data = [synthetic_row(first + i, now - span + span * (i + 0.5) / rows, rnd) for i in range(start, start + n)]
        conn.execute("BEGIN")
        conn.executemany(_INSERT_REQUEST, data)
        conn.execute("COMMIT")
        if (start // batch) % 10 == 0:
            print(f"  {start + n:>9,} rows  {time.perf_counter() - t0:6.1f}s", flush=True)
    if index:
        t1 = time.perf_counter()
        c1 = time.process_time()
        index_fts(conn)
        print(
            f"  full-text indexing (store.index_fts): {time.perf_counter() - t1:.1f}s, "
            f"{(time.process_time() - c1) / rows * 1e6:.1f} µs CPU a row",
            flush=True,
        )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ANALYZE")
    set_fts_deferred(conn, False)
    db.close()
    return time.perf_counter() - t0


def recorder_throughput(path: Path, n: int) -> tuple[float, float]:
    rec = Recorder(path, StorageConfig(retention=None))
    rec.start()
    body = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": " ".join(WORDS[:25])}]})
    exes = []
    for i in range(n):
        ex = Exchange(
            id=f"rec-{i:08d}",
            provider="openai",
            kind="openai",
            api="openai",
            method="POST",
            path="chat/completions",
            request_body=body,
            model="gpt-4o",
            request_headers={"content-type": "application/json", "authorization": "Bearer sk-x"},
        )
        ex.status, ex.usage = 200, Usage(100, 50, 10)
        ex.response_body, ex.response_text = b'{"choices": []}', " ".join(WORDS[25:40])
        ex.t_upstream_start, ex.t_upstream_end, ex.t_end = ex.t_start, ex.t_start + 0.3, ex.t_start + 0.301
        if i % 100 == 0:
            ex.violations = [Violation("pii", "email", "log")]
        exes.append(ex)
    t0 = time.perf_counter()
    for ex in exes:
        rec.submit(ex)
    submit_s = time.perf_counter() - t0
    rec.close(timeout=600)
    total = time.perf_counter() - t0
    assert rec.rows_written == n, (rec.rows_written, rec.last_error)
    return submit_s, total


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    """(first run, median of the next runs) in milliseconds."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=float, default=30.0, help="spread the rows over this many days (default 30)")
    ap.add_argument("--recorder-rows", type=int, default=50_000, help="exchanges pushed through Recorder.submit")
    ap.add_argument("--keep", type=Path, help="build the database here and keep it")
    ap.add_argument("--tail", type=int, default=50_000, help="unindexed rows for the second round of searches")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="leash-bench-")
    path = args.keep or Path(tmp.name) / "leash.db"
    if path.exists():
        sys.exit(f"{path} exists; remove it first")
    print(f"filling {path} with {args.rows:,} rows over {args.days:g} days")
    fill_s = fill(path, args.rows, args.days)
    print(f"fill: {fill_s:.1f}s ({args.rows / fill_s:,.0f} rows/s incl. full-text indexing)")
    if args.recorder_rows:
        submit_s, total_s = recorder_throughput(path, args.recorder_rows)
        print(
            f"recorder: {args.recorder_rows:,} exchanges, submit() {submit_s * 1e6 / args.recorder_rows:.2f} µs each, "
            f"written in {total_s:.1f}s ({args.recorder_rows / total_s:,.0f} rows/s)"
        )
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    print(f"database size: {size / 1e6:,.0f} MB")

    rec = Recorder(path, StorageConfig(retention=f"{args.days - 1:g}d"))
    rec.start()
    t0 = time.perf_counter()
    rec.prune()
    prune_s = time.perf_counter() - t0
    rec.close()
    print(
        f"retention pass ({args.days - 1:g}d): pruned {rec.pruned:,} rows in {prune_s * 1000:.0f} ms "
        f"(at most {rec.PRUNE_CHUNK * rec.PRUNE_MAX_CHUNKS:,} a pass)"
    )

    db = open_readonly(path)
    since24 = hist.parse_since("24h")
    in24 = db.execute("SELECT count(*) FROM requests WHERE started_at >= ?", [since24]).fetchone()[0]
    total = db.execute("SELECT count(*) FROM requests").fetchone()[0]
    print(f"\nqueries over {total:,} rows ({in24:,} in the last 24h); first run / median of 5, ms")
    cases = [
        ("logs -n 50", lambda: hist.list_requests(db, 50)),
        ("logs -n 50 --provider anthropic", lambda: hist.list_requests(db, 50, provider="anthropic")),
        ("logs -n 50 --status 5xx", lambda: hist.list_requests(db, 50, status="5xx")),
        ("logs -n 50 --outcome blocked (1 in 333)", lambda: hist.list_requests(db, 50, outcome="blocked")),
        ("logs -n 50 --status 404 (no row)", lambda: hist.list_requests(db, 50, status=404)),
        ("logs -n 50 --provider nosuch (no row)", lambda: hist.list_requests(db, 50, provider="nosuch")),
        ("logs -n 50 --model nosuch (no row)", lambda: hist.list_requests(db, 50, model="nosuch")),
        (f"logs -q {RARE} (1 in 1000 rows)", lambda: hist.list_requests(db, 50, query=RARE)),
        ("logs -q 'llama sqlite' (common words)", lambda: hist.list_requests(db, 50, query="llama sqlite")),
        ("logs show ID", lambda: hist.get_request(db, "req-00012345")),
        ("stats --since 24h", lambda: hist.stats(db, since24)),
        ("stats --since 24h --by model", lambda: hist.stats(db, since24, "model")),
        ("stats --since 7d", lambda: hist.stats(db, hist.parse_since("7d"))),
        (f"stats --since {args.days:g}d (every row)", lambda: hist.stats(db, hist.parse_since(f"{args.days:g}d"))),
    ]
    for name, fn in cases:
        first, median = timed(fn)
        print(f"  {name:<42} {first:9.1f} {median:9.1f}")
    db.close()

    if args.tail:
        fill(path, args.tail, 1.0 / 24, first=args.rows + args.recorder_rows, index=False)
        db = open_readonly(path)
        print(f"\nsearches with {args.tail:,} rows not indexed yet (the last hour); first run / median of 5, ms")
        cases = [
            (f"logs -q {RARE} (1 in 1000 rows)", lambda: hist.list_requests(db, 50, query=RARE)),
            ("logs -q 'llama sqlite' (common words)", lambda: hist.list_requests(db, 50, query="llama sqlite")),
            ("logs -q 'nosuchword'", lambda: hist.list_requests(db, 50, query="nosuchword")),
            ("logs -n 50", lambda: hist.list_requests(db, 50)),
        ]
        for name, fn in cases:
            first, median = timed(fn)
            print(f"  {name:<42} {first:9.1f} {median:9.1f}")
        db.close()
    if args.keep is None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
