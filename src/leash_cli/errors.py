"""Error bodies in each provider's own shape, so the official SDKs raise their
proper typed exceptions (``openai.BadRequestError``, ``anthropic.RateLimitError``,
``google.genai.errors.ClientError`` ...).  The shapes live in the dialects
(``Dialect.error_body``); these are the names older code imports."""

from __future__ import annotations

from leash_cli.dialects import for_api, guess_api

__all__ = ["error_body", "guess_api"]


def error_body(api: str, status: int, message: str, code: str | None = None) -> bytes:
    """The JSON error body for `api` (openai | anthropic | google)."""
    return for_api(api).error_body(status, message, code)
