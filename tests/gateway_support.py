"""Helpers the gateway tests share (a module of its own: importing ``conftest`` by name is
ambiguous, tests/extproc has one too)."""

from __future__ import annotations

from typing import Any

from fake_upstream import FakeUpstream


def provider_block(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """The ``providers:`` of a test gateway: the mock, and the fake upstream as openai, anthropic and google
    (``extra``: more keys per provider)."""
    return {
        "mock": {"kind": "mock"},
        "openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1", **extra.get("openai", {})},
        "anthropic": {"kind": "anthropic", "endpoint": upstream.url, **extra.get("anthropic", {})},
        "google": {"kind": "google", "endpoint": upstream.url, **extra.get("google", {})},
    }
