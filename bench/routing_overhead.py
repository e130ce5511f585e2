"""CPU per request of the local proxy's plain path, in one process, without a network.

    python bench/routing_overhead.py                 # this checkout
    python bench/routing_overhead.py --compare DIR   # and another checkout's src/ (e.g. a `git archive` of main),
                                                     # alternating rounds, each in a fresh interpreter

The gateway (no recording, no modules) is called through ASGI with an in-memory
transport that answers a canned chat completion at once, so what is measured is
leash's own work per request (admission, the pipeline's bookkeeping, choosing the
upstream, passing the answer on), as process CPU time.  This is how the cost of
the routing layer (deployments, retries, breakers; #20) on the happy path was
measured: one provider, one deployment, no retries, against the code before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello in one word."}]})
ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }
).encode()


class _Answer:
    status = 200
    headers = [("content-type", "application/json"), ("x-request-id", "req_1")]

    def header(self, name: str) -> str | None:
        return "application/json" if name == "content-type" else None

    async def read(self) -> bytes:
        return ANSWER

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Transport:
    async def request(self, method, url, headers, body, *, connect_timeout=10.0, read_timeout=600.0):
        return _Answer()

    async def close(self) -> None:
        pass


async def _run(n: int) -> float:
    from leash_cli.config import LoadedConfig, parse_config_text
    from leash_cli.proxy import Gateway

    cfg = parse_config_text(
        "providers:\n  openai: {kind: openai, endpoint: 'http://127.0.0.1:9/v1', "
        "api_key: sk-bench}\nmodules: {}\nstorage: {enabled: false}\n",
        "bench.yaml",
    )
    gw = Gateway(LoadedConfig(cfg, None, "flag"), transport_factory=_Transport)
    await gw.startup()
    body = BODY.encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/openai/chat/completions",
        "raw_path": b"/v1/openai/chat/completions",
        "query_string": b"",
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer sk-client"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg):
        pass

    for _ in range(500):  # warm up
        await gw.app(scope, receive, send)
    t0 = time.process_time()
    for _ in range(n):
        await gw.app(scope, receive, send)
    cpu = time.process_time() - t0
    await gw.shutdown()
    return cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare", help="another checkout: its src/ is measured alternately with this one")
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.once:
        print(f"{asyncio.run(_run(args.requests)):.3f}")
        return
    here = Path(__file__).resolve().parent.parent / "src"
    sides = {"this": str(here)}
    if args.compare:
        sides["other"] = str(Path(args.compare).resolve() / "src")
    got: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.rounds):
        for name, src in sides.items():
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                [sys.executable, __file__, "--once", "--requests", str(args.requests)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            got[name].append(float(out.strip().splitlines()[-1]))
    for name, vals in got.items():
        print(
            f"{name:6s} {sides[name]}: median {statistics.median(vals):.2f} µs CPU/request "
            f"(rounds: {', '.join(f'{v:.2f}' for v in vals)})"
        )
    if args.compare:
        a, b = statistics.median(got["this"]), statistics.median(got["other"])
        print(f"this / other: {a / b:.4f} ({(a / b - 1) * 100:+.2f} %)")


if __name__ == "__main__":
    main()
