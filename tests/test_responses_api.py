"""The OpenAI Responses API and Embeddings through the gateway like Chat Completions: every input
item scanned (and redacted in place), usage and cost recorded, a block mid-stream an ``error``
event the official SDK raises; on the openai kind, an OpenAI-compatible preset and azure."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from fake_azure import FakeAzure
from leash_cli.store import open_readonly

EMAIL = "jane.doe@example.com"
OPENAI_KEY = "sk-proj-" + "Qx7Lm2Vb9Tz4Kp1Wn8Rc3Yd6Hf0Js5Ga" + "T3BlbkFJ" + "u2Ei9Ow4Nq7Zt1Xb"


def rows(gw: Any, sql: str = "select * from requests order by started_at") -> list[dict[str, Any]]:
    gw.flush()
    db = open_readonly(gw.db_path)
    try:
        return [dict(r) for r in db.query(sql)]
    finally:
        db.close()


ITEMS: list[Any] = [
    {"role": "user", "content": f"mail {EMAIL}"},
    {"role": "user", "content": [{"type": "input_text", "text": f"cc {EMAIL}"}]},
    {"type": "function_call", "call_id": "c1", "name": "send", "arguments": json.dumps({"to": EMAIL})},
    {"type": "function_call_output", "call_id": "c1", "output": f"sent to {EMAIL}"},
]


def test_every_input_item_and_the_instructions_are_redacted_in_place(start_gateway, upstream):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact", "check_responses": False}}})
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    c.responses.create(model="gpt-4o-mini", instructions=f"the admin is {EMAIL}", input=ITEMS)
    sent = json.loads(upstream.last().body)
    assert EMAIL not in json.dumps(sent) and json.dumps(sent).count("[EMAIL]") == 5
    assert sent["input"][2]["type"] == "function_call" and json.loads(sent["input"][2]["arguments"]) == {
        "to": "[EMAIL]"
    }
    assert sent["input"][3]["output"] == "sent to [EMAIL]"
    fields = sorted(v["field"] for v in rows(gw, "select field from violations"))
    assert fields == [
        "input.0.content",
        "input.1.content.0.text",
        "input.2.arguments",
        "input.3.output",
        "instructions",
    ]


def test_responses_usage_cost_and_text_are_recorded_streamed_or_not(start_gateway):
    gw = start_gateway()
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    whole = c.responses.create(model="gpt-4o-mini", instructions="be brief", input=ITEMS[3:] + ["hello"])
    with c.responses.stream(model="gpt-4o-mini", input="hello stream") as s:
        text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        final = s.get_final_response()
    assert text == final.output_text
    got = rows(gw)
    assert [(x["model"], x["stream"]) for x in got] == [("gpt-4o-mini", 0), ("gpt-4o-mini", 1)]
    assert got[0]["input_tokens"] == whole.usage.input_tokens and got[0]["output_tokens"] == whole.usage.output_tokens
    assert got[1]["output_tokens"] == final.usage.output_tokens and got[1]["input_tokens"] > 0
    assert all(x["cost_usd"] > 0 for x in got)
    assert got[0]["response_text"] == whole.output_text and got[1]["response_text"] == text
    prompt = got[0]["prompt_text"]
    assert "be brief" in prompt and f"sent to {EMAIL}" in prompt and "hello" in prompt


@pytest.mark.parametrize("how", ["create", "stream"])
def test_a_block_mid_stream_is_an_error_event_the_sdk_raises(start_gateway, how):
    gw = start_gateway({"modules": {"pii-detector": {"action": "block", "check_requests": False}}})
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    seen: list[str] = []
    with pytest.raises(openai.APIError) as e:
        if how == "create":
            for ev in c.responses.create(model="gpt-4o-mini", input=f"please write {EMAIL}", stream=True):
                seen.append(ev.type)
        else:
            with c.responses.stream(model="gpt-4o-mini", input=f"please write {EMAIL}") as s:
                for ev in s:
                    seen.append(ev.type)
    assert "EMAIL" in e.value.message and EMAIL not in str(seen)
    assert "response.completed" not in seen
    assert rows(gw)[-1]["outcome"] == "blocked"


def test_the_error_event_is_the_responses_apis_own(start_gateway):
    gw = start_gateway({"modules": {"pii-detector": {"action": "block", "check_requests": False}}})
    r = httpx.post(
        f"{gw.base('openai')}/responses",
        json={"model": "gpt-4o-mini", "input": f"please write {EMAIL}", "stream": True},
        headers={"authorization": "Bearer k"},
    )
    last = r.text.strip().split("\n\n")[-1].split("\n")
    assert last[0] == "event: error"
    data = json.loads(last[1].removeprefix("data: "))
    assert data["type"] == "error" and data["code"] == data["error"]["code"] and EMAIL not in r.text


def test_embeddings_inputs_are_scanned_and_priced(start_gateway, upstream):
    gw = start_gateway({"modules": {"pii-detector": {"action": "redact"}, "secrets-detector": {"action": "block"}}})
    c = openai.OpenAI(base_url=gw.base("openai"), api_key="k", max_retries=0)
    e = c.embeddings.create(model="text-embedding-3-small", input=["plain", f"mail {EMAIL}"])
    assert len(e.data) == 2
    assert json.loads(upstream.last().body)["input"] == ["plain", "mail [EMAIL]"]
    before = len(upstream.requests)
    with pytest.raises(openai.PermissionDeniedError):
        c.embeddings.create(model="text-embedding-3-small", input=f"key {OPENAI_KEY}")
    assert len(upstream.requests) == before
    got = rows(gw)
    assert got[0]["input_tokens"] > 0 and got[0]["cost_usd"] > 0 and got[1]["outcome"] == "blocked"
    assert OPENAI_KEY not in str(got) and EMAIL not in str(got)


def test_a_preset_provider_prices_responses_under_its_own_id(start_gateway, upstream):
    gw = start_gateway(
        {"providers": {"fast": {"preset": "groq", "endpoint": f"{upstream.url}/v1", "api_key": "gsk-held"}}}
    )
    c = openai.OpenAI(base_url=gw.base("fast"), api_key="k", max_retries=0)
    c.responses.create(model="llama-3.3-70b-versatile", input="hi")
    assert upstream.last().headers["authorization"] == "Bearer gsk-held"
    x = rows(gw)[-1]
    assert x["cost_usd"] > 0 and json.loads(x["cost_detail"])["provider"] == "groq"


def test_a_local_preset_leaves_models_unpriced_unless_the_config_prices_them(start_gateway, upstream):
    gw = start_gateway(
        {
            "providers": {
                "local": {"preset": "ollama", "endpoint": f"{upstream.url}/v1"},
                "priced": {"preset": "vllm", "endpoint": f"{upstream.url}/v1"},
            },
            "pricing": {"my-llama": {"input": 1.0, "output": 2.0}},
        }
    )
    openai.OpenAI(base_url=gw.base("local"), api_key="k", max_retries=0).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    openai.OpenAI(base_url=gw.base("priced"), api_key="k", max_retries=0).embeddings.create(
        model="my-llama", input="hi"
    )
    got = rows(gw)
    assert got[0]["cost_usd"] is None and got[0]["input_tokens"] > 0  # unpriced, not $0
    assert got[1]["cost_usd"] > 0


def test_responses_on_azure_with_input_items_are_redacted(start_gateway):
    fake = FakeAzure().start()
    try:
        gw = start_gateway(
            {
                "providers": {"azure": {"kind": "azure", "endpoint": fake.url, "api_key": fake.api_key}},
                "modules": {"pii-detector": {"action": "redact", "check_responses": False}},
            }
        )
        c = openai.AzureOpenAI(azure_endpoint=gw.base("azure"), api_version="2025-03-01-preview", api_key="x")
        r = c.responses.create(model="prod-4o", input=ITEMS)
        assert EMAIL not in fake.last().body.decode() and "[EMAIL]" in r.output_text
    finally:
        fake.stop()
