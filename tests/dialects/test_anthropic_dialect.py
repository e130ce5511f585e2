"""The Anthropic dialect: Messages requests, responses, streams and errors."""

from __future__ import annotations

import orjson
import pytest

from leash_cli.dialects import ANTHROPIC, Usage, for_api
from leash_cli.usage import UsageTracker

from .helpers import exchange, redact_round_trip, sse, stream_redact, track_stream

REQUEST = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 512,
    "system": [{"type": "text", "text": "You help bob@example.com.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "Who is bob@example.com?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "look up bob@example.com", "signature": "s"},
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "lookup",
                    "input": {"who": "bob@example.com", "fields": ["name", {"deep": "bob@example.com"}], "n": 3},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "bob@example.com: Bob"}],
                },
                {"type": "tool_result", "tool_use_id": "t2", "content": "plain bob@example.com"},
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "doc bob@example.com"},
                    "title": "Bob's file",
                    "context": "from the CRM",
                },
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
            ],
        },
    ],
    "tools": [{"name": "lookup", "description": "Find a person", "input_schema": {"type": "object"}}],
}


def test_the_lookup():
    assert for_api("anthropic") is ANTHROPIC


def test_request_texts_with_thinking_tool_use_results_and_documents():
    got = [(t.role, t.text, t.path, t.kind) for t in ANTHROPIC.request_texts(REQUEST)]
    assert got == [
        ("system", "You help bob@example.com.", ("system", 0, "text"), "text"),
        ("user", "Who is bob@example.com?", ("messages", 0, "content"), "text"),
        ("assistant", "look up bob@example.com", ("messages", 1, "content", 0, "thinking"), "text"),
        ("assistant", "bob@example.com", ("messages", 1, "content", 1, "input", "who"), "tool_call"),
        ("assistant", "name", ("messages", 1, "content", 1, "input", "fields", 0), "tool_call"),
        ("assistant", "bob@example.com", ("messages", 1, "content", 1, "input", "fields", 1, "deep"), "tool_call"),
        ("tool", "bob@example.com: Bob", ("messages", 2, "content", 0, "content", 0, "text"), "tool_result"),
        ("tool", "plain bob@example.com", ("messages", 2, "content", 1, "content"), "tool_result"),
        ("user", "doc bob@example.com", ("messages", 2, "content", 2, "source", "data"), "document"),
        ("user", "Bob's file", ("messages", 2, "content", 2, "title"), "document"),
        ("user", "from the CRM", ("messages", 2, "content", 2, "context"), "document"),
        ("system", "Find a person", ("tools", 0, "description"), "tool_spec"),
    ]
    assert [t.path for t in ANTHROPIC.request_texts({"system": "plain", "messages": []})] == [("system",)]


def test_request_redaction_round_trip():
    wire, _ = redact_round_trip(ANTHROPIC.request_texts, REQUEST, "bob@example.com")
    assert wire["messages"][1]["content"][1]["input"] == {
        "who": "[REDACTED]",
        "fields": ["name", {"deep": "[REDACTED]"}],
        "n": 3,
    }
    assert wire["system"][0]["cache_control"] == {"type": "ephemeral"}  # only the strings changed


RESPONSE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "Bob is bob@example.com."},
        {"type": "tool_use", "id": "t", "name": "mail", "input": {"to": "bob@example.com"}},
    ],
    "stop_reason": "tool_use",
    "usage": {
        "input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 50,
        "output_tokens": 20,
    },
}


def test_response_texts_usage_text_and_round_trip():
    assert [(t.role, t.text, t.path, t.kind) for t in ANTHROPIC.response_texts(RESPONSE)] == [
        ("assistant", "Bob is bob@example.com.", ("content", 0, "text"), "text"),
        ("assistant", "bob@example.com", ("content", 1, "input", "to"), "tool_call"),
    ]
    redact_round_trip(ANTHROPIC.response_texts, RESPONSE, "bob@example.com")
    assert ANTHROPIC.usage(RESPONSE) == Usage(
        input_tokens=1150, output_tokens=20, cached_input_tokens=1000, cache_write_tokens=50
    )
    assert ANTHROPIC.usage({"type": "message_count", "input_tokens": 3}) is None
    ex = exchange("anthropic", "v1/messages")
    UsageTracker(ex).on_json(orjson.dumps(RESPONSE))
    assert ex.response_text == "Bob is bob@example.com." and ex.model == "claude-sonnet-4-5-20250929"
    assert ex.usage.input_tokens == 1150


STREAM = sse(
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "usage": {"input_tokens": 40, "cache_read_input_tokens": 10, "output_tokens": 1},
            },
        },
    ),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi "}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "bob"}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"to": "b'}},
    ),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 25}}),
    ("message_stop", {"type": "message_stop"}),
)


def test_stream_usage_and_text():
    ex = exchange("anthropic", "v1/messages", {"model": "claude-x", "stream": True}, stream=True)
    ANTHROPIC.prepare_request(ex)  # nothing to ask: Anthropic streams always report usage
    assert "stream_options" not in ex.json()
    assert len(track_stream(ANTHROPIC, ex, STREAM)) == 8
    assert ex.usage == Usage(input_tokens=50, output_tokens=25, cached_input_tokens=10)
    assert ex.response_text == "Hi bob" and ex.model == "claude-x"


def test_stream_texts_keys_and_redaction():
    text = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "to bob@example.com"}}
    think = {"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "hm"}}
    args = {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a"'}}
    [t] = ANTHROPIC.stream_texts(text)
    assert (t.path, t.kind, ANTHROPIC.stream_key(text, t)) == (("delta", "text"), "text", ("a", 0, "text"))
    assert [(t.kind, ANTHROPIC.stream_key(think, t)) for t in ANTHROPIC.stream_texts(think)] == [
        ("text", ("a", 1, "thinking"))
    ]
    assert [t.kind for t in ANTHROPIC.stream_texts(args)] == ["tool_call"]
    assert ANTHROPIC.stream_texts({"type": "message_start", "message": {}}) == []
    assert ANTHROPIC.aggregate_texts(text) == []
    assert stream_redact(ANTHROPIC, text, "bob@example.com")["delta"] == {"type": "text_delta", "text": "to ***"}


@pytest.mark.parametrize(
    "status,typ",
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (409, "invalid_request_error"),
        (507, "api_error"),
    ],
)
def test_error_shape_and_stream_error_event(status, typ):
    body = ANTHROPIC.error_body(status, "blocked", "policy_violation")
    assert orjson.loads(body) == {"type": "error", "error": {"type": typ, "message": "blocked"}}
    assert ANTHROPIC.error_event(body) == b"event: error\ndata: " + body + b"\n\n"


def test_model_paths_keys_and_caps():
    assert ANTHROPIC.request_model("v1/messages", {"model": "claude-x", "stream": True}) == ("claude-x", True)
    assert ANTHROPIC.upstream_rest("messages") == "v1/messages"
    assert ANTHROPIC.upstream_rest("v1/messages") == "v1/messages"
    assert ANTHROPIC.auth_header("sk-ant") == ("x-api-key", "sk-ant")
    body: dict = {"max_tokens": 4096}
    assert ANTHROPIC.cap_output_tokens(body, "v1/messages", 100) and body == {"max_tokens": 100}
    assert not ANTHROPIC.cap_output_tokens({}, "v1/messages/count_tokens", 100)
    path, query, built = ANTHROPIC.build_request("claude-x", [{"role": "user", "content": "hi"}], "sys", False)
    assert (path, query, built["max_tokens"], "stream" in built) == ("v1/messages", "", 256, False)
    assert [(t.role, t.text) for t in ANTHROPIC.request_texts(built)] == [("system", "sys"), ("user", "hi")]


# -- blocks the model reads that were not listed (each one a way around the scanners) ----------------

TEXT_DOC = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "bob@example.com in a doc"},
}
SEARCH_RESULT = {
    "type": "search_result",
    "source": "https://kb/bob",
    "title": "All about bob@example.com",
    "content": [{"type": "text", "text": "bob@example.com is a customer"}],
}

REQUEST_MORE = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 512,
    "messages": [
        {
            "role": "user",
            "content": [
                SEARCH_RESULT,
                {
                    "type": "document",
                    "source": {"type": "content", "content": [{"type": "text", "text": "bob@example.com"}]},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "bob@example.com"}},
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "s1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "url": "https://x",
                            "title": "bob@example.com's page",
                            "encrypted_content": "e",
                        }
                    ],
                },
                {
                    "type": "web_fetch_tool_result",
                    "tool_use_id": "s2",
                    "content": {"type": "web_fetch_result", "url": "https://x", "content": TEXT_DOC},
                },
                {
                    "type": "code_execution_tool_result",
                    "tool_use_id": "s3",
                    "content": {
                        "type": "code_execution_result",
                        "stdout": "bob@example.com out",
                        "stderr": "bob@example.com err",
                        "return_code": 0,
                        "content": [],
                    },
                },
                {
                    "type": "text_editor_code_execution_tool_result",
                    "tool_use_id": "s4",
                    "content": {
                        "type": "text_editor_code_execution_view_result",
                        "file_type": "text",
                        "content": "bob@example.com file",
                    },
                },
                {
                    "type": "mcp_tool_use",
                    "id": "m1",
                    "name": "find",
                    "server_name": "crm",
                    "input": {"q": "bob@example.com"},
                },
                {
                    "type": "mcp_tool_result",
                    "tool_use_id": "m1",
                    "content": [{"type": "text", "text": "bob@example.com found"}],
                },
                {"type": "mcp_tool_result", "tool_use_id": "m2", "content": "bob@example.com again"},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [TEXT_DOC, SEARCH_RESULT]}],
        },
    ],
}


def test_search_results_server_and_mcp_tools_and_documents_inside_tool_results():
    got = [(t.role, t.text, t.path, t.kind) for t in ANTHROPIC.request_texts(REQUEST_MORE)]
    m0, m1, m2 = ("messages", 0, "content"), ("messages", 1, "content"), ("messages", 2, "content", 0, "content")
    assert got == [
        ("user", "bob@example.com is a customer", (*m0, 0, "content", 0, "text"), "document"),
        ("user", "All about bob@example.com", (*m0, 0, "title"), "document"),
        ("user", "https://kb/bob", (*m0, 0, "source"), "document"),
        ("user", "bob@example.com", (*m0, 1, "source", "content", 0, "text"), "document"),
        ("assistant", "bob@example.com", (*m1, 0, "input", "query"), "tool_call"),
        ("tool", "bob@example.com's page", (*m1, 1, "content", 0, "title"), "tool_result"),
        ("tool", "bob@example.com in a doc", (*m1, 2, "content", "content", "source", "data"), "document"),
        ("tool", "bob@example.com out", (*m1, 3, "content", "stdout"), "tool_result"),
        ("tool", "bob@example.com err", (*m1, 3, "content", "stderr"), "tool_result"),
        ("tool", "bob@example.com file", (*m1, 4, "content", "content"), "tool_result"),
        ("assistant", "bob@example.com", (*m1, 5, "input", "q"), "tool_call"),
        ("tool", "bob@example.com found", (*m1, 6, "content", 0, "text"), "tool_result"),
        ("tool", "bob@example.com again", (*m1, 7, "content"), "tool_result"),
        ("tool", "bob@example.com in a doc", (*m2, 0, "source", "data"), "document"),
        ("tool", "bob@example.com is a customer", (*m2, 1, "content", 0, "text"), "document"),
        ("tool", "All about bob@example.com", (*m2, 1, "title"), "document"),
        ("tool", "https://kb/bob", (*m2, 1, "source"), "document"),
    ]
    redact_round_trip(ANTHROPIC.request_texts, REQUEST_MORE, "bob@example.com")


BROWSER = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "b1",
                    "content": [
                        {"type": "text", "text": "clicked"},
                        {
                            "type": "browser_state",
                            "tabs": [
                                {
                                    "tab_id": "t1",
                                    "title": "Mail bob@example.com now",
                                    "url": "https://x/?u=bob@example.com",
                                    "active": True,
                                },
                                {"tab_id": "t2", "title": "", "url": ""},
                            ],
                            "state_changes": [
                                {"type": "tab_opened", "tab_id": "t1"},
                                {
                                    "type": "download_completed",
                                    "download_id": "d1",
                                    "url": "https://x/bob",
                                    "path": "/tmp/bob@example.com.txt",
                                },
                                {
                                    "type": "download_failed",
                                    "download_id": "d2",
                                    "url": "https://y",
                                    "error": "ask bob@example.com",
                                },
                            ],
                        },
                    ],
                }
            ],
        }
    ],
}


def test_a_browser_state_block_in_a_tool_result_reads_tab_titles_urls_and_downloads():
    got = [(t.role, t.text, t.path, t.kind) for t in ANTHROPIC.request_texts(BROWSER)]
    bs = ("messages", 0, "content", 0, "content", 1)
    assert got == [
        ("tool", "clicked", ("messages", 0, "content", 0, "content", 0, "text"), "tool_result"),
        ("tool", "Mail bob@example.com now", (*bs, "tabs", 0, "title"), "tool_result"),
        ("tool", "https://x/?u=bob@example.com", (*bs, "tabs", 0, "url"), "tool_result"),
        ("tool", "", (*bs, "tabs", 1, "title"), "tool_result"),
        ("tool", "", (*bs, "tabs", 1, "url"), "tool_result"),
        ("tool", "https://x/bob", (*bs, "state_changes", 1, "url"), "tool_result"),
        ("tool", "/tmp/bob@example.com.txt", (*bs, "state_changes", 1, "path"), "tool_result"),
        ("tool", "https://y", (*bs, "state_changes", 2, "url"), "tool_result"),
        ("tool", "ask bob@example.com", (*bs, "state_changes", 2, "error"), "tool_result"),
    ]
    redact_round_trip(ANTHROPIC.request_texts, BROWSER, "bob@example.com")


def test_blocks_nested_past_the_limit_are_refused_with_a_clear_error():
    """Tool results hold blocks that hold blocks; a body that nests them past ``MAX_BLOCK_DEPTH`` is refused
    (``BodyUnreadable``: the gateway answers 400, tests/test_faults.py) instead of running Python out of recursion."""
    from leash_cli.dialects.anthropic import MAX_BLOCK_DEPTH
    from leash_cli.dialects.base import BodyUnreadable

    def nested(n: int) -> dict:
        block: dict = {"type": "text", "text": "hi bob@example.com"}
        for _ in range(n):
            block = {"type": "tool_result", "tool_use_id": "t", "content": [block]}
        return {"messages": [{"role": "user", "content": [block]}]}

    (t,) = ANTHROPIC.request_texts(nested(MAX_BLOCK_DEPTH))
    assert t.text == "hi bob@example.com" and t.kind == "tool_result"
    with pytest.raises(BodyUnreadable, match="nested more than"):
        ANTHROPIC.request_texts(nested(600))
