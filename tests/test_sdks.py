"""The official SDKs, pointed at leash, work unchanged — streaming included."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

KEY = "sk-test-client-key-0000000000000000000000"


def oa(gw, provider="openai", **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base(provider), api_key=KEY, max_retries=0, **kw)


def an(gw, provider="anthropic") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base(provider), api_key=KEY, max_retries=0)


def gg(gw, provider="google") -> genai.Client:
    return genai.Client(api_key="AIza-test-client-key", http_options={"base_url": gw.base(provider)})


def test_openai_chat(gateway, upstream):
    r = oa(gateway).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}])
    assert r.choices[0].message.content.endswith("You said: hi there")
    assert r.usage.prompt_tokens > 0
    seen = upstream.last()
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"  # the client's own key passes through


def test_openai_chat_stream(gateway, upstream):
    stream = oa(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("You said: stream me")
    # leash asked upstream for usage but the client did not: it sees no usage-only chunk
    assert all(c.choices for c in chunks)


def test_openai_chat_stream_with_usage_requested(gateway):
    stream = oa(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_openai_responses_embeddings_models(gateway, upstream):
    c = oa(gateway)
    r = c.responses.create(model="gpt-4o-mini", input="hello responses")
    assert r.output_text.endswith("You said: hello responses")
    assert upstream.last().path == "/v1/responses"
    events = list(c.responses.create(model="gpt-4o-mini", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    e = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(e.data) == 2 and upstream.last().path == "/v1/embeddings"
    models = c.models.list()
    assert [m.id for m in models] == ["mock-small"]
    assert upstream.last().path == "/v1/models" and upstream.last().method == "GET"


def test_anthropic_messages(gateway, upstream):
    c = an(gateway)
    m = c.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hello claude"}],
    )
    assert m.content[0].text.endswith("You said: hello claude")
    seen = upstream.last()
    assert seen.path == "/v1/messages"
    # the SDK sends its key as x-api-key or as a bearer token, depending on its version
    assert KEY in (seen.headers.get("x-api-key"), seen.headers.get("authorization", "").removeprefix("Bearer "))
    assert "anthropic-version" in seen.headers


def test_anthropic_stream(gateway):
    with an(gateway).messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "stream claude"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text.endswith("You said: stream claude")
    assert final.usage.output_tokens > 0


def test_google_generate_and_stream(gateway, upstream):
    c = gg(gateway)
    r = c.models.generate_content(model="gemini-2.0-flash", contents="hello gemini")
    assert r.text.endswith("You said: hello gemini")
    seen = upstream.last()
    # the SDK picks the API version (v1beta or v1); leash keeps it
    assert seen.path.endswith("/models/gemini-2.0-flash:generateContent")
    assert seen.path.split("/")[1] in ("v1", "v1beta")
    assert seen.headers["x-goog-api-key"] == "AIza-test-client-key"
    parts = [ch.text for ch in c.models.generate_content_stream(model="gemini-2.0-flash", contents="stream gemini")]
    assert "".join(parts).endswith("You said: stream gemini")
    assert upstream.last().query == "alt=sse"


def test_mock_provider_in_all_three_shapes(gateway, upstream):
    before = len(upstream.requests)
    r = oa(gateway, "mock").chat.completions.create(model="mock-small", messages=[{"role": "user", "content": "m"}])
    assert "leash mock provider" in r.choices[0].message.content
    s = "".join(
        c.choices[0].delta.content or ""
        for c in oa(gateway, "mock").chat.completions.create(
            model="mock-small", messages=[{"role": "user", "content": "m"}], stream=True
        )
        if c.choices
    )
    assert "leash mock provider" in s
    m = an(gateway, "mock").messages.create(
        model="mock-small", max_tokens=10, messages=[{"role": "user", "content": "m"}]
    )
    assert "leash mock provider" in m.content[0].text
    with an(gateway, "mock").messages.stream(
        model="mock-small", max_tokens=10, messages=[{"role": "user", "content": "m"}]
    ) as st:
        assert "leash mock provider" in "".join(st.text_stream)
    gc = gg(gateway, "mock")  # keep a reference: the client closes its transport when collected
    g = gc.models.generate_content(model="mock-small", contents="m")
    assert "leash mock provider" in g.text
    gs = "".join(ch.text for ch in gc.models.generate_content_stream(model="mock-small", contents="m"))
    assert "leash mock provider" in gs
    assert len(upstream.requests) == before  # answered in-process


def test_sdk_typed_errors(gateway):
    with pytest.raises(openai.NotFoundError) as e:
        oa(gateway, "nope").chat.completions.create(model="x", messages=[{"role": "user", "content": "x"}])
    assert "configured providers" in str(e.value)
    with pytest.raises(openai.RateLimitError):
        oa(gateway).chat.completions.create(model="mock-error-429", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.InternalServerError):
        an(gateway).messages.create(model="mock-error-500", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.NotFoundError):
        an(gateway, "nope").messages.create(model="x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    gc = gg(gateway, "nope")
    with pytest.raises(genai_errors.ClientError) as ge:
        gc.models.generate_content(model="x", contents="x")
    assert ge.value.code == 404


def test_sdk_error_when_upstream_unreachable(start_gateway, upstream):
    gw = start_gateway(providers_extra={"openai": {"endpoint": "http://127.0.0.1:9/v1"}})
    with pytest.raises(openai.InternalServerError) as e:
        oa(gw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 502


def test_google_config_and_system_instruction(gateway, upstream):
    c = gg(gateway)
    r = c.models.generate_content(
        model="gemini-2.5-pro",
        contents="with config",
        config=genai_types.GenerateContentConfig(system_instruction="be terse", max_output_tokens=20),
    )
    assert r.text
    assert b"be terse" in upstream.last().body


def test_azure_style_provider_with_gateway_key(start_gateway, upstream):
    """An OpenAI-compatible server that wants its key in `api-key` and an `api-version` parameter."""
    gw = start_gateway(
        providers_extra={
            "openai": {
                "api_key": "azure-gateway-key-123",
                "auth_header": "api-key",
                "query": {"api-version": "2024-10-21"},
            }
        }
    )
    oa(gw).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    seen = upstream.last()
    assert seen.headers["api-key"] == "azure-gateway-key-123"
    assert "authorization" not in seen.headers
    assert seen.query == "api-version=2024-10-21"
