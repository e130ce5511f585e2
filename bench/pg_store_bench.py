"""PostgreSQL store benchmark: how many history records a second go into PostgreSQL.

    python bench/pg_store_bench.py                          # ~1 minute, server at 127.0.0.1:5432
    python bench/pg_store_bench.py --rows 50000 --batch 200 --batch 2000
    python bench/pg_store_bench.py --server postgresql://postgres@db:5432/postgres

A database of its own (``leash_bench_<random>``) is created on the server and
dropped at the end.  The exchanges are bench/record_bench.py's (the gateway
benchmark's: a ~280 B chat request, a ~700 B completion, priced), about 2 KB a row.

Sections (wall time: what the database sustains, on whatever else the machine is doing):

``writer``    ``PostgresWriter.write_batch`` with rows already built, one
              transaction per batch (COPY into the staging table, the upsert
              under the write lock), for each ``--batch`` size.
``recorder``  end to end through the gateway's recorder (``storage.writer:
              process``): ``submit`` of every exchange until all are
              committed (``flush``); building rows is in the writer process.
``two``       two recorders (two writer processes) into one database at
              once; then every id is checked: exactly ``2 * rows`` rows.
``index``     full-text indexing of the rows written (``index_search``), off
              the insert path.
``chain``     what the audit chain costs a row: the ``writer`` section at batch
              200 with the chain entries written and with them left out
              (alternating runs, best of three each).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument(
    "--server",
    default="postgresql://postgres@127.0.0.1:5432/postgres",
    help="a URL of the server (its database is only used to create and drop the benchmark's)",
)
ap.add_argument("--rows", type=int, default=20_000, help="records per timed run")
ap.add_argument(
    "--batch", type=int, action="append", help="rows per transaction in the writer section (default 200, 500, 2000)"
)
ap.add_argument("--only", choices=["writer", "recorder", "two", "index", "chain"], action="append")
ARGS = ap.parse_args()
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(1, str(HERE))

import psycopg  # noqa: E402

from leash_cli.config import StorageConfig  # noqa: E402
from leash_cli.store import make_recorder, open_store  # noqa: E402
from leash_cli.store.postgres import PostgresStore  # noqa: E402
from leash_cli.store.rows import build_request_row  # noqa: E402
from record_bench import exchange  # noqa: E402  (the gateway benchmark's exchanges)


def _url(server: str, db: str) -> str:
    return f"{server.rpartition('/')[0]}/{db}"


def _ids(n: int, start: int) -> list:
    exes = []
    for i in range(n):
        ex = exchange(start + i)
        ex.id = f"bench-{start + i:010d}"
        exes.append(ex)
    return exes


def section_writer(url: str, n: int, batches: list[int]) -> dict:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    st = StorageConfig()
    out = {}
    start = 0
    for batch in batches:
        rows = [build_request_row(ex, st) for ex in _ids(n, start)]
        start += n
        w = store.open_writer()
        try:
            t0 = time.perf_counter()
            for k in range(0, n, batch):
                w.write_batch(rows[k : k + batch], [], [])
            dt = time.perf_counter() - t0
        finally:
            w.close()
        out[f"batch {batch}"] = {"records_per_s": round(n / dt), "ms_per_batch": round(dt * 1000 / -(-n // batch), 2)}
        print(
            f"writer  batch {batch:5d}: {n / dt:9,.0f} records/s  ({dt * 1000 / -(-n // batch):.1f} ms a batch)",
            flush=True,
        )
    return out


def section_chain(url: str, n: int, batch: int = 200) -> dict:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    st = StorageConfig()
    best = {True: float("inf"), False: float("inf")}
    start = 50_000_000
    for _ in range(3):
        for chained in (True, False):
            rows = [build_request_row(ex, st) for ex in _ids(n, start)]
            start += n
            w = store.open_writer()
            if not chained:
                w.chain.append = lambda cur, r, v, a, c=w.chain: (c.heads, c.next_seq)  # type: ignore[method-assign]
            try:
                t0 = time.perf_counter()
                for k in range(0, n, batch):
                    w.write_batch(rows[k : k + batch], [], [])
                best[chained] = min(best[chained], time.perf_counter() - t0)
            finally:
                w.close()
    per_row = (best[True] - best[False]) * 1e6 / n
    print(
        f"chain   batch {batch}: {n / best[True]:9,.0f} records/s chained, {n / best[False]:9,.0f} without: "
        f"{per_row:.1f} us a row ({(best[True] / best[False] - 1) * 100:.0f} %)",
        flush=True,
    )
    return {
        "chained_records_per_s": round(n / best[True]),
        "unchained_records_per_s": round(n / best[False]),
        "us_per_row": round(per_row, 1),
    }


def _record(url: str, exes: list) -> float:
    """Seconds from the first ``submit`` until every record is committed (full-text indexing, which the
    recorder does when idle or a little between write rounds, is measured in the ``index`` section)."""
    rec = make_recorder(url, StorageConfig(writer="process", retention=None))
    rec.start()
    t0 = time.perf_counter()
    for ex in exes:
        rec.submit(ex)
    assert rec.flush(300)
    dt = time.perf_counter() - t0
    rec.close(1)
    assert rec.state == "ok" and rec.dropped == 0 and rec.write_errors == 0, (rec.state, rec.last_error)
    return dt


def section_recorder(url: str, n: int) -> dict:
    exes = _ids(n, 10_000_000)
    dt = _record(url, exes)
    print(f"recorder (one writer process): {n / dt:9,.0f} records/s", flush=True)
    return {"records_per_s": round(n / dt)}


def section_two(url: str, n: int) -> dict:
    groups = [_ids(n, 20_000_000), _ids(n, 30_000_000)]
    times: list[float] = [0.0, 0.0]

    def run(k: int) -> None:
        times[k] = _record(url, groups[k])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM requests WHERE id >= 'bench-0020000000' AND id < 'bench-0040000000'"
            ).fetchall()
        ]
    expected = {ex.id for g in groups for ex in g}
    assert len(ids) == len(expected) and set(ids) == expected, (len(ids), len(expected))
    print(f"two recorders at once: {2 * n / dt:9,.0f} records/s together; {len(ids)} rows, as sent", flush=True)
    return {"records_per_s": round(2 * n / dt), "rows": len(ids), "expected": len(expected)}


def section_index(url: str, n: int) -> dict:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    w = store.open_writer()
    try:
        with psycopg.connect(url, autocommit=True) as conn:  # the last n rows written, to be indexed again
            conn.execute(
                "UPDATE requests SET search_vector = NULL WHERE rowid > (SELECT max(rowid) FROM requests) - %s", [n]
            )
        backlog = w.search_backlog()
        t0 = time.perf_counter()
        done = w.index_search(chunk=5000)
        dt = time.perf_counter() - t0
    finally:
        w.close()
    print(
        f"index: {done} rows in {dt:.1f} s = {done / dt if dt else 0:9,.0f} rows/s (backlog was {backlog})", flush=True
    )
    return {"rows": done, "rows_per_s": round(done / dt) if dt else None}


def main() -> None:
    only = ARGS.only or ["writer", "recorder", "two", "index", "chain"]
    name = f"leash_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(ARGS.server, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = _url(ARGS.server, name)
    results: dict = {"rows": ARGS.rows, "server": admin.info.parameter_status("server_version")}
    try:
        open_store(url).migrate()
        if "writer" in only:
            results["writer"] = section_writer(url, ARGS.rows, ARGS.batch or [200, 500, 2000])
        if "recorder" in only:
            results["recorder"] = section_recorder(url, ARGS.rows)
        if "two" in only:
            results["two"] = section_two(url, ARGS.rows)
        if "index" in only:
            results["index"] = section_index(url, ARGS.rows)
        if "chain" in only:
            results["chain"] = section_chain(url, ARGS.rows)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
