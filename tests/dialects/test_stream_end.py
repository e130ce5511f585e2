"""``Dialect.stream_end``: the event that ends a complete answer, per wire format.  A client that
leaves after it (an SDK closes on ``[DONE]``) left with the whole answer, and is recorded so."""

from __future__ import annotations

import base64

import orjson
import pytest

from leash_cli.dialects import ANTHROPIC, AZURE, BEDROCK, GOOGLE, OPENAI, VERTEX
from leash_cli.dialects import eventstream as es


def _sse(obj: object, name: str | None = None) -> bytes:
    head = b"event: " + name.encode() + b"\n" if name else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def _frame(kind: str, payload: dict) -> bytes:
    return es.encode(
        {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, orjson.dumps(payload)
    )


def _chunk(obj: dict) -> bytes:
    return _frame("chunk", {"bytes": base64.b64encode(orjson.dumps(obj)).decode()})


CHAT_DELTA = _sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]})
CHAT_FINISH = _sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})


@pytest.mark.parametrize(
    ("dialect", "raw", "ends"),
    [
        (OPENAI, b"data: [DONE]\n\n", True),
        (OPENAI, b"data: [DONE]", True),  # the last event, flushed without its blank line
        (OPENAI, CHAT_DELTA, False),
        (OPENAI, CHAT_FINISH, False),  # a usage chunk may still follow
        (OPENAI, _sse({"type": "response.completed", "response": {}}, "response.completed"), True),
        (OPENAI, _sse({"type": "response.incomplete", "response": {}}, "response.incomplete"), True),
        (OPENAI, _sse({"type": "response.output_text.done", "text": "x"}, "response.output_text.done"), False),
        (OPENAI, b": keep-alive\n\n", False),
        (AZURE, b"data: [DONE]\n\n", True),
        (ANTHROPIC, _sse({"type": "message_stop"}, "message_stop"), True),
        (ANTHROPIC, _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, "message_delta"), False),
        (ANTHROPIC, _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"), False),
        (GOOGLE, _sse({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "index": 0}]}), False),
        (GOOGLE, _sse({"candidates": [{"content": {"parts": [{"text": "."}]}, "finishReason": "STOP"}]}), True),
        (VERTEX, _sse({"candidates": [{"finishReason": "MAX_TOKENS"}], "usageMetadata": {}}), True),
        (BEDROCK, _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}), False),
        (BEDROCK, _frame("messageStop", {"stopReason": "end_turn"}), False),  # metadata follows
        (BEDROCK, _frame("metadata", {"usage": {"inputTokens": 1, "outputTokens": 2}}), True),
        (BEDROCK, _chunk({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}), False),
        (BEDROCK, _chunk({"type": "message_stop"}), True),
        (BEDROCK, b"\x00\x00\x00\x10garbage-frame...", False),
    ],
)
def test_the_last_event_of_a_complete_answer_is_known(dialect, raw, ends):
    assert dialect.stream_end(raw) is ends
