"""Helpers shared by the built-in modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from leash_cli.exchange import Exchange

Scope = Literal["tenant", "key", "provider", "model", "global"]
"""What one limit or budget counts: ``per: [tenant, model]`` keys it by tenant and model."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


def per_tenant() -> list[Scope]:
    """The default ``per``: one count per tenant."""
    return ["tenant"]


def scope_key(ex: Exchange, per: Sequence[Scope]) -> str:
    parts = []
    for p in per:
        if p == "tenant":
            parts.append(f"t={ex.tenant}")
        elif p == "key":
            parts.append(f"k={ex.key_id or '-'}")
        elif p == "provider":
            parts.append(f"p={ex.provider}")
        elif p == "model":
            parts.append(f"m={ex.model or '-'}")
        elif p == "global":
            parts.append("all")
    return "|".join(parts) or "all"


def max_output_tokens(ex: Exchange) -> int | None:
    """The output cap the client asked for, in any of the three schemas."""
    body = ex.json()
    if not isinstance(body, dict):
        return None
    for k in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        v = body.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    gc = body.get("generationConfig") or body.get("generation_config")
    if isinstance(gc, dict):
        v = gc.get("maxOutputTokens") or gc.get("max_output_tokens")
        if isinstance(v, int):
            return v
    return None


#: prompt tokens assumed for input a request refers to but does not carry (a previous response,
#: a stored conversation, an uploaded file, cached content: ``Dialect.hidden_inputs``)
HIDDEN_INPUT_TOKENS = 200_000


def estimate_input_tokens(ex: Exchange, hidden_input_tokens: int = HIDDEN_INPUT_TOKENS) -> int:
    """A generous estimate of prompt tokens: one per 3 bytes of body, plus `hidden_input_tokens`
    when the request refers to input its body does not hold (the provider bills that too)."""
    n = max(1, len(ex.request_body) // 3)
    if hidden_input_tokens and ex.dialect.hidden_inputs(ex.json()):
        n += hidden_input_tokens
    return n


def fmt_seconds(s: float) -> str:
    return f"{max(0.0, s):.3f}s"


def retry_headers(kind: str, limit: int, remaining: int, reset: float) -> dict[str, Any]:
    return {
        f"x-ratelimit-limit-{kind}": str(limit),
        f"x-ratelimit-remaining-{kind}": str(max(0, remaining)),
        f"x-ratelimit-reset-{kind}": fmt_seconds(reset),
    }
