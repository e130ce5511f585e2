"""What providers and the TUI's replay take from the dialects: upstream paths, where keys go,
the model of a request; the header a replayed request carries its key in."""

from __future__ import annotations

import pytest

from leash_cli.config import ProviderConfig
from leash_cli.dialects import ANTHROPIC, GOOGLE, OPENAI
from leash_cli.providers import Provider
from leash_cli.tui.replay import build_replay


def provider(kind: str, endpoint: str, **kw: object) -> Provider:
    return Provider.from_config(kind, ProviderConfig(kind=kind, endpoint=endpoint, **kw))


@pytest.mark.parametrize("kind,endpoint,rest,path", [
    ("openai", "https://api.openai.com/v1", "chat/completions", "/v1/chat/completions"),
    ("anthropic", "https://api.anthropic.com", "messages", "/v1/messages"),
    ("anthropic", "https://api.anthropic.com", "v1/messages", "/v1/messages"),
    ("google", "https://generativelanguage.googleapis.com", "models/g:generateContent",
     "/v1beta/models/g:generateContent"),
    ("google", "https://generativelanguage.googleapis.com", "v1/models/g:generateContent",
     "/v1/models/g:generateContent"),
    ("google", "https://generativelanguage.googleapis.com", "upload/v1beta/files", "/upload/v1beta/files"),
    ("mock", "mock://local", "v1/messages", "/v1/messages"),
])
def test_upstream_paths(kind, endpoint, rest, path):
    assert provider(kind, endpoint).upstream_path(rest) == path


def test_the_provider_kind_picks_the_dialect():
    assert provider("openai", "https://x").dialect is OPENAI
    assert provider("anthropic", "https://x").dialect is ANTHROPIC
    assert provider("google", "https://x").dialect is GOOGLE
    mock = provider("mock", "mock://local")
    assert mock.dialect is OPENAI and mock.dialect_for("v1/messages") is ANTHROPIC
    assert mock.api_for("models/g:generateContent") == "google"


@pytest.mark.parametrize("kind,auth_header,query,headers,out_query", [
    ("openai", None, "a=1", {"authorization": "Bearer sk-gw"}, "a=1"),
    ("anthropic", None, "", {"x-api-key": "sk-gw"}, ""),
    ("google", None, "alt=sse&key=client", {"x-goog-api-key": "sk-gw"}, "alt=sse"),
    ("google", "authorization", "key=client&alt=sse", {"authorization": "Bearer sk-gw"}, "alt=sse"),
    ("openai", "api-key", "key=kept", {"api-key": "sk-gw"}, "key=kept"),
    ("mock", None, "key=kept", {"authorization": "Bearer sk-gw"}, "key=kept"),
])
def test_the_gateway_key_replaces_the_clients(kind, auth_header, query, headers, out_query):
    p = provider(kind, "mock://local" if kind == "mock" else "https://x", api_key="sk-gw", auth_header=auth_header)
    got, q = p.apply_credentials({"authorization": "Bearer client", "x-api-key": "client",
                                  "x-goog-api-key": "client", "content-type": "application/json"}, query)
    assert got == {"content-type": "application/json", **headers} and q == out_query


def test_without_a_gateway_key_the_clients_key_passes():
    p = provider("google", "https://x")
    assert p.apply_credentials({"x-goog-api-key": "client"}, "key=k") == ({"x-goog-api-key": "client"}, "key=k")


@pytest.mark.parametrize("kind,header,value", [
    ("openai", "authorization", "Bearer k1"), ("anthropic", "x-api-key", "k1"), ("google", "x-goog-api-key", "k1"),
    ("mock", "authorization", "Bearer k1"), (None, "authorization", "Bearer k1"),
])
def test_a_replay_carries_the_key_where_the_kind_expects_it(kind, header, value):
    row = {"id": "r1", "kind": kind, "provider": "p", "method": "POST", "path": "chat/completions",
           "request_body": '{"model": "a"}'}
    req = build_replay(row, "http://127.0.0.1:8080", key="k1")
    assert req.headers[header] == value


def test_a_replay_to_another_model_rewrites_the_body_or_the_gemini_path():
    row = {"id": "r1", "kind": "openai", "provider": "openai", "method": "POST", "path": "chat/completions",
           "model": "a", "request_body": '{"model": "a", "messages": []}'}
    assert b'"model":"b"' in (build_replay(row, "http://h", model="b").body or b"")
    for kind in ("google", "mock"):
        g = {"id": "r2", "kind": kind, "provider": kind, "method": "POST", "model": "g1",
             "path": "v1beta/models/g1:generateContent", "request_body": '{"contents": []}'}
        req = build_replay(g, "http://h", model="g2")
        assert "models/g2:generateContent" in req.url and req.body == b'{"contents": []}'
