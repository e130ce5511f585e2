"""Google Vertex AI: Gemini and Anthropic's models on Vertex (two dialects, picked by the path).

Every call names its project, location and publisher in the path, below an API version::

    v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
                                                      ...:streamGenerateContent[?alt=sse] | :countTokens
    v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict | :streamRawPredict

``publishers/google`` speaks Gemini's dialect (``google.py``: the same bodies, usage, stream
and error shape; ``v1beta1/`` is what google-genai sends).  ``publishers/anthropic`` speaks
Anthropic's Messages with the model taken from the path (the body has none, and carries
``anthropic_version: vertex-2023-10-16``); ``:streamRawPredict`` streams Anthropic's named
events.  Any other path (a model listing, an endpoint) is Gemini-shaped for its errors.

Auth is an OAuth bearer token (``credentials/google.py``), or an API key (express mode,
Gemini only: ``x-goog-api-key``).  Prices: Gemini from genai-prices' ``google`` models,
Claude from its ``anthropic`` models (``claude-sonnet-4@20250514`` style ids match them).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import unquote

from leash_cli.dialects.anthropic import Anthropic
from leash_cli.dialects.google import Google

__all__ = ["ANTHROPIC_VERTEX", "DIALECT", "VertexAnthropic", "VertexGemini", "api_of", "scope_of"]

#: what Anthropic's models on Vertex expect in the body (the SDK's default)
ANTHROPIC_VERSION = "vertex-2023-10-16"

_SCOPE = re.compile(r"(?:^|/)projects/([^/]+)/locations/([^/]+)(?:/|$)")
_PUBLISHER_MODEL = re.compile(r"publishers/([^/]+)/models/([^/:]+)(?::([A-Za-z]+))?")
_MODEL_IN_PATH = re.compile(r"(publishers/anthropic/models/)([^/:]+)(:)")


def api_of(rest: str) -> str:
    """The dialect name of a call to `rest` below a vertex provider."""
    return ANTHROPIC_VERTEX.name if "/publishers/anthropic/" in rest else DIALECT.name


def scope_of(rest: str) -> tuple[str, str] | None:
    """(project, location) a path names (decoded), or None when it names none."""
    m = _SCOPE.search(rest)
    if m is None:
        return None
    return unquote(m.group(1)), unquote(m.group(2))


class VertexGemini(Google):
    """Gemini on Vertex: Gemini's bodies and errors under ``projects/{p}/locations/{l}/publishers/google``."""

    name: ClassVar[str] = "vertex"
    path_prefixes: ClassVar[tuple[str, ...]] = ("v1/", "v1beta1/")
    pricing_id: ClassVar[str | None] = "google"

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        path, query, body = super().build_request(model, turns, system, stream)
        _, _, call = path.partition("models/")
        # the project and location are the client's to name ("-": whichever the provider is configured for)
        return f"v1/projects/-/locations/-/publishers/google/models/{call}", query, body


class VertexAnthropic(Anthropic):
    """Anthropic Messages on Vertex: the model and the stream flag in the path, none in the body."""

    name: ClassVar[str] = "vertex-anthropic"
    model_in_path: ClassVar[re.Pattern[str] | None] = _MODEL_IN_PATH
    path_prefixes: ClassVar[tuple[str, ...]] = ("v1/",)
    pricing_id: ClassVar[str | None] = "anthropic"

    def request_model(self, rest: str, body: Any, query: str | None = None) -> tuple[str | None, bool]:
        m = _PUBLISHER_MODEL.search(unquote(rest))
        model = m.group(2) if m else None
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            model = body["model"]  # count-tokens:rawPredict names the model in its body
        stream = m is not None and m.group(3) == "streamRawPredict"
        return model, stream

    def build_request(
        self, model: str, turns: list[dict[str, Any]], system: str | None, stream: bool
    ) -> tuple[str, str, dict[str, Any]]:
        _, query, body = super().build_request(model, turns, system, stream)
        del body["model"]
        body["anthropic_version"] = ANTHROPIC_VERSION
        call = "streamRawPredict" if stream else "rawPredict"
        return f"v1/projects/-/locations/-/publishers/anthropic/models/{model}:{call}", query, body


DIALECT = VertexGemini()
ANTHROPIC_VERTEX = VertexAnthropic()
