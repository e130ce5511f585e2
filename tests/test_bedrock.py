"""kind: bedrock end to end: boto3's bedrock-runtime client (and anthropic.AnthropicBedrock) through the
gateway to a fake Bedrock that checks SigV4 like AWS does.  Converse and invoke, plain and streamed
(AWS event-stream frames), blocks mid-stream as exception frames boto3 raises, errors in Bedrock's
shape, usage and cost recorded, credentials never stored, virtual keys as bearer tokens."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config as BotoConfig

from fake_bedrock import LEAKS, FakeBedrock

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE_MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
CLIENT_KEY_ID = "AKIACLIENTOWNKEY0001"
CLIENT_SECRET = "client-own-secret-key-should-never-travel-00"
CLIENT_TOKEN = "client-own-session-token-should-never-travel-00"
DEFAULT_MODULES = {
    "secrets-detector": {"action": "block"},
    "pii-detector": {"action": "log"},
    "prompt-injection": {"mode": "shadow"},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    f = FakeBedrock().start()
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def _no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No real AWS credentials, config or metadata lookups from the machine running the tests."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def bedrock_provider(fake: FakeBedrock, **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "kind": "bedrock",
        "region": fake.region,
        "endpoint": fake.url,
        "aws_access_key_id": fake.access_key,
        "aws_secret_access_key": fake.secret_key,
    }
    p.update(extra)
    return {"bedrock": p}


def start(start_gateway, fake: FakeBedrock, modules: dict | None = None, gateway: dict | None = None, **extra: Any):
    cfg: dict[str, Any] = {
        "providers": bedrock_provider(fake, **extra),
        "modules": DEFAULT_MODULES if modules is None else modules,
    }
    if gateway:
        cfg["gateway"] = gateway
    return start_gateway(cfg)


def client(gw, **kw: Any):
    creds = {
        "aws_access_key_id": CLIENT_KEY_ID,
        "aws_secret_access_key": CLIENT_SECRET,
        "aws_session_token": CLIENT_TOKEN,
    }
    creds.update(kw)
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=gw.base("bedrock"),
        region_name="us-east-1",
        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}),
        **creds,
    )


def rows(gw) -> list[dict[str, Any]]:
    gw.flush()
    db = sqlite3.connect(gw.db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("select * from requests order by started_at")]
    finally:
        db.close()


def violations(gw) -> list[dict[str, Any]]:
    gw.flush()
    db = sqlite3.connect(gw.db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("select * from violations")]
    finally:
        db.close()


def converse_body(text: str) -> dict[str, Any]:
    return {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": text}]}]}


# -- converse -------------------------------------------------------------------------------


def test_converse_through_the_gateway_is_signed_by_leash_priced_and_recorded(start_gateway, fake):
    gw = start(start_gateway, fake)
    before = len(fake.requests)
    r = client(gw).converse(**converse_body("what is the capital of France?"))
    assert r["output"]["message"]["content"][0]["text"] == "Hello from Bedrock: what is the capital of France?"
    assert r["usage"]["inputTokens"] == 9
    seen = fake.requests[before:]
    assert len(seen) == 1 and not fake.rejected  # the fake recomputed leash's signature and accepted it
    h = seen[0].headers
    assert f"Credential={fake.access_key}/" in h["authorization"]
    assert seen[0].raw_path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    # the client's own SigV4 was replaced, not forwarded
    assert CLIENT_KEY_ID not in str(h) and CLIENT_TOKEN not in str(h)
    row = rows(gw)[-1]
    assert row["provider"] == "bedrock" and row["model"] == MODEL and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (9, 9)
    assert row["cost_usd"] and row["cost_usd"] > 0
    detail = json.loads(row["cost_detail"])
    assert detail["provider"] == "aws" and detail["source"] == "genai-prices"


def test_no_credential_reaches_the_history(start_gateway, fake):
    gw = start(start_gateway, fake, aws_session_token=None)
    client(gw).converse(**converse_body("hello there"))
    client(gw).converse_stream(**converse_body("hello again"))["stream"].__iter__().__next__()
    gw.flush()
    raw = gw.db_path.read_bytes()
    for secret in (fake.secret_key, CLIENT_SECRET, CLIENT_TOKEN, "Signature="):
        assert secret.encode() not in raw, secret


def test_a_wrong_signature_is_refused_by_the_fake_and_reaches_the_client_as_its_error(start_gateway, fake):
    gw = start(start_gateway, fake, aws_secret_access_key="not-the-right-secret-key-0000000000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(gw).converse(**converse_body("hi"))
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert fake.rejected and fake.rejected[-1].startswith("InvalidSignatureException")
    fake.rejected.clear()


def test_converse_stream_passes_event_stream_frames_and_records_usage(start_gateway, fake):
    gw = start(start_gateway, fake)
    r = client(gw).converse_stream(**converse_body("tell me a story"))
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    text, kinds, usage = "", [], None
    for ev in r["stream"]:
        kinds.append(next(iter(ev)))
        if "contentBlockDelta" in ev:
            text += ev["contentBlockDelta"]["delta"]["text"]
        if "metadata" in ev:
            usage = ev["metadata"]["usage"]
    assert text == "Hello from Bedrock: tell me a story"
    assert kinds[0] == "messageStart" and kinds[-1] == "metadata" and "messageStop" in kinds
    assert usage == {"inputTokens": 7, "outputTokens": 7, "totalTokens": 14}
    row = rows(gw)[-1]
    assert row["stream"] and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (7, 7) and row["cost_usd"] > 0
    assert row["response_text"] == text


def test_a_recorded_stream_is_readable_text_without_the_binary_framing(start_gateway, fake):
    gw = start_gateway({"providers": bedrock_provider(fake), "storage": {"bodies": "full"}})
    list(client(gw).converse_stream(**converse_body("keep me"))["stream"])
    row = rows(gw)[-1]
    body = row["response_body"]
    assert "\x00" not in body and "\x00" not in row["stream_events"]  # PostgreSQL text refuses NUL
    assert body.startswith("event: messageStart\ndata: {") and '"delta":{"text":' in body
    assert len(json.loads(row["stream_events"])) == 9  # messageStart, 5 deltas, stop, messageStop, metadata


def test_a_secret_in_a_streamed_answer_ends_the_stream_with_an_exception_boto3_raises(start_gateway, fake):
    gw = start(start_gateway, fake)
    r = client(gw).converse_stream(**converse_body("leak-key"))
    got = ""
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for ev in r["stream"]:
            if "contentBlockDelta" in ev:
                got += ev["contentBlockDelta"]["delta"]["text"]
    assert e.value.response["Error"]["Code"] == "validationException"
    assert "secrets-detector" in e.value.response["Error"]["Message"]
    assert "AKIAZ7Q4M2XK9WPLR3TD" not in got and "AKIAZ7" not in got
    row = rows(gw)[-1]
    assert row["outcome"] == "blocked"
    assert any(v["module"] == "secrets-detector" for v in violations(gw))


def test_an_email_in_a_streamed_answer_is_blocked_when_pii_blocks(start_gateway, fake):
    gw = start(start_gateway, fake, modules={"pii-detector": {"action": "block", "check_requests": False}})
    r = client(gw).converse_stream(**converse_body("leak-email"))
    got = ""
    with pytest.raises(botocore.exceptions.EventStreamError):
        for ev in r["stream"]:
            if "contentBlockDelta" in ev:
                got += ev["contentBlockDelta"]["delta"]["text"]
    assert "examplecorp.com" not in got and got in LEAKS["leak-email"]
    assert rows(gw)[-1]["outcome"] == "blocked"


def test_an_email_in_a_streamed_answer_is_redacted_inside_the_frames(start_gateway, fake):
    gw = start(start_gateway, fake, modules={"pii-detector": {"action": "redact", "check_requests": False}})
    r = client(gw).converse_stream(**converse_body("leak-email"))
    got = "".join(ev["contentBlockDelta"]["delta"]["text"] for ev in r["stream"] if "contentBlockDelta" in ev)
    assert "jane.doe.customer@examplecorp.com" not in got and got.startswith("Write to ") and "refund" in got


def test_a_corrupt_frame_ends_the_stream_with_an_exception_and_is_recorded(start_gateway, fake):
    gw = start(start_gateway, fake)
    r = client(gw).converse_stream(**converse_body("corrupt-frame"))
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for _ in r["stream"]:
            pass
    assert e.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "malformed stream" in e.value.response["Error"]["Message"]
    row = rows(gw)[-1]
    assert row["outcome"] == "upstream_error" and "CRC" in row["error"]


def test_a_secret_in_the_prompt_is_refused_in_bedrocks_error_shape(start_gateway, fake):
    gw = start(start_gateway, fake)
    before = len(fake.requests)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(gw).converse(**converse_body("my key is AKIAZ7Q4M2XK9WPLR3TD ok"))
    err = e.value.response
    assert err["Error"]["Code"] == "AccessDeniedException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "secrets-detector" in err["Error"]["Message"]
    assert len(fake.requests) == before  # never sent


def test_tool_use_tool_results_documents_and_system_are_scanned(start_gateway, fake):
    import base64

    gw = start(start_gateway, fake)
    c = client(gw)
    leaks = {
        "system": {"system": [{"text": "key AKIAZ7Q4M2XK9WPLR3TD"}]},
        "tool result": {
            "messages": [
                {"role": "user", "content": [{"text": "go"}]},
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "env", "input": {"q": "x"}}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "t1", "content": [{"json": {"AWS_KEY": "AKIAZ7Q4M2XK9WPLR3TD"}}]}}
                    ],
                },
            ]
        },
        "document": {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "summarise"},
                        {
                            "document": {
                                "format": "txt",
                                "name": "notes",
                                "source": {"bytes": b"id AKIAZ7Q4M2XK9WPLR3TD"},
                            }
                        },
                    ],
                }
            ]
        },
    }
    for what, extra in leaks.items():
        body = {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "hi"}]}], **extra}
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.converse(**body)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException", what
    assert base64  # the document went as base64 on the wire (boto3 encodes blobs); leash decoded it


def test_a_redacted_document_stays_base64_for_the_provider(start_gateway, fake):
    import base64

    gw = start(start_gateway, fake, modules={"pii-detector": {"action": "redact", "check_responses": False}})
    before = len(fake.requests)
    client(gw).converse(
        modelId=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"text": "summarise"},
                    {
                        "document": {
                            "format": "txt",
                            "name": "n",
                            "source": {"bytes": b"mail jane.doe.customer@examplecorp.com now"},
                        }
                    },
                ],
            }
        ],
    )
    sent = json.loads(fake.requests[before].body)
    doc = base64.b64decode(sent["messages"][0]["content"][1]["document"]["source"]["bytes"]).decode()
    assert "examplecorp.com" not in doc and doc.startswith("mail ") and doc.endswith(" now")


# -- keys ---------------------------------------------------------------------------------------


def test_a_leash_virtual_key_works_as_bearer_token_and_as_boto3s_access_key_id(start_gateway, fake):
    import time

    import httpx

    from leash_cli.keys import create_key

    gw = start(start_gateway, fake, gateway={"require_virtual_key": True})
    key, vk = create_key(gw.db_path, "team-a")
    # without a key: refused in Bedrock's shape
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(gw).converse(**converse_body("hi"))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    url = f"{gw.base('bedrock')}/model/{MODEL}/converse"
    body = {"messages": [{"role": "user", "content": [{"text": "hello with a key"}]}]}
    deadline = time.monotonic() + 5  # the keyring reloads at most once a second
    while (r := httpx.post(url, json=body, headers={"authorization": f"Bearer {key}"})).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    # AWS_BEARER_TOKEN_BEDROCK: an Authorization: Bearer header (what the anthropic SDK sends over http too)
    assert r.json()["output"]["message"]["content"][0]["text"].endswith("hello with a key")
    assert key not in str(fake.last().headers) and fake.last().headers["authorization"].startswith("AWS4-HMAC-SHA256")
    # boto3 sends bearer tokens over https only: on plain http the leash key is its access key id
    out = client(gw, aws_access_key_id=key, aws_secret_access_key="anything", aws_session_token=None).converse(
        **converse_body("boto3 with a key")
    )
    assert out["output"]["message"]["content"][0]["text"].endswith("boto3 with a key")
    assert key not in str(fake.last().headers)
    anthropic = pytest.importorskip("anthropic")
    m = anthropic.AnthropicBedrock(base_url=gw.base("bedrock"), api_key=key, aws_region="us-east-1").messages.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "sdk with a key"}]
    )
    assert m.content[0].text.endswith("sdk with a key")
    for row in rows(gw)[-3:]:
        assert row["tenant"] == "team-a" and row["key_id"] == vk.id and row["status"] == 200
    assert key.encode() not in gw.db_path.read_bytes()


def test_a_configured_bedrock_api_key_is_forwarded_instead_of_signing(start_gateway, fake):
    fake.api_key = "ABSKbedrock-api-key-held-by-leash-000000"
    try:
        gw = start_gateway(
            {
                "providers": {
                    "bedrock": {"kind": "bedrock", "region": "us-east-1", "endpoint": fake.url, "api_key": fake.api_key}
                }
            }
        )
        r = client(gw).converse(**converse_body("hi via api key"))
        assert r["output"]["message"]["content"][0]["text"].endswith("hi via api key")
        h = fake.last().headers
        assert h["authorization"] == f"Bearer {fake.api_key}"
        assert "x-amz-security-token" not in h and "x-amz-date" not in h  # the client's own SigV4 left behind
        assert fake.api_key.encode() not in (gw.flush() or gw.db_path.read_bytes())
    finally:
        fake.api_key = None


def test_session_tokens_are_signed_and_sent(start_gateway):
    f = FakeBedrock(session_token="leash-held-session-token-000000000000").start()
    try:
        gw = start(start_gateway, f, aws_session_token=f.session_token)
        r = client(gw).converse(**converse_body("temporary"))
        assert r["output"]["message"]["content"][0]["text"].endswith("temporary")
        assert f.last().headers["x-amz-security-token"] == f.session_token and not f.rejected
        assert f.session_token.encode() not in (gw.flush() or gw.db_path.read_bytes())
    finally:
        f.stop()


def test_a_profile_is_read_with_botocore(start_gateway, fake, tmp_path, monkeypatch):
    (tmp_path / "aws-credentials").write_text(
        f"[leash]\naws_access_key_id = {fake.access_key}\naws_secret_access_key = {fake.secret_key}\n"
    )
    gw = start_gateway(
        {"providers": {"bedrock": {"kind": "bedrock", "region": "us-east-1", "endpoint": fake.url, "profile": "leash"}}}
    )
    r = client(gw).converse(**converse_body("from a profile"))
    assert r["output"]["message"]["content"][0]["text"].endswith("from a profile")


def test_without_any_aws_credentials_the_answer_is_a_502_that_says_so(start_gateway, fake):
    gw = start_gateway({"providers": {"bedrock": {"kind": "bedrock", "region": "us-east-1", "endpoint": fake.url}}})
    before = len(fake.requests)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(gw).converse(**converse_body("hi"))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert "no AWS credentials" in e.value.response["Error"]["Message"]
    assert len(fake.requests) == before


# -- invoke -------------------------------------------------------------------------------------


def anthropic_body(text: str) -> bytes:
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    ).encode()


def test_invoke_model_with_an_anthropic_body(start_gateway, fake):
    gw = start(start_gateway, fake)
    r = client(gw).invoke_model(modelId=PROFILE_MODEL, body=anthropic_body("invoke me"))
    out = json.loads(r["body"].read())
    assert out["content"][0]["text"] == "Hello from Bedrock: invoke me"
    row = rows(gw)[-1]
    assert row["model"] == PROFILE_MODEL and (row["input_tokens"], row["output_tokens"]) == (5, 5)
    assert row["cost_usd"] > 0 and row["response_text"] == "Hello from Bedrock: invoke me"


def test_invoke_with_response_stream_decodes_chunks_and_blocks_a_leak(start_gateway, fake):
    gw = start(start_gateway, fake)
    c = client(gw)
    r = c.invoke_model_with_response_stream(modelId=MODEL, body=anthropic_body("stream me"))
    text = ""
    for ev in r["body"]:
        inner = json.loads(ev["chunk"]["bytes"])
        if inner["type"] == "content_block_delta":
            text += inner["delta"]["text"]
    assert text == "Hello from Bedrock: stream me"
    row = rows(gw)[-1]
    assert (row["input_tokens"], row["output_tokens"]) == (5, 5) and row["cost_usd"] > 0
    r = c.invoke_model_with_response_stream(modelId=MODEL, body=anthropic_body("leak-key"))
    got = ""
    with pytest.raises(botocore.exceptions.EventStreamError) as e:
        for ev in r["body"]:
            inner = json.loads(ev["chunk"]["bytes"])
            if inner["type"] == "content_block_delta":
                got += inner["delta"]["text"]
    assert e.value.response["Error"]["Code"] == "validationException"
    assert "AKIAZ7Q4M2XK9WPLR3TD" not in got
    assert rows(gw)[-1]["outcome"] == "blocked"


def test_anthropic_bedrock_client_plain_and_streamed(start_gateway, fake):
    anthropic = pytest.importorskip("anthropic")
    gw = start(start_gateway, fake)
    c = anthropic.AnthropicBedrock(
        base_url=gw.base("bedrock"),
        aws_access_key=CLIENT_KEY_ID,
        aws_secret_key=CLIENT_SECRET,
        aws_region="us-east-1",
        max_retries=0,
    )
    m = c.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "sdk call"}])
    assert m.content[0].text == "Hello from Bedrock: sdk call"
    # the anthropic SDK leaves ':' unencoded; upstream it is encoded as boto3 does, and the signature holds
    assert fake.last().raw_path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke" and not fake.rejected
    with c.messages.stream(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "sdk stream"}]) as s:
        text = "".join(s.text_stream)
    assert text == "Hello from Bedrock: sdk stream"
    row = rows(gw)[-1]
    assert row["stream"] and row["output_tokens"] == 5
