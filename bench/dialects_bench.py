"""Micro-benchmark for the provider dialects: what every exchange pays to read its wire format.

    python bench/dialects_bench.py [--rounds N]

For a ~4 KB chat request of each shape (OpenAI chat with a tool call and its result, the
Responses API, Anthropic Messages with tool_use / tool_result, Gemini with a function call and
response) it prints the best-of-N time of ``request_texts`` (what every scanner reads, once an
exchange), of reading a buffered answer's usage and text, and of one streamed delta's texts.
Best of many short samples, so a busy machine disturbs it little.  Pure stdlib + leash.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from collections.abc import Callable
from typing import Any

try:
    import leash_cli.dialects  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import orjson

from leash_cli.dialects import for_api
from leash_cli.exchange import Exchange
from leash_cli.usage import UsageTracker

PARA = ("The quarterly report shows revenue grew in every region; please summarise the main drivers, "
        "list the risks and propose three follow-ups for the team. ")
TURN = PARA * 2
ANSWER = "The drivers were pricing and volume; the risks are FX and supply. " * 4


def openai_chat() -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful analyst."}]
    msgs += [{"role": "user" if i % 2 == 0 else "assistant", "content": TURN} for i in range(12)]
    msgs.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "revenue by region"}'}}]})
    msgs.append({"role": "tool", "tool_call_id": "c1", "content": "EMEA 12%, APAC 9%"})
    return {"model": "gpt-4o-mini", "messages": msgs}


def openai_responses() -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"role": "user" if i % 2 == 0 else "assistant",
                                    "content": [{"type": "input_text", "text": TURN}]} for i in range(12)]
    items.append({"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q": "x"}'})
    items.append({"type": "function_call_output", "call_id": "c1", "output": "EMEA 12%"})
    return {"model": "gpt-4o", "instructions": "You are a careful analyst.", "input": items}


def anthropic_messages() -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [{"role": "user" if i % 2 == 0 else "assistant", "content": TURN} for i in range(12)]
    msgs.append({"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "revenue by region"}}]})
    msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "EMEA 12%"}]})
    return {"model": "claude-3-5-haiku-latest", "max_tokens": 256, "system": "You are a careful analyst.",
            "messages": msgs}


def gemini() -> dict[str, Any]:
    cs: list[dict[str, Any]] = [{"role": "user" if i % 2 == 0 else "model", "parts": [{"text": TURN}]}
                                for i in range(12)]
    cs.append({"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "revenue"}}}]})
    cs.append({"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"r": "EMEA 12%"}}}]})
    return {"systemInstruction": {"parts": [{"text": "You are a careful analyst."}]}, "contents": cs}


RESPONSES: dict[str, dict[str, Any]] = {
    "openai": {"id": "c", "object": "chat.completion", "model": "gpt-4o-mini",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1000, "completion_tokens": 60, "total_tokens": 1060}},
    "anthropic": {"id": "m", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
                  "content": [{"type": "text", "text": ANSWER}], "usage": {"input_tokens": 1000, "output_tokens": 60}},
    "google": {"candidates": [{"content": {"role": "model", "parts": [{"text": ANSWER}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 60},
               "modelVersion": "gemini-2.0-flash"},
}
DELTAS: dict[str, dict[str, Any]] = {
    "openai": {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
               "choices": [{"index": 0, "delta": {"content": "pricing "}, "finish_reason": None}]},
    "anthropic": {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "pricing "}},
    "google": {"candidates": [{"content": {"role": "model", "parts": [{"text": "pricing "}]}}]},
}
CASES: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
    ("openai chat", "openai", openai_chat),
    ("openai responses", "openai", openai_responses),
    ("anthropic messages", "anthropic", anthropic_messages),
    ("gemini", "google", gemini),
]


def best_us(fn: Callable[[], object], rounds: int, number: int = 200) -> float:
    return min(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


def measure(label: str, api: str, make: Callable[[], dict[str, Any]], rounds: int) -> str:
    body = make()
    dialect = for_api(api)
    answer = orjson.dumps(RESPONSES[api])
    parsed = orjson.loads(answer)
    delta = DELTAS[api]

    def read_answer() -> None:
        ex = Exchange(id="b", provider=api, kind=api, api=api, method="POST", path="p")
        UsageTracker(ex).on_json(answer, parsed)

    t_req = best_us(lambda: dialect.request_texts(body), rounds)
    t_ans = best_us(read_answer, rounds)
    t_delta = best_us(lambda: dialect.stream_texts(delta), rounds)
    return (f"{label:20} {len(orjson.dumps(body)):6} {len(dialect.request_texts(body)):5} {t_req:11.2f} us "
            f"{t_ans:15.2f} us {t_delta:9.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=200, help="samples of 200 calls each; the best is reported")
    args = ap.parse_args()
    print(f"{'request shape':20} {'bytes':>6} {'texts':>5} {'request_texts':>14} {'answer usage+text':>18} "
          f"{'delta texts':>12}")
    for label, api, make in CASES:
        print(measure(label, api, make, args.rounds))


if __name__ == "__main__":
    main()
