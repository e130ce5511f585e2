"""The Bedrock dialect on its own: texts of Converse and invoke bodies, the model and stream flag
from the path, usage, event-stream frames (split at any byte, CRCs checked), error shapes, pricing of
Bedrock ids, and the config checks of kind bedrock."""

from __future__ import annotations

import base64
import sys

import orjson
import pytest

from leash_cli.config import ConfigError, parse_config_text
from leash_cli.dialects import BEDROCK, guess_api
from leash_cli.dialects import eventstream as es
from leash_cli.dialects.bedrock import bare_model, usage_of
from leash_cli.pricing import Pricer

from .helpers import redact_round_trip, stream_redact

CONVERSE = {
    "system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"text": "hello"},
                {
                    "document": {
                        "format": "md",
                        "name": "d",
                        "source": {"bytes": base64.b64encode(b"doc text").decode()},
                    }
                },
                {"document": {"format": "pdf", "name": "p", "source": {"bytes": base64.b64encode(b"%PDF").decode()}}},
                {"image": {"format": "png", "source": {"bytes": "aGk="}}},
            ],
        },
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {"q": "tool arg"}}}]},
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "t",
                        "content": [{"text": "result text"}, {"json": {"k": ["json leaf"]}}],
                    }
                },
                {"guardContent": {"text": {"text": "guarded"}}},
            ],
        },
    ],
    "toolConfig": {"tools": [{"toolSpec": {"name": "f", "description": "tool doc", "inputSchema": {"json": {}}}}]},
    "promptVariables": {"city": {"text": "Paris"}},
}


def test_converse_request_texts_cover_every_block_kind():
    got = {(t.role, t.text, t.kind) for t in BEDROCK.request_texts(CONVERSE)}
    assert got == {
        ("system", "be brief", "text"),
        ("user", "hello", "text"),
        ("user", "doc text", "document"),
        ("assistant", "tool arg", "tool_call"),
        ("tool", "result text", "tool_result"),
        ("tool", "json leaf", "tool_result"),
        ("user", "guarded", "text"),
        ("system", "tool doc", "tool_spec"),
        ("user", "Paris", "text"),
    }


def test_a_redacted_base64_document_is_written_back_base64():
    body = orjson.loads(orjson.dumps(CONVERSE))
    doc = next(t for t in BEDROCK.request_texts(body) if t.kind == "document")
    BEDROCK.write_text(body, doc.path, "doc [REDACTED]")
    assert base64.b64decode(body["messages"][0]["content"][1]["document"]["source"]["bytes"]) == b"doc [REDACTED]"
    BEDROCK.write_text(body, ("messages", 0, "content", 0, "text"), "plain")
    assert body["messages"][0]["content"][0]["text"] == "plain"


def test_an_anthropic_invoke_body_is_read_as_anthropic_messages():
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "system": "sys",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert [(t.role, t.text) for t in BEDROCK.request_texts(body)] == [("system", "sys"), ("user", "hi")]
    assert [t.text for t in BEDROCK.request_texts({"prompt": "<s>[INST] llama [/INST]"})] == ["<s>[INST] llama [/INST]"]


@pytest.mark.parametrize(
    "rest,model,stream",
    [
        (
            "model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            False,
        ),
        ("model/us.amazon.nova-pro-v1:0/converse-stream", "us.amazon.nova-pro-v1:0", True),
        ("model/meta.llama3-8b-instruct-v1%3A0/invoke", "meta.llama3-8b-instruct-v1:0", False),
        ("model/x/invoke-with-response-stream", "x", True),
        ("guardrail/g1/version/1/apply", None, False),
    ],
)
def test_model_and_stream_come_from_the_path(rest, model, stream):
    assert BEDROCK.request_model(rest, {}, "") == (model, stream)


def test_the_model_id_goes_upstream_encoded_as_boto3_encodes_it():
    want = "model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
    assert BEDROCK.upstream_rest("model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke") == want
    assert BEDROCK.upstream_rest("model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke") == want
    assert BEDROCK.path_with_model("model/a.b-v1%3A0/converse", "c.d-v2:0") == "model/c.d-v2%3A0/converse"
    assert guess_api("model/a.b/converse", {}) == "bedrock"


def test_usage_adds_the_cache_parts_back():
    u = usage_of({"inputTokens": 4, "outputTokens": 30, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 1600})
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_write_tokens) == (1704, 30, 100, 1600)
    llama = BEDROCK.usage({"generation": "x", "prompt_token_count": 7, "generation_token_count": 3})
    assert llama is not None and (llama.input_tokens, llama.output_tokens) == (7, 3)
    anth = BEDROCK.usage({"type": "message", "content": [], "usage": {"input_tokens": 5, "output_tokens": 2}})
    assert anth is not None and (anth.input_tokens, anth.output_tokens) == (5, 2)


def _frames() -> list[bytes]:
    return [
        BEDROCK.encode_event("contentBlockDelta", {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": t}}})
        for t in ("Hel", "lo ", "wörld")
    ]


def test_frames_are_found_whatever_the_byte_boundaries():
    stream = b"".join(_frames())
    for step in (1, 2, 7, 13, len(stream)):
        sp = es.FrameSplitter()
        out: list[bytes] = []
        for i in range(0, len(stream), step):
            out += sp.feed(stream[i : i + step])
        assert out == _frames() and sp.pending == 0


def test_parse_and_encode_are_inverse_and_chunks_are_decoded():
    name, data = BEDROCK.parse_event(_frames()[2])
    assert name == "contentBlockDelta" and orjson.loads(data)["contentBlockDelta"]["delta"]["text"] == "wörld"
    inner = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}
    raw = es.encode(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
        orjson.dumps({"bytes": base64.b64encode(orjson.dumps(inner)).decode()}),
    )
    name, data = BEDROCK.parse_event(raw)
    assert name == "chunk" and orjson.loads(data) == {"chunk": inner}
    assert BEDROCK.parse_event(BEDROCK.encode_event(name, orjson.loads(data))) == (name, data)
    texts = BEDROCK.stream_texts(orjson.loads(data))
    assert [(t.text, t.path) for t in texts] == [("x", ("chunk", "delta", "text"))]


def test_corrupt_or_impossible_frames_are_refused():
    good = _frames()[0]
    bad = bytearray(good)
    bad[-5] ^= 1
    with pytest.raises(es.FrameError, match="message CRC"):
        es.FrameSplitter().feed(bytes(bad))
    bad = bytearray(good)
    bad[9] ^= 1
    with pytest.raises(es.FrameError, match="prelude CRC"):
        es.FrameSplitter().feed(bytes(bad))
    import struct
    import zlib

    huge = struct.pack(">II", es.MAX_FRAME + 1, 0)
    with pytest.raises(es.FrameError, match="impossible length"):  # refused before its bytes arrive
        es.FrameSplitter().feed(huge + struct.pack(">I", zlib.crc32(huge)))


def test_errors_carry_the_aws_error_type():
    assert orjson.loads(BEDROCK.error_body(403, "blocked", "policy_violation")) == {"message": "blocked"}
    assert BEDROCK.error_headers(429) == {"x-amzn-errortype": "ThrottlingException"}
    assert BEDROCK.error_headers(400) == {"x-amzn-errortype": "ValidationException"}
    h = es.headers_of(BEDROCK.stream_error("model/m/converse-stream", 403, "blocked"))
    assert h == {
        ":exception-type": "validationException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert (
        es.headers_of(BEDROCK.stream_error("model/m/converse-stream", 503, "x"))[":exception-type"]
        == "serviceUnavailableException"
    )


@pytest.mark.parametrize(
    "model,provider",
    [
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "aws"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "aws"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws"),
        ("eu.amazon.nova-pro-v1:0", "aws"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws",
        ),
        ("cohere.command-r-plus-v1:0", "cohere"),  # not listed under AWS: the vendor's own price
    ],
)
def test_bedrock_ids_are_priced(model, provider):
    rates = Pricer().rates("bedrock", model, "bedrock")
    assert rates is not None and rates.provider == provider and rates.source == "genai-prices"


def test_an_unknown_bedrock_model_is_unpriced_not_free():
    from leash_cli.dialects.base import Usage

    assert Pricer().price("bedrock", "anthropic.claude-made-up-v1:0", Usage(10, 10)) == (None, None)
    assert bare_model("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "anthropic.claude-3-5-sonnet-20240620"


def _load(provider: str) -> None:
    parse_config_text("providers:\n  bedrock:\n" + provider, "leash.yaml")


@pytest.mark.parametrize(
    "provider,message",
    [
        ("    kind: bedrock\n", "providers.bedrock.region: kind bedrock needs the AWS region"),
        ("    region: us-east\n", "'us-east' is not an AWS region name"),
        (
            "    region: us-east-1\n    aws_access_key_id: AKIAX\n",
            "aws_access_key_id and aws_secret_access_key go together",
        ),
        ("    region: us-east-1\n    aws_session_token: t\n", "aws_session_token: needs aws_access_key_id"),
        (
            "    region: us-east-1\n    profile: p\n    aws_access_key_id: a\n    aws_secret_access_key: b\n",
            "either aws_access_key_id / aws_secret_access_key or profile",
        ),
        ("    region: us-east-1\n    api_key: k\n    profile: p\n", "a Bedrock API key replaces SigV4"),
    ],
)
def test_config_errors_name_the_key_and_what_was_expected(provider, message):
    with pytest.raises(ConfigError) as e:
        _load(provider)
    assert message in str(e.value)


def test_aws_keys_belong_to_kind_bedrock_only():
    with pytest.raises(ConfigError, match="are for kind bedrock, not openai"):
        parse_config_text("providers:\n  openai:\n    region: us-east-1\n", "leash.yaml")


def test_the_endpoint_follows_the_region():
    cfg = parse_config_text("providers:\n  bedrock:\n    region: eu-central-1\n    api_key: k\n", "leash.yaml")
    assert cfg.providers["bedrock"].endpoint == "https://bedrock-runtime.eu-central-1.amazonaws.com"


def test_without_botocore_sigv4_is_a_config_error_naming_the_extra(monkeypatch):
    from leash_cli.providers import build_providers

    cfg = parse_config_text("providers:\n  bedrock:\n    region: us-east-1\n", "leash.yaml")
    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.setitem(sys.modules, "botocore.session", None)
    with pytest.raises(ConfigError, match=r"providers.bedrock: .*pip install 'leash-cli\[bedrock\]'"):
        build_providers(cfg)
    api_key = parse_config_text("providers:\n  bedrock:\n    region: us-east-1\n    api_key: k\n", "leash.yaml")
    assert build_providers(api_key)["bedrock"].holds_credentials  # a Bedrock API key needs no botocore


def test_the_signing_region_follows_the_endpoint_host():
    from leash_cli.credentials.bedrock import region_of

    assert region_of("bedrock-runtime.eu-west-3.amazonaws.com") == "eu-west-3"
    assert region_of("bedrock-runtime-fips.us-gov-west-1.amazonaws.com") == "us-gov-west-1"
    assert region_of("127.0.0.1:8080") is None


# -- fields the model reads that were not listed (each one a way around the scanners) ----------------

SEARCH_RESULT = {
    "source": "https://kb/bob",
    "title": "About bob@example.com",
    "content": [{"text": "bob@example.com here"}],
}

CONVERSE_MORE = {
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "document": {
                        "format": "txt",
                        "name": "d",
                        "context": "from bob@example.com",
                        "source": {"text": "t"},
                    }
                },
                {"searchResult": SEARCH_RESULT},
                {"toolResult": {"toolUseId": "t", "content": [{"searchResult": SEARCH_RESULT}]}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"citationsContent": {"content": [{"text": "bob@example.com, cited"}], "citations": []}}],
        },
    ],
    "toolConfig": {
        "tools": [
            {
                "toolSpec": {
                    "name": "f",
                    "inputSchema": {
                        "json": {
                            "type": "object",
                            "properties": {"to": {"type": "string", "description": "bob@example.com"}},
                        }
                    },
                }
            }
        ]
    },
}


def test_converse_search_results_document_context_citations_and_tool_schemas():
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(CONVERSE_MORE)]
    m0, sr = ("messages", 0, "content"), ("searchResult",)
    tr = (*m0, 2, "toolResult", "content", 0, "searchResult")
    assert got == [
        ("user", "t", (*m0, 0, "document", "source", "text"), "document"),
        ("user", "from bob@example.com", (*m0, 0, "document", "context"), "document"),
        ("user", "bob@example.com here", (*m0, 1, *sr, "content", 0, "text"), "document"),
        ("user", "About bob@example.com", (*m0, 1, *sr, "title"), "document"),
        ("user", "https://kb/bob", (*m0, 1, *sr, "source"), "document"),
        ("tool", "bob@example.com here", (*tr, "content", 0, "text"), "document"),
        ("tool", "About bob@example.com", (*tr, "title"), "document"),
        ("tool", "https://kb/bob", (*tr, "source"), "document"),
        (
            "assistant",
            "bob@example.com, cited",
            ("messages", 1, "content", 0, "citationsContent", "content", 0, "text"),
            "text",
        ),
        (
            "system",
            "bob@example.com",
            ("toolConfig", "tools", 0, "toolSpec", "inputSchema", "json", "properties", "to", "description"),
            "tool_spec",
        ),
    ]
    redact_round_trip(BEDROCK.request_texts, CONVERSE_MORE, "bob@example.com")


def test_an_anthropic_invoke_body_reads_search_results_and_documents_in_tool_results():
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [
                            {
                                "type": "search_result",
                                "source": "s",
                                "title": "t",
                                "content": [{"type": "text", "text": "bob@example.com"}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    assert "bob@example.com" in [t.text for t in BEDROCK.request_texts(body)]


# -- other model families' invoke bodies --------------------------------------------------------------

COHERE = {
    "preamble": "You serve bob@example.com",
    "chat_history": [
        {"role": "USER", "message": "I am bob@example.com"},
        {"role": "CHATBOT", "message": "Hello bob@example.com"},
    ],
    "message": "mail bob@example.com",
    "documents": [{"title": "About bob@example.com", "snippet": "bob@example.com lives here"}],
    "tool_results": [
        {
            "call": {"name": "lookup", "parameters": {"who": "bob@example.com"}},
            "outputs": [{"text": "bob@example.com found", "rank": 1}],
        }
    ],
    "tools": [
        {
            "name": "lookup",
            "description": "Looks up bob@example.com",
            "parameter_definitions": {"who": {"description": "e.g. bob@example.com", "type": "str", "required": True}},
        }
    ],
    "max_tokens": 100,
}


def test_a_cohere_command_r_body_reads_history_documents_preamble_tool_results_and_tools():
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(COHERE)]
    assert got == [
        ("system", "You serve bob@example.com", ("preamble",), "text"),
        ("user", "I am bob@example.com", ("chat_history", 0, "message"), "text"),
        ("assistant", "Hello bob@example.com", ("chat_history", 1, "message"), "text"),
        ("user", "mail bob@example.com", ("message",), "text"),
        ("user", "About bob@example.com", ("documents", 0, "title"), "document"),
        ("user", "bob@example.com lives here", ("documents", 0, "snippet"), "document"),
        ("assistant", "bob@example.com", ("tool_results", 0, "call", "parameters", "who"), "tool_call"),
        ("tool", "bob@example.com found", ("tool_results", 0, "outputs", 0, "text"), "tool_result"),
        ("system", "Looks up bob@example.com", ("tools", 0, "description"), "tool_spec"),
        (
            "system",
            "e.g. bob@example.com",
            ("tools", 0, "parameter_definitions", "who", "description"),
            "tool_spec",
        ),
    ]
    redact_round_trip(BEDROCK.request_texts, COHERE, "bob@example.com")


GPT_OSS = {
    "messages": [
        {"role": "developer", "content": "Serve bob@example.com"},
        {"role": "user", "name": "bob", "content": "mail bob@example.com"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "send", "arguments": '{"to": "bob@example.com"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sent to bob@example.com"},
        {"role": "user", "content": [{"type": "text", "text": "thanks bob@example.com"}]},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "send",
                "description": "Mail bob@example.com",
                "parameters": {
                    "type": "object",
                    "properties": {"to": {"type": "string", "description": "bob@example.com"}},
                },
            },
        }
    ],
    "max_completion_tokens": 100,
}


def test_an_openai_shaped_invoke_body_reads_tool_calls_tool_results_names_and_tools():
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(GPT_OSS)]
    fn = ("tools", 0, "function")
    assert got == [
        ("developer", "Serve bob@example.com", ("messages", 0, "content"), "text"),
        ("user", "mail bob@example.com", ("messages", 1, "content"), "text"),
        ("user", "bob", ("messages", 1, "name"), "name"),
        (
            "assistant",
            '{"to": "bob@example.com"}',
            ("messages", 2, "tool_calls", 0, "function", "arguments"),
            "tool_call",
        ),
        ("tool", "sent to bob@example.com", ("messages", 3, "content"), "tool_result"),
        ("user", "thanks bob@example.com", ("messages", 4, "content", 0, "text"), "text"),
        ("system", "Mail bob@example.com", (*fn, "description"), "tool_spec"),
        ("system", "bob@example.com", (*fn, "parameters", "properties", "to", "description"), "tool_spec"),
    ]
    redact_round_trip(BEDROCK.request_texts, GPT_OSS, "bob@example.com")


def test_a_redacted_name_in_an_openai_shaped_invoke_body_keeps_the_allowed_characters():
    body = orjson.loads(orjson.dumps(GPT_OSS))
    BEDROCK.write_text(body, ("messages", 1, "name"), "[EMAIL] of bob")
    assert body["messages"][1]["name"] == "_EMAIL__of_bob"
    BEDROCK.write_text(body, ("messages", 1, "content"), "[EMAIL] of bob")  # other fields as they are
    assert body["messages"][1]["content"] == "[EMAIL] of bob"


def test_llama_mistral_titan_and_nova_invoke_bodies_were_read_already():
    """Pins what was read before: Llama / Mistral ``prompt``, Titan ``inputText``, and Nova's body
    (Converse-shaped: ``system[].text``, ``messages[].content[]`` blocks, ``toolResult``, ``toolSpec``)."""
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts({"prompt": "<s>[INST] bob [/INST]"})]
    assert got == [("user", "<s>[INST] bob [/INST]", ("prompt",), "text")]
    titan = {"inputText": "bob@example.com", "textGenerationConfig": {"maxTokenCount": 10}}
    assert [(t.text, t.path) for t in BEDROCK.request_texts(titan)] == [("bob@example.com", ("inputText",))]
    nova = {
        "schemaVersion": "messages-v1",
        "system": [{"text": "Serve bob@example.com"}],
        "messages": [
            {"role": "user", "content": [{"text": "mail bob@example.com"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {"to": "bob"}}}]},
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"r": "bob@example.com"}}]}}],
            },
        ],
        "toolConfig": {"tools": [{"toolSpec": {"name": "f", "description": "to bob@example.com"}}]},
        "inferenceConfig": {"maxTokens": 10},
    }
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(nova)]
    assert got == [
        ("system", "Serve bob@example.com", ("system", 0, "text"), "text"),
        ("user", "mail bob@example.com", ("messages", 0, "content", 0, "text"), "text"),
        ("assistant", "bob", ("messages", 1, "content", 0, "toolUse", "input", "to"), "tool_call"),
        (
            "tool",
            "bob@example.com",
            ("messages", 2, "content", 0, "toolResult", "content", 0, "json", "r"),
            "tool_result",
        ),
        ("system", "to bob@example.com", ("toolConfig", "tools", 0, "toolSpec", "description"), "tool_spec"),
    ]
    redact_round_trip(BEDROCK.request_texts, nova, "bob@example.com")


def test_a_message_with_parts_and_more_keys_reads_both_its_blocks_and_its_openai_fields():
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "calling"}],
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "r"}]}}], "x": 1},
            {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "done"}]},
        ]
    }
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(body)]
    assert got == [
        ("assistant", "calling", ("messages", 0, "content", 0, "text"), "text"),
        ("assistant", "{}", ("messages", 0, "tool_calls", 0, "function", "arguments"), "tool_call"),
        ("tool", "r", ("messages", 1, "content", 0, "toolResult", "content", 0, "text"), "tool_result"),
        ("tool", "done", ("messages", 2, "content", 0, "text"), "tool_result"),
    ]


def test_a_plain_source_bytes_field_outside_a_converse_document_is_not_written_back_as_base64():
    """Only a Converse document's ``source.bytes`` is base64: a Cohere document's own field of that name
    is plain text, and a redaction there is written as it is."""
    body = {"message": "summarise", "documents": [{"title": "t", "source": {"bytes": "mail bob@example.com"}}]}
    (t,) = [t for t in BEDROCK.request_texts(body) if "bob" in t.text]
    assert t.path == ("documents", 0, "source", "bytes")
    BEDROCK.write_text(body, t.path, "mail [EMAIL]")
    assert body["documents"][0]["source"]["bytes"] == "mail [EMAIL]"


def test_deeply_nested_json_leaves_are_read_without_recursion():
    """A tool's input may nest as deep as the JSON parser allows (orjson: 1,024 levels), deeper than Python's
    recursion limit."""
    deep = "[" * 1000 + '"bob@example.com"' + "]" * 1000
    body = orjson.loads(
        '{"messages": [{"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "x", "input": {"a": '
        + deep
        + "}}}]}]}"
    )
    (t,) = BEDROCK.request_texts(body)
    assert t.text == "bob@example.com" and t.kind == "tool_call" and len(t.path) == 1000 + 7


def test_openai_parts_and_a_tool_message_as_parts_in_an_invoke_body_read_as_openai():
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "mail bob@example.com"}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "not to bob@example.com"}]},
            {"role": "tool", "content": [{"type": "text", "text": "bob@example.com found"}]},
        ],
        "max_tokens": 64,
    }
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(body)]
    assert got == [
        ("user", "mail bob@example.com", ("messages", 0, "content", 0, "text"), "text"),
        ("assistant", "not to bob@example.com", ("messages", 1, "content", 0, "refusal"), "text"),
        ("tool", "bob@example.com found", ("messages", 2, "content", 0, "text"), "tool_result"),
    ]
    redact_round_trip(BEDROCK.request_texts, body, "bob@example.com")


def test_openai_shaped_invoke_answers_are_read_buffered_and_streamed():
    """gpt-oss on Bedrock answers in the OpenAI chat shape: a completion's choices, and a stream's chunks
    with choices' deltas (in the event stream's ``chunk``)."""
    answer = {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "write to bob@example.com",
                    "tool_calls": [
                        {
                            "id": "t",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"to": "bob@example.com"}'},
                        }
                    ],
                },
                "finish_reason": "stop",
            }
        ],
    }
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.response_texts(answer)]
    assert got == [
        ("assistant", "write to bob@example.com", ("choices", 0, "message", "content"), "text"),
        (
            "assistant",
            '{"to": "bob@example.com"}',
            ("choices", 0, "message", "tool_calls", 0, "function", "arguments"),
            "tool_call",
        ),
    ]
    assert BEDROCK.body_text(answer) == ["write to bob@example.com"]
    redact_round_trip(BEDROCK.response_texts, answer, "bob@example.com")

    chunk = {
        "chunk": {
            "choices": [
                {"index": 0, "delta": {"content": "mail bob@example.com"}, "finish_reason": None},
                {"index": 1, "delta": {"reasoning_content": "bob@example.com?"}, "finish_reason": "stop"},
            ],
            "usage": {"prompt_tokens": 3},
        }
    }
    texts = BEDROCK.stream_texts(chunk)
    assert [(t.text, t.path) for t in texts] == [
        ("mail bob@example.com", ("chunk", "choices", 0, "delta", "content")),
        ("bob@example.com?", ("chunk", "choices", 1, "delta", "reasoning_content")),
    ]
    assert BEDROCK.stream_key(chunk, texts[0]) != BEDROCK.stream_key(chunk, texts[1])
    stream_redact(BEDROCK, chunk, "bob@example.com")
    BEDROCK.clear_finish(chunk)
    assert [c["finish_reason"] for c in chunk["chunk"]["choices"]] == [None, None] and "usage" not in chunk["chunk"]


def test_anthropic_typed_blocks_after_a_text_block_in_a_converse_shaped_message_are_read():
    """A list led by a typed text block is not necessarily OpenAI's: Anthropic blocks in it still reach the
    Anthropic reading (a tool result's text here), and an OpenAI refusal part the OpenAI one."""
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see below"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "bob@example.com"}],
                    },
                    {"type": "refusal", "refusal": "not bob@example.com"},
                ],
            }
        ]
    }
    got = [(t.role, t.text, t.path, t.kind) for t in BEDROCK.request_texts(body)]
    assert got == [
        ("user", "see below", ("messages", 0, "content", 0, "text"), "text"),
        ("tool", "bob@example.com", ("messages", 0, "content", 1, "content", 0, "text"), "tool_result"),
        ("user", "not bob@example.com", ("messages", 0, "content", 2, "refusal"), "text"),
    ]
    redact_round_trip(BEDROCK.request_texts, body, "bob@example.com")
