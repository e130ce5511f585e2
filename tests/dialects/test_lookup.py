"""Finding the dialect: by api name, for a mock provider's path, guessed for an unknown route; and the
exchange holding its dialect."""

from __future__ import annotations

import pytest

from leash_cli import errors, messages, providers
from leash_cli.dialects import (
    ANTHROPIC,
    AZURE,
    BEDROCK,
    DIALECTS,
    GOOGLE,
    OPENAI,
    VERTEX,
    Dialect,
    for_provider,
    guess_api,
    mock_api,
)
from leash_cli.dialects.vertex import ANTHROPIC_VERTEX

from .helpers import exchange


def test_one_dialect_per_wire_format():
    assert dict(DIALECTS) == {
        "openai": OPENAI,
        "anthropic": ANTHROPIC,
        "google": GOOGLE,
        "azure": AZURE,
        "bedrock": BEDROCK,
        "vertex": VERTEX,
        "vertex-anthropic": ANTHROPIC_VERTEX,
    }
    assert all(isinstance(d, Dialect) and d.name == n for n, d in DIALECTS.items())


@pytest.mark.parametrize(
    "rest,api",
    [
        ("chat/completions", "openai"),
        ("responses", "openai"),
        ("embeddings", "openai"),
        ("models", "openai"),
        ("v1/messages", "anthropic"),
        ("messages", "anthropic"),
        ("v1/messages/count_tokens", "anthropic"),
        ("v1beta/models/m:generateContent", "google"),
        ("models/m:streamGenerateContent", "google"),
        ("v1beta/models", "google"),
    ],
)
def test_a_mock_provider_speaks_what_the_path_asks_for(rest, api):
    assert mock_api(rest) == api
    assert for_provider("mock", rest) is DIALECTS[api]
    assert for_provider("anthropic", rest) is ANTHROPIC  # a real provider speaks its own kind


@pytest.mark.parametrize(
    "path,headers,api",
    [
        ("v1/messages", {}, "anthropic"),
        ("anything", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("models/g:generateContent", {}, "google"),
        ("x", {"x-goog-api-key": "k"}, "google"),
        ("chat/completions", {"authorization": "Bearer k"}, "openai"),
    ],
)
def test_guess_api_for_an_unknown_route(path, headers, api):
    assert guess_api(path, headers) == api
    assert errors.guess_api(path, headers) == api


def test_old_names_still_answer():
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert messages.request_texts("anthropic", body) == ANTHROPIC.request_texts(body)
    assert errors.error_body("google", 429, "slow down") == GOOGLE.error_body(429, "slow down")
    assert providers.request_model("google", "models/g:generateContent", None) == ("g", False)
    assert providers.mock_api("v1/messages") == "anthropic"


def test_the_exchange_holds_its_dialect():
    ex = exchange("anthropic", "v1/messages", {"messages": [{"role": "user", "content": "hi"}]})
    assert ex.dialect is ANTHROPIC and ex.dialect is ex.dialect
    assert [t.text for t in ex.texts()] == ["hi"]
    assert exchange("openai", "chat/completions").dialect is OPENAI
