"""Provider wire formats: one dialect per format, and the lookups that pick one.

Everything leash knows about a provider's JSON lives in its dialect: where the text is in
requests, responses and stream events (tool calls, tool results, system prompts, documents
included), usage, the model and stream flag of a request, SSE specifics, the error shape, how
a redaction is written back, which header carries a key.  The rest of leash asks the dialect
of the exchange (``ex.dialect``, looked up once per exchange) and never branches on a name.

================  =============================================================
``openai``        Chat Completions, Completions, Responses, Embeddings
                  (and every OpenAI-compatible server)
``anthropic``     Messages
``google``        Gemini ``generateContent`` / ``streamGenerateContent``
``azure``         Azure OpenAI: OpenAI's format below ``openai/deployments/{d}/``
                  or ``openai/v1/``, the key in ``api-key``
``bedrock``       AWS Bedrock runtime: ``converse``, ``converse-stream``, ``invoke``,
                  ``invoke-with-response-stream`` (event-stream framing)
``vertex``        Gemini on Vertex AI (``publishers/google``); Anthropic on Vertex
                  (``publishers/anthropic``) is ``vertex-anthropic``
================  =============================================================

Adding a format is one module here and one line in ``DIALECTS``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from leash_cli.dialects.anthropic import DIALECT as ANTHROPIC
from leash_cli.dialects.azure import DIALECT as AZURE
from leash_cli.dialects.base import Dialect, Path, StreamState, Text, Usage, get_at, leaves, set_at
from leash_cli.dialects.bedrock import DIALECT as BEDROCK
from leash_cli.dialects.google import DIALECT as GOOGLE
from leash_cli.dialects.openai import DIALECT as OPENAI
from leash_cli.dialects.vertex import ANTHROPIC_VERTEX
from leash_cli.dialects.vertex import DIALECT as VERTEX
from leash_cli.dialects.vertex import api_of as vertex_api

__all__ = [
    "ANTHROPIC",
    "AZURE",
    "BEDROCK",
    "DIALECTS",
    "GOOGLE",
    "OPENAI",
    "VERTEX",
    "Dialect",
    "Path",
    "StreamState",
    "Text",
    "Usage",
    "for_api",
    "for_provider",
    "get_at",
    "guess_api",
    "leaves",
    "mock_api",
    "provider_api",
    "set_at",
]

_BEDROCK_PATH = re.compile(r"(?:^|/)model/[^/]+/(?:converse|invoke)")

#: api name -> dialect
DIALECTS: Mapping[str, Dialect] = {
    d.name: d for d in (OPENAI, ANTHROPIC, GOOGLE, AZURE, BEDROCK, VERTEX, ANTHROPIC_VERTEX)
}


def for_api(api: str | None) -> Dialect:
    """The dialect of a wire format; any other name speaks OpenAI (the OpenAI-compatible
    servers, the mock's default)."""
    d = DIALECTS.get(api) if api is not None else None
    return d if d is not None else OPENAI


def mock_api(rest: str) -> str:
    """Which provider's shape a path below a ``mock`` provider speaks."""
    if ":" in rest.rsplit("/", 1)[-1] or rest.startswith(("v1beta/", "v1alpha/")):
        return GOOGLE.name
    if rest.endswith("messages") or "messages/" in rest:
        return ANTHROPIC.name
    return OPENAI.name


def provider_api(kind: str, rest: str) -> str:
    """The api name a call to `rest` below a provider of `kind` speaks (a ``mock`` provider
    speaks whichever the path asks for; a ``vertex`` one Gemini's or Anthropic's, by publisher)."""
    if kind == "mock":
        return mock_api(rest)
    if kind == "vertex":
        return vertex_api(rest)
    return kind


def for_provider(kind: str | None, rest: str) -> Dialect:
    """The dialect a call to `rest` below a provider of `kind` speaks."""
    if kind is None:
        return OPENAI
    return for_api(provider_api(kind, rest))


def guess_api(path: str, headers: Mapping[str, str]) -> str:
    """Best guess of the caller's wire shape when no provider says it (a request to an unknown
    route still gets its error in a shape its SDK understands)."""
    if _BEDROCK_PATH.search(path) or headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
        return BEDROCK.name
    if "anthropic-version" in headers or path.endswith("messages"):
        return ANTHROPIC.name
    if "x-goog-api-key" in headers or ":generateContent" in path or ":streamGenerateContent" in path:
        return GOOGLE.name
    return OPENAI.name
