"""Two gateways, one PostgreSQL: N requests in, exactly N records out, and what the store costs them.

    python bench/multihost_bench.py                      # ~1 minute, server at 127.0.0.1:5432
    python bench/multihost_bench.py --requests 40000 --concurrency 64
    python bench/multihost_bench.py --server postgresql://postgres@db:5432/postgres

Two ``leash up`` processes (the gateway a team runs on each host) share one PostgreSQL
database through ``storage.url``; each has its own history writer process.  A load
generator (raw asyncio HTTP/1.1 with keep-alive, no client library in the way) sends
exactly ``--requests`` chat completions, split evenly over the two gateways, to the
benchmark's fast fake upstream (bench/upstream.py).  Then:

``records``  every request has exactly one row: the ids the gateways answered with
             (``x-leash-request-id``) are compared with the ids in the database, and
             the time from the first request to the last row committed gives the records
             per second the store sustained end to end.
``latency``  the same load against the same two gateways started with ``--no-record``:
             client-side p50 / p99 with and without the store, so a store that slowed
             requests down would show here.

A database of its own (``leash_mh_<random>``) is created and dropped at the end.  Results
go to bench/results/multihost.json.  On one machine the gateways, their writers, the
upstream, the load generator and PostgreSQL share the cores: the records per second are a
floor for a deployment where they do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import free_port, stop, wait_http  # noqa: E402  (the gateway benchmark's helpers)

BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Summarise the plot of a short story about a fox, in two sentences."},
        ],
    }
).encode()


def _url(server: str, db: str) -> str:
    return f"{server.rpartition('/')[0]}/{db}"


class Gateway:
    def __init__(self, upstream_port: int, workdir: Path, name: str, store_url: str | None) -> None:
        self.port = free_port()
        cfg: dict = {
            "gateway": {"host": "127.0.0.1", "port": self.port},
            "providers": {"openai": {"kind": "openai", "endpoint": f"http://127.0.0.1:{upstream_port}/v1"}},
        }
        if store_url:
            cfg["storage"] = {"url": store_url}
        path = workdir / f"{name}.yaml"
        path.write_text(json.dumps(cfg))
        cmd = [sys.executable, "-m", "leash_cli", "up", "--config", str(path)]
        if not store_url:
            cmd.append("--no-record")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(f"http://127.0.0.1:{self.port}/health", timeout=60)

    def stop(self) -> None:
        stop(self.proc, 60)  # SIGTERM: the gateway drains its writer before it exits


async def _connection(port: int, n: int, ids: list[str], lat: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/openai/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer sk-bench-not-a-real-key\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode()
    try:
        for _ in range(n):
            t = time.perf_counter()
            writer.write(head + BODY)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"gateway answered {status!r}")
            length, rid = 0, None
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.lower()
                if name == "content-length":
                    length = int(value)
                elif name == "x-leash-request-id":
                    rid = value.strip()
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            if rid is None:
                raise RuntimeError("no x-leash-request-id in the answer")
            ids.append(rid)
    finally:
        writer.close()


async def _load(ports: list[int], total: int, concurrency: int) -> tuple[list[str], list[float], float]:
    ids: list[str] = []
    lat: list[float] = []
    per_conn, extra = divmod(total, concurrency)
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_connection(ports[i % len(ports)], per_conn + (1 if i < extra else 0), ids, lat) for i in range(concurrency))
    )
    return ids, lat, time.perf_counter() - t0


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p * len(s))) - 1))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--requests", type=int, default=20_000, help="requests in all, split over the two gateways")
    ap.add_argument("--concurrency", type=int, default=32, help="connections in all")
    args = ap.parse_args()
    import psycopg

    db = f"leash_mh_{secrets.token_hex(4)}"
    with psycopg.connect(args.server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")  # a name made here, not from input
    url = _url(args.server, db)
    up_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py"), "--port", str(up_port)], stdout=subprocess.DEVNULL
    )
    out: dict = {"requests": args.requests, "concurrency": args.concurrency}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            subprocess.run(
                [sys.executable, "-m", "leash_cli", "db", "migrate", "--url", url], check=True, capture_output=True
            )
            # -- the store: two gateways, one database --------------------------------------
            gws = [Gateway(up_port, work, f"pg{i}", url) for i in range(2)]
            try:
                asyncio.run(_load([g.port for g in gws], 200, 8))  # warm-up (its rows are counted out below)
                with psycopg.connect(url) as conn:
                    deadline = time.monotonic() + 60
                    while conn.execute("SELECT count(*) FROM requests").fetchone()[0] < 200:
                        if time.monotonic() > deadline:
                            raise RuntimeError("the warm-up's rows never arrived")
                        time.sleep(0.05)
                    warm = {r[0] for r in conn.execute("SELECT id FROM requests")}
                t0 = time.perf_counter()
                ids, lat, dt = asyncio.run(_load([g.port for g in gws], args.requests, args.concurrency))
                want = set(ids)
                with psycopg.connect(url) as conn:
                    deadline = time.monotonic() + 120
                    while True:
                        n = conn.execute("SELECT count(*) FROM requests").fetchone()[0] - len(warm)
                        if n >= len(want) or time.monotonic() > deadline:
                            break
                        time.sleep(0.02)
                    t_rows = time.perf_counter() - t0
                    got = [r[0] for r in conn.execute("SELECT id FROM requests") if r[0] not in warm]
            finally:
                for g in gws:
                    g.stop()
            exact = len(got) == len(ids) == len(want) and set(got) == want
            out["store"] = {
                "answered": len(ids),
                "rows": len(got),
                "exactly_once": exact,
                "requests_per_s": round(len(ids) / dt),
                "records_per_s": round(len(got) / t_rows),
                "p50_ms": round(_pct(lat, 0.5), 3),
                "p99_ms": round(_pct(lat, 0.99), 3),
            }
            print(
                f"PostgreSQL store, 2 gateways: {len(ids):,} answered, {len(got):,} rows "
                f"({'exactly once' if exact else 'MISMATCH'}); {len(ids) / dt:,.0f} req/s, "
                f"{len(got) / t_rows:,.0f} records/s committed end to end; "
                f"p50 {out['store']['p50_ms']:.2f} ms, p99 {out['store']['p99_ms']:.2f} ms",
                flush=True,
            )
            # -- the same load with no store: did the store slow anything down? --------------
            gws = [Gateway(up_port, work, f"none{i}", None) for i in range(2)]
            try:
                asyncio.run(_load([g.port for g in gws], 200, 8))
                ids, lat, dt = asyncio.run(_load([g.port for g in gws], args.requests, args.concurrency))
            finally:
                for g in gws:
                    g.stop()
            out["no_store"] = {
                "answered": len(ids),
                "requests_per_s": round(len(ids) / dt),
                "p50_ms": round(_pct(lat, 0.5), 3),
                "p99_ms": round(_pct(lat, 0.99), 3),
            }
            print(
                f"no store,         2 gateways: {len(ids) / dt:,.0f} req/s; "
                f"p50 {out['no_store']['p50_ms']:.2f} ms, p99 {out['no_store']['p99_ms']:.2f} ms",
                flush=True,
            )
    finally:
        upstream.terminate()
        upstream.wait(10)
        with psycopg.connect(args.server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "multihost.json").write_text(json.dumps(out, indent=2) + "\n")
    if not out["store"]["exactly_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
