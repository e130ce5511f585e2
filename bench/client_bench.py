"""CPU cost of the upstream HTTP client: leash's own vs aiohttp vs httpx.

Starts ``bench/upstream.py`` (a canned fake provider) in a subprocess, then for each
client sends N requests from 16 concurrent workers over keep-alive connections --
a ~300 B chat-completion POST, answered with ~700 B of JSON, or (``"stream": true``)
with a 20-event chunked SSE stream -- and reports:

* CPU µs/request: ``time.process_time()`` of this process only (the fake upstream
  runs in another process), so it is robust to other load on the machine;
* requests/s: wall clock, indicative only (it depends on what else is running).

Each figure is the best of ``--rounds`` runs (noise only ever adds).

    python bench/client_bench.py                 # uvloop (what the gateway runs on)
    python bench/client_bench.py --loop asyncio
    python bench/client_bench.py --loop both --n 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

CONCURRENCY = 16


def _request_body(stream: bool) -> bytes:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write one sentence about a quick brown fox and a lazy dog, please. " * 2},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


HEADERS = {
    "content-type": "application/json",
    "authorization": "Bearer sk-bench-0000000000000000000000000000000000000000",
    "user-agent": "OpenAI/Python 1.52.0",
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "x-stainless-lang": "python",
}


# -- the clients: each returns (setup, one_request, teardown) ---------------------------
async def _leash(url: str, stream: bool):
    from leash_cli.upstream import UpstreamClient

    client = UpstreamClient()
    body = _request_body(stream)

    if stream:

        async def one() -> int:
            r = await client.request("POST", url, HEADERS, body)
            n = 0
            async for piece in r:
                n += len(piece)
            r.release()
            return n
    else:

        async def one() -> int:
            r = await client.request("POST", url, HEADERS, body)
            data = await r.read()
            r.release()
            return len(data)

    return one, client.close


async def _aiohttp(url: str, stream: bool):
    import aiohttp

    # configured as the gateway's proxy.py configures it
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
    )
    body = _request_body(stream)
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=600)

    if stream:

        async def one() -> int:
            resp = await session.request(
                "POST", url, headers=HEADERS, data=body, allow_redirects=False, timeout=timeout, compress=None
            )
            n = 0
            async for piece in resp.content.iter_any():
                n += len(piece)
            resp.release()
            return n
    else:

        async def one() -> int:
            resp = await session.request(
                "POST", url, headers=HEADERS, data=body, allow_redirects=False, timeout=timeout, compress=None
            )
            data = await resp.read()
            resp.release()
            return len(data)

    return one, session.close


async def _httpx(url: str, stream: bool):
    import httpx

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        timeout=httpx.Timeout(600, connect=10),
        trust_env=False,
        follow_redirects=False,
    )
    body = _request_body(stream)

    if stream:

        async def one() -> int:
            n = 0
            async with client.stream("POST", url, headers=HEADERS, content=body) as resp:
                async for piece in resp.aiter_bytes():
                    n += len(piece)
            return n
    else:

        async def one() -> int:
            resp = await client.post(url, headers=HEADERS, content=body)
            return len(resp.content)

    return one, client.aclose


CLIENTS = {"leash": _leash, "aiohttp": _aiohttp, "httpx": _httpx}


async def _measure(make, url: str, stream: bool, n: int, expect: int) -> tuple[float, float]:
    one, close = await make(url, stream)
    try:
        got = await one()
        assert got == expect, f"unexpected body size {got} (want {expect})"

        async def worker(count: int) -> None:
            for _ in range(count):
                await one()

        async def batch(total: int) -> None:
            per, extra = divmod(total, CONCURRENCY)
            await asyncio.gather(*[worker(per + (i < extra)) for i in range(CONCURRENCY)])

        await batch(max(n // 10, CONCURRENCY * 4))  # warm-up: open the 16 connections, warm caches
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        await batch(n)
        c1, w1 = time.process_time(), time.perf_counter()
    finally:
        await close()
    return (c1 - c0) / n * 1e6, n / (w1 - w0)


def _run(loop_kind: str, coro):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="requests per measurement (httpx: a fifth of it)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loop", choices=["uvloop", "asyncio", "both"], default="uvloop")
    ap.add_argument("--clients", default="leash,aiohttp,httpx")
    args = ap.parse_args()

    sys.path.insert(0, str(HERE))
    import upstream as fake

    expect = {False: len(fake.COMPLETION), True: len(fake.STREAM)}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "upstream.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "bench upstream on" not in line:
            raise SystemExit(f"fake upstream did not start: {line!r}")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        loops = ["uvloop", "asyncio"] if args.loop == "both" else [args.loop]
        clients = [c.strip() for c in args.clients.split(",") if c.strip()]
        rows = []
        for loop_kind in loops:
            for name in clients:
                for stream in (False, True):
                    n = args.n // 5 if name == "httpx" else args.n
                    best_cpu, best_rps = float("inf"), 0.0
                    for _ in range(args.rounds):
                        cpu, rps = _run(loop_kind, _measure(CLIENTS[name], url, stream, n, expect[stream]))
                        best_cpu, best_rps = min(best_cpu, cpu), max(best_rps, rps)
                    rows.append((loop_kind, name, "SSE" if stream else "JSON", best_cpu, best_rps))
                    print(
                        f"  {loop_kind:8} {name:8} {rows[-1][2]:5} {best_cpu:8.1f} µs CPU/req {best_rps:9.0f} req/s",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        proc.terminate()
        proc.wait(5)

    print()
    print(
        f"Upstream client cost: {CONCURRENCY} concurrent workers, keep-alive, best of {args.rounds} "
        f"(n={args.n}; httpx n={args.n // 5}); Python {sys.version.split()[0]}"
    )
    print()
    print("| loop     | client   | body | CPU µs/req | req/s   | vs leash |")
    print("|----------|----------|------|-----------:|--------:|---------:|")
    base = {(r[0], r[2]): r[3] for r in rows if r[1] == "leash"}
    for loop_kind, name, mode, cpu, rps in rows:
        ref = base.get((loop_kind, mode))
        ratio = f"{cpu / ref:.1f}x" if ref else "-"
        print(f"| {loop_kind:8} | {name:8} | {mode:4} | {cpu:10.1f} | {rps:7.0f} | {ratio:>8} |")


if __name__ == "__main__":
    main()
