"""Fields that were never scanned (issue #25 item 7), through the gateway with the official SDKs:
tool parameter schemas in all three dialects, base64 text documents and files, streamed `data:`
lines with extra leading whitespace, and response bodies that are not JSON."""

from __future__ import annotations

import base64

import anthropic
import httpx
import openai
import pytest
from google import genai

EMAIL = "jane.doe@example.com"
OPENAI_KEY = "sk-proj-" + "Qx7Lm2Vb9Tz4Kp1Wn8Rc3Yd6Hf0Js5Ga" + "T3BlbkFJ" + "u2Ei9Ow4Nq7Zt1Xb"
SECRETS = {"modules": {"secrets-detector": {}}}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_tool_parameter_schemas_are_scanned_in_all_three_dialects(start_gateway, upstream):
    gw = start_gateway(SECRETS)
    before = len(upstream.requests)
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    schema = {
        "type": "object",
        "properties": {"to": {"type": "string", "description": f"always use the key {OPENAI_KEY}"}},
    }
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "send", "parameters": schema}}],
        )
    with pytest.raises(openai.PermissionDeniedError):  # the Responses API's flat tools, an enum value
        c.responses.create(
            model="gpt-4o",
            input="hi",
            tools=[
                {
                    "type": "function",
                    "name": "send",
                    "strict": False,
                    "parameters": {
                        "type": "object",
                        "properties": {"mode": {"type": "string", "enum": ["fast", OPENAI_KEY]}},
                    },
                }
            ],
        )
    a = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        a.messages.create(
            model="claude",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            tools=[
                {
                    "name": "send",
                    "input_schema": {
                        "type": "object",
                        "properties": {"to": {"type": "array", "items": {"type": "string", "enum": [OPENAI_KEY]}}},
                    },
                }
            ],
        )
    g = genai.Client(api_key="AIza-k", http_options={"base_url": gw.base("google")})
    with pytest.raises(genai.errors.ClientError) as e:
        g.models.generate_content(
            model="gemini-2.0-flash",
            contents="hi",
            config={
                "tools": [
                    {
                        "function_declarations": [
                            {
                                "name": "send",
                                "parameters": {
                                    "type": "OBJECT",
                                    "properties": {"to": {"type": "STRING", "description": f"key {OPENAI_KEY}"}},
                                },
                            }
                        ]
                    }
                ]
            },
        )
    assert e.value.code == 403
    assert len(upstream.requests) == before  # none of them left


def test_base64_text_documents_are_decoded_and_scanned(start_gateway, upstream):
    gw = start_gateway(SECRETS)
    before = len(upstream.requests)
    a = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="k", max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        a.messages.create(
            model="claude",
            max_tokens=5,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "text/plain", "data": _b64(f"k={OPENAI_KEY}")},
                        },
                        {"type": "text", "text": "summarise"},
                    ],
                }
            ],
        )
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(
            model="gpt-4o",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "notes.txt",
                                "file_data": f"data:text/plain;base64,{_b64(OPENAI_KEY)}",
                            },
                        }
                    ],
                }
            ],
        )
    with pytest.raises(openai.PermissionDeniedError):
        c.responses.create(
            model="gpt-4o",
            input=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "filename": "env.md",
                            "file_data": f"data:text/markdown;base64,{_b64('x ' + OPENAI_KEY)}",
                        }
                    ],
                }
            ],
        )
    assert len(upstream.requests) == before
    # a PDF is not decoded as text (nothing to find, nothing broken)
    c.chat.completions.create(
        model="gpt-4o",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
                ],
            }
        ],
    )


def test_redaction_inside_a_base64_document_is_encoded_again(start_gateway, upstream):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact", "check_responses": False}}})
    a = anthropic.Anthropic(base_url=gw.base("anthropic"), api_key="k", max_retries=0)
    a.messages.create(
        model="claude",
        max_tokens=5,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "text/plain", "data": _b64(f"write to {EMAIL}")},
                    }
                ],
            }
        ],
    )
    sent = upstream.last().body
    doc = httpx.Response(200, content=sent).json()["messages"][0]["content"][0]["source"]
    assert doc["type"] == "base64" and base64.b64decode(doc["data"]).decode() == "write to [EMAIL]"


def test_stream_data_lines_with_extra_whitespace_are_scanned(start_gateway):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact", "check_requests": False}}})
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    stream = c.chat.completions.create(
        model="spaced-stream", messages=[{"role": "user", "content": f"mail {EMAIL} now"}], stream=True
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert "You said" in text  # the client read these events ...
    assert EMAIL not in text and "[EMAIL]" in text  # ... and so did the scanner


def test_non_json_response_bodies_go_through_response_modules(start_gateway):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact", "check_requests": False}}})
    r = httpx.post(
        f"{gw.base('openai')}/chat/completions",
        json={"model": "text-body", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert EMAIL not in r.text and "[EMAIL]" in r.text
    gw2 = start_gateway({"modules": {"pii-detector": {"action": "block", "check_requests": False}}})
    r = httpx.post(
        f"{gw2.base('openai')}/chat/completions",
        json={"model": "text-body", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]},
    )
    assert r.status_code == 403 and EMAIL not in r.text
