"""Usage and completion text from every provider's wire format, buffered and streamed."""

from __future__ import annotations

import orjson
import pytest

from leash_cli.exchange import Usage
from leash_cli.usage import UsageTracker, prepare_request, prompt_text

from .samples import (
    ANTHROPIC_JSON,
    ANTHROPIC_SSE,
    GEMINI_JSON,
    GEMINI_JSON_ARRAY,
    GEMINI_SSE,
    OPENAI_CHAT_JSON,
    OPENAI_CHAT_SSE,
    OPENAI_CHAT_SSE_NO_USAGE,
    OPENAI_EMBEDDINGS_JSON,
    OPENAI_RESPONSES_JSON,
    OPENAI_RESPONSES_SSE,
    exchange,
    split_sse,
)


def run_stream(ex, stream: bytes, keep_events: bool = False) -> list[bytes]:
    """Feed a stream through a tracker; returns the raw events the client receives."""
    t = UsageTracker(ex, keep_events=keep_events)
    passed = [raw for event, data, raw in split_sse(stream) if t.on_event(event, data, raw)]
    t.finish()
    return passed


def usage(**kw) -> Usage:
    return Usage(**kw)


# -- OpenAI Chat Completions ---------------------------------------------------------------


def test_openai_chat_json():
    ex = exchange()
    t = UsageTracker(ex)
    t.on_json(OPENAI_CHAT_JSON)
    t.finish()
    assert ex.usage == usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200, reasoning_tokens=100)
    assert ex.response_text == "Hello! How can I assist you today?"
    assert ex.model == "o3-mini-2025-01-31"  # filled because the request named none


def test_model_from_request_is_kept():
    ex = exchange(model="o3-mini")
    UsageTracker(ex).on_json(OPENAI_CHAT_JSON)
    assert ex.model == "o3-mini"


def test_prepare_request_adds_include_usage_and_hides_the_usage_chunk():
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ex = exchange(stream=True, body=orjson.dumps(body))
    prepare_request(ex)
    assert ex.annotations["leash_include_usage"] is True
    sent = orjson.loads(ex.request_body)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == body["messages"]

    passed = run_stream(ex, OPENAI_CHAT_SSE, keep_events=True)
    # the client gets its 4 content chunks and [DONE], not the usage chunk it did not ask for
    assert len(passed) == 5
    assert all(b'"choices":[]' not in raw for raw in passed)
    assert passed[-1] == b"data: [DONE]\n\n"
    assert ex.usage == usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200, reasoning_tokens=0)
    assert ex.response_text == "Hello!"
    assert ex.model == "gpt-4o-2024-08-06"  # the request named none here: taken from the response
    # every event, hidden ones included, is kept for the history when asked
    assert len(ex.stream_events) == 6


def test_client_asked_for_usage_itself_sees_the_usage_chunk():
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True}, "messages": []}
    ex = exchange(stream=True, body=orjson.dumps(body))
    raw_before = ex.request_body
    prepare_request(ex)
    assert ex.request_body == raw_before
    assert "leash_include_usage" not in ex.annotations
    passed = run_stream(ex, OPENAI_CHAT_SSE)
    assert len(passed) == 6
    assert ex.usage.input_tokens == 1000
    assert ex.stream_events is None  # keep_events off


def test_prepare_request_keeps_other_stream_options():
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": False, "x": 1}}
    ex = exchange(stream=True, body=orjson.dumps(body))
    prepare_request(ex)
    assert orjson.loads(ex.request_body)["stream_options"] == {"include_usage": True, "x": 1}


@pytest.mark.parametrize(
    "kw",
    [
        dict(api="openai", path="chat/completions", stream=False),
        dict(api="openai", path="responses", stream=True),
        dict(api="anthropic", path="v1/messages", stream=True),
    ],
)
def test_prepare_request_leaves_other_calls_alone(kw):
    body = orjson.dumps({"model": "m", "stream": True})
    ex = exchange(body=body, **kw)
    prepare_request(ex)
    assert ex.request_body == body and not ex.annotations


def test_openai_stream_without_usage_has_no_usage():
    ex = exchange(stream=True)
    run_stream(ex, OPENAI_CHAT_SSE_NO_USAGE + b"data: [DONE]\n\n")
    assert not ex.usage.known
    assert ex.response_text == "Hello!"


def test_first_token_time_is_set_on_first_text():
    ex = exchange(stream=True)
    run_stream(ex, OPENAI_CHAT_SSE)
    assert ex.t_first_token is not None and ex.ttft_seconds >= 0


# -- Responses API, embeddings ----------------------------------------------------------------


def test_responses_json():
    ex = exchange(path="responses")
    UsageTracker(ex).on_json(OPENAI_RESPONSES_JSON)
    assert ex.usage == usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200, reasoning_tokens=300)
    assert ex.response_text == "In a peaceful grove."
    assert ex.model == "o4-mini-2025-04-16"


def test_responses_sse():
    ex = exchange(path="responses", stream=True)
    passed = run_stream(ex, OPENAI_RESPONSES_SSE)
    assert len(passed) == 6  # nothing hidden
    assert ex.usage == usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200, reasoning_tokens=300)
    assert ex.response_text == "In a peaceful grove."
    assert ex.model == "o4-mini-2025-04-16"


def test_embeddings_json():
    ex = exchange(path="embeddings")
    UsageTracker(ex).on_json(OPENAI_EMBEDDINGS_JSON)
    assert ex.usage == usage(input_tokens=8)
    assert ex.usage.known
    assert ex.response_text is None


# -- Anthropic ------------------------------------------------------------------------------


def test_anthropic_json_normalises_cache_into_input():
    ex = exchange(api="anthropic", path="v1/messages")
    UsageTracker(ex).on_json(ANTHROPIC_JSON)
    # input = 500 uncached + 200 cache reads + 300 cache writes
    assert ex.usage == usage(input_tokens=1000, output_tokens=400, cached_input_tokens=200, cache_write_tokens=300)
    assert ex.response_text == "Hi! My name is Claude."
    assert ex.model == "claude-sonnet-4-20250514"


def test_anthropic_sse():
    ex = exchange(api="anthropic", path="v1/messages", stream=True)
    passed = run_stream(ex, ANTHROPIC_SSE)
    assert len(passed) == 9
    assert ex.usage == usage(input_tokens=1000, output_tokens=400, cached_input_tokens=200, cache_write_tokens=300)
    assert ex.response_text == "Hello!"


def test_anthropic_stream_cut_off_keeps_usage_so_far():
    events = split_sse(ANTHROPIC_SSE)[:5]  # message_start .. first text deltas, no message_delta
    ex = exchange(api="anthropic", path="v1/messages", stream=True)
    t = UsageTracker(ex)
    for e, d, r in events:
        t.on_event(e, d, r)
    t.finish()
    assert ex.usage == usage(input_tokens=1000, output_tokens=1, cached_input_tokens=200, cache_write_tokens=300)
    assert ex.response_text == "Hello!"


def test_anthropic_message_delta_with_input_counts():
    ex = exchange(api="anthropic", path="v1/messages", stream=True)
    t = UsageTracker(ex)
    t.on_event(
        "message_delta",
        b'{"type":"message_delta","delta":{},"usage":{"input_tokens":10,'
        b'"cache_read_input_tokens":5,"output_tokens":7}}',
        b"",
    )
    assert ex.usage == usage(input_tokens=15, cached_input_tokens=5, output_tokens=7)


# -- Gemini -----------------------------------------------------------------------------------


GEMINI_USAGE = dict(input_tokens=1000, output_tokens=500, cached_input_tokens=400, reasoning_tokens=200)


def test_gemini_json_counts_thoughts_as_output_and_skips_thought_text():
    ex = exchange(api="google", path="v1beta/models/gemini-2.5-flash:generateContent")
    UsageTracker(ex).on_json(GEMINI_JSON)
    assert ex.usage == usage(**GEMINI_USAGE)  # output = 300 candidates + 200 thoughts
    assert ex.response_text == "The sky is blue."
    assert ex.model == "gemini-2.5-flash"


def test_gemini_sse_cumulative_usage():
    ex = exchange(api="google", path="v1beta/models/gemini-2.5-flash:streamGenerateContent", stream=True)
    passed = run_stream(ex, GEMINI_SSE)
    assert len(passed) == 3
    assert ex.usage == usage(**GEMINI_USAGE)
    assert ex.response_text == "The sky is blue."


def test_gemini_sse_cut_off_keeps_last_cumulative_usage():
    ex = exchange(api="google", path="x:streamGenerateContent", stream=True)
    t = UsageTracker(ex)
    for e, d, r in split_sse(GEMINI_SSE)[:2]:
        t.on_event(e, d, r)
    t.finish()
    assert ex.usage == usage(input_tokens=1000, output_tokens=350, cached_input_tokens=400, reasoning_tokens=200)
    assert ex.response_text == "The sky is"


def test_gemini_json_array_stream_body():
    ex = exchange(api="google", path="x:streamGenerateContent", stream=True)
    t = UsageTracker(ex)
    t.on_json(GEMINI_JSON_ARRAY)
    t.finish()
    assert ex.usage == usage(**GEMINI_USAGE)
    assert ex.response_text == "The sky is blue."


# -- robustness --------------------------------------------------------------------------------


def test_garbage_is_ignored():
    ex = exchange(stream=True)
    t = UsageTracker(ex)
    assert t.on_event(None, b"[DONE]", b"data: [DONE]\n\n") is True
    assert t.on_event(None, b"{not json", b"") is True
    assert t.on_event(None, b"", b": keep-alive\n\n") is True
    t.on_json(b"<html>bad gateway</html>")
    t.on_json(b"")
    t.finish()
    assert not ex.usage.known and ex.response_text is None


def test_error_body_leaves_usage_unknown():
    ex = exchange()
    UsageTracker(ex).on_json(b'{"error": {"message": "Rate limit", "type": "requests", "code": "rate_limit"}}')
    assert not ex.usage.known


# -- prompt text ---------------------------------------------------------------------------------


def test_prompt_text_openai_chat_with_parts():
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in"},
                    {"type": "image_url", "image_url": {"url": "data:..."}},
                    {"type": "text", "text": "this image?"},
                ],
            },
        ],
    }
    assert prompt_text(body) == "Be brief.\nWhat is in\nthis image?"


def test_prompt_text_anthropic_and_responses_and_gemini():
    assert (
        prompt_text({"system": [{"type": "text", "text": "sys"}], "messages": [{"role": "user", "content": "hello"}]})
        == "sys\nhello"
    )
    assert prompt_text({"instructions": "inst", "input": "question"}) == "inst\nquestion"
    assert prompt_text({"input": [{"role": "user", "content": [{"type": "input_text", "text": "q2"}]}]}) == "q2"
    assert (
        prompt_text(
            {
                "systemInstruction": {"parts": [{"text": "be kind"}]},
                "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {}}]}],
            }
        )
        == "be kind\nhi"
    )
    assert prompt_text({"input": ["embed me", "and me"]}) == "embed me\nand me"
    assert prompt_text({"model": "x"}) is None
    assert prompt_text(None) is None
