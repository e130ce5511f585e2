"""The Gemini dialect: generateContent requests, responses, streams (SSE and JSON array) and errors."""

from __future__ import annotations

import orjson
import pytest

from leash_cli.dialects import GOOGLE, Usage, for_api
from leash_cli.dialects.base import Encoded
from leash_cli.usage import UsageTracker

from .helpers import exchange, redact_round_trip, sse, stream_redact, track_stream

REQUEST = {
    "systemInstruction": {"parts": [{"text": "Help bob@example.com."}]},
    "contents": [
        {
            "role": "user",
            "parts": [{"text": "Who is bob@example.com?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "lookup", "args": {"who": "bob@example.com", "tags": ["a", 1]}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "bob@example.com is Bob"}}}],
        },
        {"parts": [{"text": "no role"}, {"function_call": {"name": "f", "args": {"x": "snake"}}}]},
    ],
    "tools": [{"functionDeclarations": [{"name": "lookup", "description": "Find a person"}]}],
}


def test_the_lookup():
    assert for_api("google") is GOOGLE


def test_request_texts_with_function_calls_and_responses():
    got = [(t.role, t.text, t.path, t.kind) for t in GOOGLE.request_texts(REQUEST)]
    assert got == [
        ("system", "Help bob@example.com.", ("systemInstruction", "parts", 0, "text"), "text"),
        ("user", "Who is bob@example.com?", ("contents", 0, "parts", 0, "text"), "text"),
        ("model", "bob@example.com", ("contents", 1, "parts", 0, "functionCall", "args", "who"), "tool_call"),
        ("model", "a", ("contents", 1, "parts", 0, "functionCall", "args", "tags", 0), "tool_call"),
        (
            "user",
            "bob@example.com is Bob",
            ("contents", 2, "parts", 0, "functionResponse", "response", "result"),
            "tool_result",
        ),
        ("user", "no role", ("contents", 3, "parts", 0, "text"), "text"),
        ("user", "snake", ("contents", 3, "parts", 1, "function_call", "args", "x"), "tool_call"),
        ("system", "Find a person", ("tools", 0, "functionDeclarations", 0, "description"), "tool_spec"),
    ]
    snake = {"system_instruction": "plain system", "contents": []}
    assert [(t.text, t.path) for t in GOOGLE.request_texts(snake)] == [("plain system", ("system_instruction",))]


def test_request_redaction_round_trip():
    wire, _ = redact_round_trip(GOOGLE.request_texts, REQUEST, "bob@example.com")
    assert wire["contents"][1]["parts"][0]["functionCall"]["args"] == {"who": "[REDACTED]", "tags": ["a", 1]}
    assert wire["contents"][0]["parts"][1] == REQUEST["contents"][0]["parts"][1]


RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True},
                    {"text": "Bob is bob@example.com."},
                    {"functionCall": {"name": "mail", "args": {"to": "bob@example.com"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "toolUsePromptTokenCount": 5,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 60,
        "totalTokenCount": 155,
    },
    "modelVersion": "gemini-2.5-flash-001",
}


def test_response_texts_usage_and_round_trip():
    assert [(t.text, t.path, t.kind) for t in GOOGLE.response_texts(RESPONSE)] == [
        ("thinking...", ("candidates", 0, "content", "parts", 0, "text"), "text"),
        ("Bob is bob@example.com.", ("candidates", 0, "content", "parts", 1, "text"), "text"),
        ("bob@example.com", ("candidates", 0, "content", "parts", 2, "functionCall", "args", "to"), "tool_call"),
    ]
    redact_round_trip(GOOGLE.response_texts, RESPONSE, "bob@example.com")
    # the JSON-array stream (no alt=sse): each element's texts, under its index
    arr = [RESPONSE, RESPONSE]
    assert [t.path[:2] for t in GOOGLE.response_texts(arr)][-1] == (1, "candidates")
    redact_round_trip(GOOGLE.response_texts, arr, "bob@example.com")
    assert GOOGLE.usage(RESPONSE) == Usage(
        input_tokens=105, output_tokens=50, cached_input_tokens=60, reasoning_tokens=30
    )
    assert GOOGLE.usage({"usage": {"prompt_tokens": 1}}) is None
    ex = exchange("google", "v1beta/models/gemini-2.5-flash:generateContent")
    UsageTracker(ex).on_json(orjson.dumps(RESPONSE))
    assert ex.response_text == "Bob is bob@example.com." and ex.model == "gemini-2.5-flash-001"  # thoughts left out
    blocked = exchange("google", "v1beta/models/g:generateContent")
    UsageTracker(blocked).on_json(b'{"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}}')
    assert blocked.response_text == ""


def _chunk(text, usage, finish=None):
    cand = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-x"}


STREAM = sse(
    (None, _chunk("Hello ", {"promptTokenCount": 9, "totalTokenCount": 9})),
    (None, _chunk("bob", {"promptTokenCount": 9, "candidatesTokenCount": 2, "totalTokenCount": 11}, "STOP")),
)


def test_stream_usage_and_text():
    path = "v1beta/models/gemini-x:streamGenerateContent"
    ex = exchange("google", path, {"contents": []}, stream=True)
    assert len(track_stream(GOOGLE, ex, STREAM)) == 2
    assert ex.usage == Usage(input_tokens=9, output_tokens=2)
    assert ex.response_text == "Hello bob" and ex.model == "gemini-x"
    arr = exchange("google", path)
    UsageTracker(arr).on_json(
        b"["
        + orjson.dumps(_chunk("a", {"promptTokenCount": 1}))
        + b","
        + orjson.dumps(_chunk("b", {"promptTokenCount": 1, "candidatesTokenCount": 1}))
        + b"]"
    )
    assert arr.response_text == "ab" and arr.usage == Usage(input_tokens=1, output_tokens=1)


def test_stream_texts_keys_aggregates_and_redaction():
    ev = _chunk("to bob@example.com", {}, "STOP")
    [t] = GOOGLE.stream_texts(ev)
    assert t.path == ("candidates", 0, "content", "parts", 0, "text")
    assert GOOGLE.stream_key(ev, t) == ("g", 0, "text", "text")
    wire = stream_redact(GOOGLE, ev, "bob@example.com")
    assert wire["candidates"][0]["content"]["parts"][0]["text"] == "to ***"
    call = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"q": "bob"}}}]}}]}
    assert GOOGLE.stream_texts(call) == []  # function calls arrive whole ...
    [a] = GOOGLE.aggregate_texts(call)  # ... and are scanned whole
    assert (a.text, a.path, a.kind) == (
        "bob",
        ("candidates", 0, "content", "parts", 0, "functionCall", "args", "q"),
        "tool_call",
    )
    assert GOOGLE.aggregate_texts(ev) == []
    GOOGLE.clear_finish(ev)
    assert "finishReason" not in ev["candidates"][0]


@pytest.mark.parametrize(
    "status,gs",
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (413, "INVALID_ARGUMENT"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (502, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
        (422, "INVALID_ARGUMENT"),
        (501, "INTERNAL"),
    ],
)
def test_error_shape(status, gs):
    assert orjson.loads(GOOGLE.error_body(status, "blocked", "policy_violation")) == {
        "error": {
            "code": status,
            "message": "blocked",
            "status": gs,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "policy_violation", "domain": "leash"}
            ],
        }
    }
    assert "details" not in orjson.loads(GOOGLE.error_body(status, "x"))["error"]
    assert GOOGLE.error_event(b"{}") == b"data: {}\n\n"


def test_model_and_stream_from_the_path():
    assert GOOGLE.request_model("v1beta/models/gemini-2.5-flash:generateContent", {"model": "no"}) == (
        "gemini-2.5-flash",
        False,
    )
    rest = "v1beta/models/gemini%2D2.5:streamGenerateContent"
    assert GOOGLE.request_model(rest, None) == ("gemini-2.5", True)
    assert GOOGLE.request_model(rest, None, "alt=sse") == ("gemini-2.5", True)
    assert GOOGLE.request_model(rest, None, "") == ("gemini-2.5", False)  # no alt=sse: one JSON array
    assert GOOGLE.request_model("v1beta/models", None) == (None, False)
    assert GOOGLE.path_with_model("v1beta/models/a:generateContent", "b") == "v1beta/models/b:generateContent"


def test_paths_keys_and_caps():
    assert GOOGLE.upstream_rest("models/g:generateContent") == "v1beta/models/g:generateContent"
    for rest in ("v1/models", "v1alpha/x", "upload/v1beta/files", "v1beta/models"):
        assert GOOGLE.upstream_rest(rest) == rest
    assert GOOGLE.auth_header("AIza") == ("x-goog-api-key", "AIza") and GOOGLE.key_in_query
    body: dict = {"generationConfig": {"temperature": 0}}
    assert GOOGLE.cap_output_tokens(body, "v1beta/models/g:generateContent", 64)
    assert body == {"generationConfig": {"temperature": 0, "maxOutputTokens": 64}}
    path, query, built = GOOGLE.build_request(
        "gemini-x", [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}], "sys", True
    )
    assert (path, query) == ("v1beta/models/gemini-x:streamGenerateContent", "alt=sse")
    assert [(t.role, t.text) for t in GOOGLE.request_texts(built)] == [("system", "sys"), ("model", "a"), ("user", "q")]


# -- parts the model reads that were not listed (each one a way around the scanners) ----------------

REQUEST_MORE = {
    "systemInstruction": {},
    "system_instruction": {"parts": [{"text": "Help bob@example.com."}]},
    "contents": [
        {
            "role": "model",
            "parts": [
                {"executableCode": {"language": "PYTHON", "code": "print('bob@example.com')"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "bob@example.com printed"}},
                {"toolCall": {"id": "t1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"q": "bob@example.com"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "toolResponse": {
                        "id": "t1",
                        "toolType": "GOOGLE_SEARCH_WEB",
                        "response": {"hit": "bob@example.com page"},
                    }
                },
                {
                    "functionResponse": {
                        "name": "read",
                        "response": {},
                        "parts": [
                            {"inlineData": {"mimeType": "text/plain", "data": "Ym9iQGV4YW1wbGUuY29tIGluIGEgZmlsZQ=="}}
                        ],
                    }
                },
                {"code_execution_result": {"outcome": "OUTCOME_OK", "output": "snake bob@example.com"}},
            ],
        },
    ],
}


def test_code_execution_server_tools_function_response_parts_and_the_snake_case_system_instruction():
    got = [(t.role, t.text, t.path, t.kind) for t in GOOGLE.request_texts(REQUEST_MORE)]
    c0, c1 = ("contents", 0, "parts"), ("contents", 1, "parts")
    b64 = Encoded("")
    assert got == [
        ("system", "Help bob@example.com.", ("system_instruction", "parts", 0, "text"), "text"),
        ("model", "print('bob@example.com')", (*c0, 0, "executableCode", "code"), "tool_call"),
        ("model", "bob@example.com printed", (*c0, 1, "codeExecutionResult", "output"), "tool_result"),
        ("model", "bob@example.com", (*c0, 2, "toolCall", "args", "q"), "tool_call"),
        ("user", "bob@example.com page", (*c1, 0, "toolResponse", "response", "hit"), "tool_result"),
        (
            "user",
            "bob@example.com in a file",
            (*c1, 1, "functionResponse", "parts", 0, "inlineData", "data", b64),
            "document",
        ),
        ("user", "snake bob@example.com", (*c1, 2, "code_execution_result", "output"), "tool_result"),
    ]
    redact_round_trip(GOOGLE.request_texts, REQUEST_MORE, "bob@example.com")


def test_embed_content_texts():
    single = {"content": {"parts": [{"text": "embed bob@example.com"}]}, "title": "bob@example.com's note"}
    assert [(t.text, t.path) for t in GOOGLE.request_texts(single)] == [
        ("embed bob@example.com", ("content", "parts", 0, "text")),
        ("bob@example.com's note", ("title",)),
    ]
    batch = {"requests": [{"model": "models/e", "content": {"parts": [{"text": "bob@example.com"}]}, "title": "t"}]}
    assert [(t.text, t.path) for t in GOOGLE.request_texts(batch)] == [
        ("bob@example.com", ("requests", 0, "content", "parts", 0, "text")),
        ("t", ("requests", 0, "title")),
    ]
    redact_round_trip(GOOGLE.request_texts, batch, "bob@example.com")


TOOL_RESPONSE_SCHEMAS = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "f",
                    "description": "F",
                    "response": {
                        "type": "OBJECT",
                        "properties": {"who": {"type": "STRING", "description": "bob@example.com"}},
                    },
                },
                {"name": "g", "responseJsonSchema": {"type": "object", "description": "g for bob@example.com"}},
            ]
        },
        {"function_declarations": [{"name": "h", "response_json_schema": {"title": "h of bob@example.com"}}]},
    ],
}


def test_function_declarations_response_schemas_are_read():
    got = [(t.role, t.text, t.path, t.kind) for t in GOOGLE.request_texts(TOOL_RESPONSE_SCHEMAS)]
    d = ("tools", 0, "functionDeclarations")
    assert got == [
        ("user", "hi", ("contents", 0, "parts", 0, "text"), "text"),
        ("system", "F", (*d, 0, "description"), "tool_spec"),
        ("system", "bob@example.com", (*d, 0, "response", "properties", "who", "description"), "tool_spec"),
        ("system", "g for bob@example.com", (*d, 1, "responseJsonSchema", "description"), "tool_spec"),
        (
            "system",
            "h of bob@example.com",
            ("tools", 1, "function_declarations", 0, "response_json_schema", "title"),
            "tool_spec",
        ),
    ]
    redact_round_trip(GOOGLE.request_texts, TOOL_RESPONSE_SCHEMAS, "bob@example.com")


BATCH = {
    "batch": {
        "displayName": "nightly",
        "inputConfig": {
            "requests": {
                "requests": [
                    {
                        "request": {
                            "model": "models/gemini-2.5-flash",
                            "contents": [{"role": "user", "parts": [{"text": "mail bob@example.com"}]}],
                            "systemInstruction": {"parts": [{"text": "Serve bob@example.com"}]},
                            "tools": [{"functionDeclarations": [{"name": "f", "description": "to bob@example.com"}]}],
                        },
                        "metadata": {"key": "k1"},
                    },
                    {
                        "request": {
                            "contents": [
                                {
                                    "role": "user",
                                    "parts": [
                                        {"functionResponse": {"name": "f", "response": {"r": "bob@example.com"}}}
                                    ],
                                }
                            ]
                        }
                    },
                ]
            }
        },
    }
}


def test_batch_generate_content_reads_each_inlined_request():
    got = [(t.role, t.text, t.path, t.kind) for t in GOOGLE.request_texts(BATCH)]
    r = ("batch", "inputConfig", "requests", "requests")
    assert got == [
        ("system", "Serve bob@example.com", (*r, 0, "request", "systemInstruction", "parts", 0, "text"), "text"),
        ("user", "mail bob@example.com", (*r, 0, "request", "contents", 0, "parts", 0, "text"), "text"),
        (
            "system",
            "to bob@example.com",
            (*r, 0, "request", "tools", 0, "functionDeclarations", 0, "description"),
            "tool_spec",
        ),
        (
            "user",
            "bob@example.com",
            (*r, 1, "request", "contents", 0, "parts", 0, "functionResponse", "response", "r"),
            "tool_result",
        ),
    ]
    redact_round_trip(GOOGLE.request_texts, BATCH, "bob@example.com")
    snake = {"batch": {"input_config": {"requests": {"requests": [{"request": {"contents": "x"}}]}}}}
    assert GOOGLE.request_texts(snake) == []
    snake["batch"]["input_config"]["requests"]["requests"][0]["request"] = {"contents": [{"parts": [{"text": "t"}]}]}
    assert [t.path for t in GOOGLE.request_texts(snake)] == [
        ("batch", "input_config", "requests", "requests", 0, "request", "contents", 0, "parts", 0, "text")
    ]
