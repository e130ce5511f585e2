"""The OpenAI dialect: Chat Completions, Completions, Responses and Embeddings shapes."""

from __future__ import annotations

import orjson
import pytest

from leash_cli.dialects import OPENAI, Usage, for_api
from leash_cli.dialects.base import Encoded
from leash_cli.usage import UsageTracker

from .helpers import exchange, redact_round_trip, sse, stream_redact, track_stream

CHAT = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Mail bob@example.com"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "send", "arguments": '{"to": "bob@example.com"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sent to bob@example.com"},
        {"role": "assistant", "content": "ok", "function_call": {"name": "f", "arguments": '{"a": 1}'}},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "send", "description": "Send mail to anyone", "parameters": {"type": "object"}},
        }
    ],
    "response_format": {"type": "json_schema", "json_schema": {"name": "r", "description": "the reply"}},
}

RESPONSES = {
    "model": "gpt-4.1",
    "instructions": "You are a helper.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "call 555-0100 for bob@example.com"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"who": "bob@example.com"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "bob@example.com is at home"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking about bob"}]},
        "a bare string item",
    ],
    "tools": [{"type": "function", "name": "lookup", "description": "Look a person up"}],
}


def test_the_lookup_gives_openai_for_openai_and_any_compatible_name():
    assert for_api("openai") is OPENAI
    assert for_api("groq") is OPENAI and for_api(None) is OPENAI


def test_chat_request_texts_with_tool_calls_results_and_specs():
    got = [(t.role, t.text, t.path, t.kind) for t in OPENAI.request_texts(CHAT)]
    assert got == [
        ("system", "Be terse.", ("messages", 0, "content"), "text"),
        ("user", "Mail bob@example.com", ("messages", 1, "content", 0, "text"), "text"),
        (
            "assistant",
            '{"to": "bob@example.com"}',
            ("messages", 2, "tool_calls", 0, "function", "arguments"),
            "tool_call",
        ),
        ("tool", "sent to bob@example.com", ("messages", 3, "content"), "tool_result"),
        ("assistant", "ok", ("messages", 4, "content"), "text"),
        ("assistant", '{"a": 1}', ("messages", 4, "function_call", "arguments"), "tool_call"),
        ("system", "Send mail to anyone", ("tools", 0, "function", "description"), "tool_spec"),
        ("system", "the reply", ("response_format", "json_schema", "description"), "tool_spec"),
    ]
    assert OPENAI.request_texts("not a dict") == [] and OPENAI.request_texts({}) == []


def test_responses_request_texts():
    got = [(t.role, t.text, t.path, t.kind) for t in OPENAI.request_texts(RESPONSES)]
    assert got == [
        ("system", "You are a helper.", ("instructions",), "text"),
        ("user", "call 555-0100 for bob@example.com", ("input", 0, "content", 0, "text"), "text"),
        ("user", '{"who": "bob@example.com"}', ("input", 1, "arguments"), "tool_call"),
        ("tool", "bob@example.com is at home", ("input", 2, "output"), "tool_result"),
        ("user", "thinking about bob", ("input", 3, "summary", 0, "text"), "text"),
        ("user", "a bare string item", ("input", 4), "text"),
        ("system", "Look a person up", ("tools", 0, "description"), "tool_spec"),
    ]


def test_completions_and_embeddings_inputs():
    assert [t.path for t in OPENAI.request_texts({"prompt": ["a", 1, "b"]})] == [("prompt", 0), ("prompt", 2)]
    assert [t.text for t in OPENAI.request_texts({"prompt": "p"})] == ["p"]
    assert [(t.text, t.path) for t in OPENAI.request_texts({"input": "embed me"})] == [("embed me", ("input",))]


@pytest.mark.parametrize("body", [CHAT, RESPONSES], ids=["chat", "responses"])
def test_request_redaction_round_trip(body):
    wire, texts = redact_round_trip(OPENAI.request_texts, body, "bob@example.com")
    assert any(t.kind == "tool_call" and "[REDACTED]" in t.text for t in texts)
    assert any(t.kind == "tool_result" and "[REDACTED]" in t.text for t in texts)
    assert orjson.loads(
        wire["messages"][2]["tool_calls"][0]["function"]["arguments"]
        if "messages" in wire
        else wire["input"][1]["arguments"]
    ) in ({"to": "[REDACTED]"}, {"who": "[REDACTED]"})


CHAT_RESPONSE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "Writing to bob@example.com",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "send", "arguments": '{"to":"bob@example.com"}'},
                    }
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 7},
    },
}
RESPONSES_RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "model": "gpt-4.1-2025",
    "status": "completed",
    "output": [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Bob is bob@example.com", "annotations": []}],
        },
        {"type": "function_call", "name": "f", "arguments": '{"x": "bob@example.com"}'},
    ],
    "usage": {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 10},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 59,
    },
}


def test_response_texts_and_redaction_round_trip():
    assert [(t.text, t.path, t.kind) for t in OPENAI.response_texts(CHAT_RESPONSE)] == [
        ("Writing to bob@example.com", ("choices", 0, "message", "content"), "text"),
        ('{"to":"bob@example.com"}', ("choices", 0, "message", "tool_calls", 0, "function", "arguments"), "tool_call"),
    ]
    assert [(t.text, t.path) for t in OPENAI.response_texts(RESPONSES_RESPONSE)] == [
        ("Bob is bob@example.com", ("output", 0, "content", 0, "text")),
        ('{"x": "bob@example.com"}', ("output", 1, "arguments")),
    ]
    for body in (CHAT_RESPONSE, RESPONSES_RESPONSE):
        redact_round_trip(OPENAI.response_texts, body, "bob@example.com")


def test_usage_from_bodies():
    assert OPENAI.usage(CHAT_RESPONSE) == Usage(
        input_tokens=120, output_tokens=30, cached_input_tokens=100, reasoning_tokens=7
    )
    assert OPENAI.usage(RESPONSES_RESPONSE) == Usage(
        input_tokens=50, output_tokens=9, cached_input_tokens=10, reasoning_tokens=2
    )
    emb = {"object": "list", "data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    assert OPENAI.usage(emb) == Usage(input_tokens=8)
    assert OPENAI.usage({"error": {"message": "no"}}) is None and OPENAI.usage([1]) is None
    assert OPENAI.usage({"usage": {"prompt_tokens": True, "completion_tokens": 2.9}}) == Usage(output_tokens=2)


def test_body_text_and_model():
    ex = exchange("openai", "chat/completions")
    track = UsageTracker(ex)
    track.on_json(orjson.dumps(CHAT_RESPONSE))
    assert ex.response_text == "Writing to bob@example.com" and ex.model == "gpt-4o-2024-08-06"
    assert OPENAI.body_text(RESPONSES_RESPONSE) == ["Bob is bob@example.com"]
    assert OPENAI.body_text({"error": {}}) is None


def _chunk(delta, finish=None, **kw):
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-x",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **kw,
    }


CHAT_STREAM = sse(
    (None, _chunk({"role": "assistant", "content": ""})),
    (None, _chunk({"content": "Hello "})),
    (None, _chunk({"content": "bob@example.com"})),
    (None, _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]})),
    (None, _chunk({}, "stop")),
    (
        None,
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-x",
            "choices": [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
        },
    ),
    (None, b"[DONE]"),
)


def test_chat_stream_usage_text_and_the_hidden_usage_chunk():
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ex = exchange("openai", "chat/completions", body, stream=True)
    OPENAI.prepare_request(ex)  # leash asks for usage the client did not ask for ...
    assert ex.json()["stream_options"] == {"include_usage": True}
    passed = track_stream(OPENAI, ex, CHAT_STREAM)
    assert ex.usage == Usage(input_tokens=11, output_tokens=4)
    assert ex.response_text == "Hello bob@example.com" and ex.model == "gpt-4o-x"
    assert not any(b'"choices":[]' in raw for raw in passed)  # ... so the client does not see it
    assert passed[-1] == b"data: [DONE]\n\n"

    asked = exchange("openai", "chat/completions", {**body, "stream_options": {"include_usage": True}}, stream=True)
    OPENAI.prepare_request(asked)
    assert len(track_stream(OPENAI, asked, CHAT_STREAM)) == len(passed) + 1
    assert asked.usage == ex.usage


def test_prepare_request_leaves_other_calls_alone():
    for path, stream in (("chat/completions", False), ("responses", True), ("embeddings", True)):
        ex = exchange("openai", path, {"model": "m", "stream": stream}, stream=stream)
        before = ex.request_body
        OPENAI.prepare_request(ex)
        assert ex.request_body == before and "leash_include_usage" not in ex.annotations


def test_stream_texts_keys_and_redaction():
    ev = _chunk({"content": "mail bob@example.com"})
    [t] = OPENAI.stream_texts(ev)
    assert t.path == ("choices", 0, "delta", "content") and OPENAI.stream_key(ev, t) == ("c", 0, "content")
    call = _chunk({"tool_calls": [{"index": 2, "function": {"arguments": '"bob@example.com"'}}]})
    [c] = OPENAI.stream_texts(call)
    assert c.kind == "tool_call" and OPENAI.stream_key(call, c) == ("c", 0, "tool", 2)
    assert stream_redact(OPENAI, ev, "bob@example.com")["choices"][0]["delta"]["content"] == "mail ***"
    stream_redact(OPENAI, call, "bob@example.com")
    reasoning = _chunk({"reasoning_content": "hmm", "refusal": "no"})
    assert [t.text for t in OPENAI.stream_texts(reasoning)] == ["hmm", "no"]


def test_responses_stream_events():
    delta = {
        "type": "response.output_text.delta",
        "item_id": "m1",
        "output_index": 0,
        "content_index": 0,
        "delta": "bob@example.com",
    }
    [t] = OPENAI.stream_texts(delta)
    assert t.path == ("delta",) and OPENAI.stream_key(delta, t) == ("r", "m1", 0, "response.output_text.delta")
    args = {"type": "response.function_call_arguments.delta", "item_id": "f1", "delta": '{"a"'}
    assert OPENAI.stream_texts(args)[0].kind == "tool_call"
    assert OPENAI.stream_texts({"type": "response.created", "response": {}}) == []
    done = {"type": "response.output_text.done", "text": "all of it"}
    assert [(t.text, t.path) for t in OPENAI.aggregate_texts(done)] == [("all of it", ("text",))]
    completed = {"type": "response.completed", "response": RESPONSES_RESPONSE}
    assert [t.path for t in OPENAI.aggregate_texts(completed)] == [
        ("response", "output", 0, "content", 0, "text"),
        ("response", "output", 1, "arguments"),
    ]
    assert OPENAI.aggregate_texts(_chunk({"content": "x"})) == []

    stream = sse(
        ("response.created", {"type": "response.created", "response": {**RESPONSES_RESPONSE, "usage": None}}),
        ("response.output_text.delta", {**delta, "delta": "Bob "}),
        ("response.output_text.delta", delta),
        ("response.completed", completed),
    )
    ex = exchange("openai", "responses", {"model": "gpt-4.1", "stream": True}, stream=True)
    assert len(track_stream(OPENAI, ex, stream)) == 4
    assert ex.usage == Usage(input_tokens=50, output_tokens=9, cached_input_tokens=10, reasoning_tokens=2)
    assert ex.response_text == "Bob bob@example.com" and ex.model == "gpt-4.1-2025"


def test_clear_finish():
    ev = _chunk({"content": "x"}, "stop", usage={"prompt_tokens": 1})
    OPENAI.clear_finish(ev)
    assert ev["choices"][0]["finish_reason"] is None and "usage" not in ev


@pytest.mark.parametrize(
    "status,typ",
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "invalid_request_error"),
        (429, "rate_limit_error"),
        (502, "server_error"),
        (418, "invalid_request_error"),
        (599, "server_error"),
    ],
)
def test_error_shape(status, typ):
    assert orjson.loads(OPENAI.error_body(status, "nope", "policy_violation")) == {
        "error": {"message": "nope", "type": typ, "param": None, "code": "policy_violation"}
    }
    assert orjson.loads(OPENAI.error_body(status, "nope"))["error"]["code"] is None
    assert OPENAI.error_event(b"{}") == b"data: {}\n\n"


def test_request_model_cap_keys_and_paths():
    assert OPENAI.request_model("chat/completions", {"model": "gpt-4o", "stream": True}) == ("gpt-4o", True)
    assert OPENAI.request_model("chat/completions", {"model": 3, "stream": "yes"}) == (None, False)
    assert OPENAI.request_model("models", None) == (None, False)
    for path, body, key in (
        ("chat/completions", {}, "max_tokens"),
        ("chat/completions", {"max_completion_tokens": 9000}, "max_completion_tokens"),
        ("responses", {}, "max_output_tokens"),
    ):
        assert OPENAI.cap_output_tokens(body, path, 100) and body[key] == 100
    assert not OPENAI.cap_output_tokens({}, "embeddings", 100)
    assert OPENAI.auth_header("sk-1") == ("authorization", "Bearer sk-1")
    assert OPENAI.upstream_rest("chat/completions") == "chat/completions" and not OPENAI.key_in_query
    path, query, body = OPENAI.build_request("gpt-4o", [{"role": "user", "content": "hi"}], "sys", True)
    assert (path, query, body["stream"]) == ("chat/completions", "", True)
    assert [t.text for t in OPENAI.request_texts(body)] == ["sys", "hi"]


# -- fields the model reads that were not listed (each one a way around the scanners) ----------------

DOC_B64 = "data:text/plain;base64,Ym9iQGV4YW1wbGUuY29tIGluIGEgZmlsZQ=="  # "bob@example.com in a file"

CHAT_MORE = {
    "model": "gpt-5",
    "messages": [
        {"role": "user", "name": "bob_example", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "refusal": "I will not mail bob@example.com",
            "tool_calls": [
                {"id": "c2", "type": "custom", "custom": {"name": "shell", "input": "mail bob@example.com"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "mailed bob@example.com"}]},
        {"role": "function", "name": "lookup", "content": "bob@example.com found"},
        {"role": "function", "content": "bob@example.com again"},
    ],
    "tools": [{"type": "custom", "custom": {"name": "shell", "description": "Runs anything bob@example.com asks"}}],
    "prediction": {"type": "content", "content": [{"type": "text", "text": "Dear bob@example.com"}]},
}


def test_chat_names_refusals_custom_tools_tool_parts_functions_and_predicted_parts():
    got = [(t.role, t.text, t.path, t.kind) for t in OPENAI.request_texts(CHAT_MORE)]
    assert got == [
        ("user", "hi", ("messages", 0, "content"), "text"),
        ("user", "bob_example", ("messages", 0, "name"), "name"),
        ("assistant", "I will not mail bob@example.com", ("messages", 1, "refusal"), "text"),
        ("assistant", "mail bob@example.com", ("messages", 1, "tool_calls", 0, "custom", "input"), "tool_call"),
        ("tool", "mailed bob@example.com", ("messages", 2, "content", 0, "text"), "tool_result"),
        ("tool", "bob@example.com found", ("messages", 3, "content"), "tool_result"),
        ("tool", "lookup", ("messages", 3, "name"), "name"),
        ("tool", "bob@example.com again", ("messages", 4, "content"), "tool_result"),
        ("system", "Runs anything bob@example.com asks", ("tools", 0, "custom", "description"), "tool_spec"),
        ("user", "Dear bob@example.com", ("prediction", "content", 0, "text"), "text"),
    ]
    redact_round_trip(OPENAI.request_texts, CHAT_MORE, "bob@example.com")


RESPONSES_MORE = {
    "model": "gpt-5",
    "input": [
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [
                {"type": "input_text", "text": "bob@example.com is at home"},
                {"type": "input_file", "filename": "n.txt", "file_data": DOC_B64},
            ],
        },
        {"type": "custom_tool_call", "call_id": "c2", "name": "shell", "input": "mail bob@example.com"},
        {
            "type": "custom_tool_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "sent bob@example.com"}],
        },
        {
            "type": "mcp_list_tools",
            "id": "l1",
            "server_label": "crm",
            "tools": [
                {
                    "name": "find",
                    "description": "Finds bob@example.com",
                    "input_schema": {
                        "type": "object",
                        "properties": {"q": {"type": "string", "description": "ask bob@example.com"}},
                    },
                }
            ],
        },
        {
            "type": "mcp_call",
            "id": "m1",
            "server_label": "crm",
            "name": "find",
            "arguments": "{}",
            "error": {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": "no bob@example.com"}]},
        },
        {
            "type": "mcp_approval_response",
            "approval_request_id": "a1",
            "approve": False,
            "reason": "not bob@example.com",
        },
        {
            "type": "file_search_call",
            "id": "f1",
            "status": "completed",
            "queries": ["where is bob@example.com"],
            "results": [{"file_id": "file-1", "filename": "a.txt", "score": 0.9, "text": "bob@example.com lives here"}],
        },
        {
            "type": "code_interpreter_call",
            "id": "ci1",
            "container_id": "cn",
            "status": "completed",
            "code": "print('bob@example.com')",
            "outputs": [
                {"type": "logs", "logs": "bob@example.com printed"},
                {"type": "image", "url": "https://x/y.png"},
            ],
        },
        {
            "type": "shell_call",
            "call_id": "s1",
            "action": {"commands": ["echo bob@example.com"]},
            "status": "completed",
        },
        {
            "type": "shell_call_output",
            "call_id": "s1",
            "output": [
                {
                    "stdout": "bob@example.com out",
                    "stderr": "bob@example.com err",
                    "outcome": {"type": "exit", "exit_code": 0},
                }
            ],
        },
        {
            "type": "local_shell_call",
            "id": "x",
            "call_id": "l2",
            "status": "completed",
            "action": {"type": "exec", "command": ["echo", "bob@example.com"], "env": {}},
        },
        {
            "type": "apply_patch_call",
            "call_id": "p1",
            "status": "completed",
            "operation": {"type": "update_file", "path": "a.txt", "diff": "+bob@example.com"},
        },
        {"type": "program", "id": "pg", "call_id": "pg1", "code": "send('bob@example.com')", "fingerprint": "f"},
        {
            "type": "program_output",
            "id": "po",
            "call_id": "pg1",
            "result": "bob@example.com done",
            "status": "completed",
        },
        {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "not bob@example.com"}]},
        {
            "type": "additional_tools",
            "role": "developer",
            "tools": [{"type": "function", "name": "more", "description": "More for bob@example.com"}],
        },
    ],
    "prompt": {
        "id": "pmpt_1",
        "variables": {"customer": "bob@example.com", "note": {"type": "input_text", "text": "call bob@example.com"}},
    },
    "text": {"format": {"type": "json_schema", "name": "r", "description": "a reply to bob@example.com", "schema": {}}},
    "tools": [
        {
            "type": "mcp",
            "server_label": "crm",
            "server_url": "https://crm",
            "server_description": "bob@example.com's CRM",
        },
        {
            "type": "namespace",
            "name": "mail",
            "description": "Mail for bob@example.com",
            "tools": [{"type": "function", "name": "send", "description": "Send to bob@example.com"}],
        },
    ],
}


def test_responses_tool_outputs_as_parts_custom_mcp_builtin_tool_items_and_prompt_variables():
    got = [(t.role, t.text, t.path, t.kind) for t in OPENAI.request_texts(RESPONSES_MORE)]
    assert got == [
        ("tool", "bob@example.com is at home", ("input", 0, "output", 0, "text"), "tool_result"),
        (
            "tool",
            "bob@example.com in a file",
            ("input", 0, "output", 1, "file_data", Encoded("data:text/plain;base64,")),
            "document",
        ),
        ("user", "mail bob@example.com", ("input", 1, "input"), "tool_call"),
        ("tool", "sent bob@example.com", ("input", 2, "output", 0, "text"), "tool_result"),
        ("system", "Finds bob@example.com", ("input", 3, "tools", 0, "description"), "tool_spec"),
        (
            "system",
            "ask bob@example.com",
            ("input", 3, "tools", 0, "input_schema", "properties", "q", "description"),
            "tool_spec",
        ),
        ("user", "{}", ("input", 4, "arguments"), "tool_call"),
        ("tool", "no bob@example.com", ("input", 4, "error", "content", 0, "text"), "tool_result"),
        ("user", "not bob@example.com", ("input", 5, "reason"), "text"),
        ("user", "where is bob@example.com", ("input", 6, "queries", 0), "tool_call"),
        ("tool", "bob@example.com lives here", ("input", 6, "results", 0, "text"), "tool_result"),
        ("user", "print('bob@example.com')", ("input", 7, "code"), "tool_call"),
        ("tool", "bob@example.com printed", ("input", 7, "outputs", 0, "logs"), "tool_result"),
        ("user", "echo bob@example.com", ("input", 8, "action", "commands", 0), "tool_call"),
        ("tool", "bob@example.com out", ("input", 9, "output", 0, "stdout"), "tool_result"),
        ("tool", "bob@example.com err", ("input", 9, "output", 0, "stderr"), "tool_result"),
        ("user", "echo", ("input", 10, "action", "command", 0), "tool_call"),
        ("user", "bob@example.com", ("input", 10, "action", "command", 1), "tool_call"),
        ("user", "+bob@example.com", ("input", 11, "operation", "diff"), "tool_call"),
        ("user", "send('bob@example.com')", ("input", 12, "code"), "tool_call"),
        ("tool", "bob@example.com done", ("input", 13, "result"), "tool_result"),
        ("assistant", "not bob@example.com", ("input", 14, "content", 0, "refusal"), "text"),
        ("system", "More for bob@example.com", ("input", 15, "tools", 0, "description"), "tool_spec"),
        ("user", "bob@example.com", ("prompt", "variables", "customer"), "text"),
        ("user", "call bob@example.com", ("prompt", "variables", "note", "text"), "text"),
        ("system", "bob@example.com's CRM", ("tools", 0, "server_description"), "tool_spec"),
        ("system", "Mail for bob@example.com", ("tools", 1, "description"), "tool_spec"),
        ("system", "Send to bob@example.com", ("tools", 1, "tools", 0, "description"), "tool_spec"),
        ("system", "a reply to bob@example.com", ("text", "format", "description"), "tool_spec"),
    ]
    redact_round_trip(OPENAI.request_texts, RESPONSES_MORE, "bob@example.com")
    image = {"type": "image_generation_call", "id": "ig", "status": "completed", "result": "iVBORw0KGgo="}
    assert OPENAI.request_texts({"input": [image]}) == []  # the image itself is no text


RESPONSES_SEARCH = {
    "model": "gpt-5",
    "input": [
        {
            "type": "web_search_call",
            "id": "ws1",
            "status": "completed",
            "action": {
                "type": "search",
                "query": "where bob@example.com lives",
                "queries": ["bob@example.com home"],
                "sources": [{"type": "url", "url": "https://x"}],
            },
        },
        {
            "type": "web_search_call",
            "id": "ws2",
            "status": "completed",
            "action": {"type": "find_in_page", "pattern": "bob@example.com", "url": "https://x"},
        },
        {
            "type": "tool_search_call",
            "id": "ts1",
            "execution": "client",
            "status": "completed",
            "arguments": {"query": "mail bob@example.com", "paths": ["crm/bob@example.com"], "limit": 3},
        },
        {
            "type": "computer_call_output",
            "call_id": "cc1",
            "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            "acknowledged_safety_checks": [
                {"id": "sc1", "code": "malicious_instructions", "message": "bob@example.com asked for it"}
            ],
        },
    ],
    "tools": [
        {
            "type": "function",
            "name": "lookup",
            "parameters": {"type": "object", "properties": {}},
            "output_schema": {
                "type": "object",
                "properties": {"who": {"type": "string", "description": "bob@example.com"}},
            },
        },
        {
            "type": "namespace",
            "name": "crm",
            "description": "CRM",
            "tools": [{"type": "function", "name": "find", "output_schema": {"description": "finds bob@example.com"}}],
        },
    ],
}


def test_responses_web_and_tool_search_calls_safety_checks_and_output_schemas():
    got = [(t.role, t.text, t.path, t.kind) for t in OPENAI.request_texts(RESPONSES_SEARCH)]
    assert got == [
        ("user", "where bob@example.com lives", ("input", 0, "action", "query"), "tool_call"),
        ("user", "bob@example.com home", ("input", 0, "action", "queries", 0), "tool_call"),
        ("user", "bob@example.com", ("input", 1, "action", "pattern"), "tool_call"),
        ("user", "mail bob@example.com", ("input", 2, "arguments", "query"), "tool_call"),
        ("user", "crm/bob@example.com", ("input", 2, "arguments", "paths", 0), "tool_call"),
        (
            "tool",
            "bob@example.com asked for it",
            ("input", 3, "acknowledged_safety_checks", 0, "message"),
            "tool_result",
        ),
        ("system", "bob@example.com", ("tools", 0, "output_schema", "properties", "who", "description"), "tool_spec"),
        ("system", "CRM", ("tools", 1, "description"), "tool_spec"),
        ("system", "finds bob@example.com", ("tools", 1, "tools", 0, "output_schema", "description"), "tool_spec"),
    ]
    redact_round_trip(OPENAI.request_texts, RESPONSES_SEARCH, "bob@example.com")


NAME_OK = r"^[A-Za-z0-9_-]+$"


@pytest.mark.parametrize(
    ("value", "sent"),
    [("[EMAIL]", "_EMAIL_"), ("[EMAIL] of bob", "_EMAIL__of_bob"), ("", "_"), ("x" * 80, "x" * 64)],
)
def test_a_redacted_message_name_keeps_to_the_characters_openai_allows(value, sent):
    body = {"messages": [{"role": "user", "name": "bob@example.com", "content": "hi [EMAIL]"}]}
    OPENAI.write_text(body, ("messages", 0, "name"), value)
    assert body["messages"][0]["name"] == sent
    OPENAI.write_text(body, ("messages", 0, "content"), "[EMAIL] of bob")  # other fields: as they are
    assert body["messages"][0]["content"] == "[EMAIL] of bob"


def test_the_pii_module_redacts_a_message_name_into_a_valid_name():
    import re

    from leash_cli.modules.pii_detector import PiiDetector

    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "name": "bob@example.com", "content": "hi bob@example.com"}],
    }
    ex = exchange("openai", "chat/completions", body)
    PiiDetector(PiiDetector.Settings(action="redact")).policy(ex)
    ex.commit_body()
    msg = orjson.loads(ex.request_body)["messages"][0]
    assert "bob@example.com" not in msg["name"] and re.match(NAME_OK, msg["name"]), msg
    assert msg["content"] == "hi [EMAIL]"
