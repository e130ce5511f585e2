"""Shared checks for the dialect tests: redaction write-back round trips and stream feeding."""

from __future__ import annotations

from typing import Any

import orjson

from leash_cli.dialects import Dialect, Text, set_at
from leash_cli.exchange import Exchange
from leash_cli.sse import iter_events
from leash_cli.usage import UsageTracker


def exchange(api: str, path: str, body: Any = None, stream: bool = False) -> Exchange:
    return Exchange(id="t-1", provider=api, kind=api, api=api, method="POST", path=path, stream=stream,
                    request_body=orjson.dumps(body) if body is not None else b"")


def redact_round_trip(texts_of: Any, body: Any, needle: str, mask: str = "[REDACTED]") -> tuple[Any, list[Text]]:
    """Write a redaction of every text holding `needle` back at its path, serialise and parse
    the body again (as it goes on the wire), and list its texts anew.  Checks that only the
    redacted strings changed and that each kept its role, kind and path."""
    before = texts_of(body)
    hits = [t for t in before if needle in t.text]
    assert hits, f"{needle!r} is in no text"
    copy = orjson.loads(orjson.dumps(body))
    for t in hits:
        set_at(copy, t.path, t.text.replace(needle, mask))
    wire = orjson.loads(orjson.dumps(copy))
    after = texts_of(wire)
    assert [(t.role, t.kind, t.path) for t in after] == [(t.role, t.kind, t.path) for t in before]
    for b, a in zip(before, after):
        assert a.text == (b.text.replace(needle, mask) if needle in b.text else b.text)
    assert needle not in orjson.dumps(wire).decode()
    return wire, after


def track_stream(dialect: Dialect, ex: Exchange, stream: bytes) -> list[bytes]:
    """Feed an SSE stream through a usage tracker; the events the client gets."""
    assert ex.dialect is dialect
    tracker = UsageTracker(ex)
    passed = []
    for name, data in iter_events(stream):
        raw = (b"event: " + name.encode() + b"\n" if name else b"") + b"data: " + data + b"\n\n"
        if tracker.on_event(name, data, raw):
            passed.append(raw)
    tracker.finish()
    return passed


def sse(*events: tuple[str | None, Any]) -> bytes:
    out = b""
    for name, obj in events:
        head = b"event: " + name.encode() + b"\n" if name else b""
        out += head + b"data: " + (obj if isinstance(obj, bytes) else orjson.dumps(obj)) + b"\n\n"
    return out


def stream_redact(dialect: Dialect, event: dict[str, Any], needle: str, mask: str = "***") -> dict[str, Any]:
    """Redact `needle` in the deltas of one stream event, written back at each delta's path."""
    texts = dialect.stream_texts(event)
    assert any(needle in t.text for t in texts)
    for t in texts:
        set_at(event, t.path, t.text.replace(needle, mask))
    wire: dict[str, Any] = orjson.loads(orjson.dumps(event))
    assert needle not in orjson.dumps(wire).decode()
    assert [t.text for t in dialect.stream_texts(wire)] == [t.text.replace(needle, mask) for t in texts]
    return wire
