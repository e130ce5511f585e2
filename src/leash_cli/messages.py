"""Normalized text of requests and responses: the names older code imports.

The knowledge lives in :mod:`leash_cli.dialects` (one module per wire format); these are
one-line delegations kept for callers that pass an api name.  New code asks the exchange's
dialect (``ex.dialect.request_texts(body)``) and skips the name lookup.

Every string a model reads or writes is listed as a :class:`Text` with its role and its path
in the JSON body, so a module can scan ``text`` and a redaction can write back to exactly that
place (never to a JSON key).
"""

from __future__ import annotations

from typing import Any

from leash_cli.dialects import for_api
from leash_cli.dialects.base import Path, Text, get_at, leaves, set_at

__all__ = [
    "Path",
    "Text",
    "aggregate_texts",
    "get_at",
    "joined",
    "request_texts",
    "response_texts",
    "set_at",
    "stream_key",
    "stream_texts",
]

_leaves = leaves


def request_texts(api: str, body: Any) -> list[Text]:
    return for_api(api).request_texts(body)


def response_texts(api: str, body: Any) -> list[Text]:
    return for_api(api).response_texts(body)


def stream_texts(api: str, event: Any) -> list[Text]:
    """The text deltas of one parsed streamed event (answer, reasoning, refusals, tool arguments)."""
    return for_api(api).stream_texts(event)


def stream_key(api: str, event: dict[str, Any], t: Text) -> tuple[Any, ...]:
    """Which stream of a response a delta belongs to (see ``Dialect.stream_key``)."""
    return for_api(api).stream_key(event, t)


def aggregate_texts(api: str, event: dict[str, Any]) -> list[Text]:
    """Whole texts a stream repeats after its deltas (see ``Dialect.aggregate_texts``)."""
    return for_api(api).aggregate_texts(event)


def joined(texts: list[Text]) -> str:
    return "\n".join(t.text for t in texts)
