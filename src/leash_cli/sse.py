"""Incremental Server-Sent Events splitting.

Upstream bytes arrive in arbitrary pieces; the proxy forwards whole events, so
that a module (or the usage tracker) sees each event once and complete.
"""

from __future__ import annotations

from collections.abc import Iterator


class SSESplitter:
    """Feed bytes, get back complete events (raw bytes including the blank line)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            if buf.endswith(b"\r"):  # its "\n" may be in the next chunk: decide then
                buf = buf[:-1]
                held = b"\r"
            else:
                held = b""
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            out = self._split(buf)
            self._buf += held
            return out
        return self._split(buf)

    def _split(self, buf: bytes) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        while True:
            i = buf.find(b"\n\n", start)
            if i < 0:
                break
            out.append(buf[start : i + 2])
            start = i + 2
        self._buf = buf[start:]
        return out

    def flush(self) -> bytes:
        """Whatever is left when the stream ends (an unterminated event)."""
        rest, self._buf = self._buf, b""
        return rest


#: what JSON (and so every provider SDK's ``json.loads`` of an event's data) skips before a value
_JSON_SPACE = b" \t\r\n"


def parse_event(raw: bytes) -> tuple[str | None, bytes]:
    """(event name, joined data) of one raw event, read as the SSE spec (and so every client)
    reads it: one space after ``data:`` belongs to the syntax; the data's further leading
    whitespace is removed here too, as the clients' JSON parsers skip it, so ``data:   {...}``
    is an event to read, not a keep-alive.  A ``data`` line without a colon is empty data."""
    event = None
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            v = line[5:]
            data.append(v[1:] if v.startswith(b" ") else v)
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode("utf-8", "replace")
        elif line == b"data":
            data.append(b"")
    joined = b"\n".join(data)
    if joined[:1] in (b" ", b"\t", b"\r", b"\n"):
        joined = joined.lstrip(_JSON_SPACE)
    return event, joined


def iter_events(body: bytes) -> Iterator[tuple[str | None, bytes]]:
    s = SSESplitter()
    for raw in s.feed(body):
        yield parse_event(raw)
    rest = s.flush()
    if rest.strip():
        yield parse_event(rest)
