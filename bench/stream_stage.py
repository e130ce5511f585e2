"""The per-event cost of the response stream stage (ResponseFlow.event + tail) with the default
modules, in process: a 200-event OpenAI chat stream of ~5-character deltas, and one with a
redacting PII scanner.  No network, no store.

    python bench/stream_stage.py [--events 200] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import orjson
import yaml

from leash_cli.config import LoadedConfig, parse_config_text
from leash_cli.exchange import Exchange
from leash_cli.registry import make_pipeline

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "streams",
    "keep",
    "flowing",
    "and",
    "tokens",
    "arrive",
]


def _events(n: int) -> list[bytes]:
    out = [
        b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
        b'"content":""},"finish_reason":null}]}\n\n'
    ]
    for i in range(n):
        obj = {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": " " + WORDS[i % len(WORDS)]}, "finish_reason": None}],
        }
        out.append(b"data: " + orjson.dumps(obj) + b"\n\n")
    out.append(
        b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},'
        b'"finish_reason":"stop"}]}\n\n'
    )
    out.append(b"data: [DONE]\n\n")
    return out


def _pipeline(modules: dict) -> object:
    text = yaml.safe_dump(
        {"providers": {"openai": {"kind": "openai", "endpoint": "http://127.0.0.1:9/v1"}}, "modules": modules}
    )
    return make_pipeline(LoadedConfig(parse_config_text(text, "bench.yaml"), Path("bench.yaml"), "flag"))


async def _one(pipe: object, events: list[bytes]) -> tuple[float, int]:
    ex = Exchange(
        id="b",
        provider="openai",
        kind="openai",
        api="openai",
        method="POST",
        path="chat/completions",
        request_body=b'{"model":"m","stream":true,"messages":[]}',
    )
    ex.stream = True
    await pipe.request(ex)  # type: ignore[attr-defined]
    flow = pipe.response(ex)  # type: ignore[attr-defined]
    n = 0
    t = time.perf_counter()
    for raw in events:
        n += len(await flow.event(raw))
    n += len(await flow.tail())
    return time.perf_counter() - t, n


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    default = yaml.safe_load((Path(__file__).parents[1] / "configs/default.yaml").read_text())["modules"]
    cases = {
        "no modules": {},
        "default modules": default,
        "pii redact + secrets block": {"pii-detector": {"action": "redact"}, "secrets-detector": {"action": "block"}},
    }
    events = _events(args.events)
    for name, modules in cases.items():
        pipe = _pipeline(modules)
        for _ in range(10):
            await _one(pipe, events)
        runs = [(await _one(pipe, events))[0] for _ in range(args.repeat)]
        per = statistics.median(runs) / len(events) * 1e6
        best = min(runs) / len(events) * 1e6
        print(
            f"{name:30s} median {statistics.median(runs) * 1e3:7.3f} ms / stream  {per:6.2f} µs / event"
            f"  (best {best:6.2f} µs / event)"
        )


if __name__ == "__main__":
    asyncio.run(main())
