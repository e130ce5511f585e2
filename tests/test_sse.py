"""SSE splitting: whole events out, whatever the chunking."""

from __future__ import annotations

from leash_cli.sse import SSESplitter, parse_event

STREAM = b'event: message_start\r\ndata: {"a": 1}\r\n\r\nevent: ping\r\ndata: {}\r\n\r\ndata: [DONE]\r\n\r\n'


def _split_at(points: list[int]) -> list[bytes]:
    s = SSESplitter()
    out, last = [], 0
    for p in [*points, len(STREAM)]:
        out += s.feed(STREAM[last:p])
        last = p
    assert s.flush() == b""
    return out


def test_crlf_events_split_anywhere_give_the_same_events():
    whole = _split_at([])
    assert [parse_event(e) for e in whole] == [("message_start", b'{"a": 1}'), ("ping", b"{}"), (None, b"[DONE]")]
    for i in range(1, len(STREAM)):
        assert _split_at([i]) == whole, i
    for i in range(1, len(STREAM) - 1):
        assert _split_at([i, i + 1]) == whole, i
