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


def parse_event(raw: bytes) -> tuple[str | None, bytes]:
    """(event name, joined data) of one raw event."""
    event = None
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data:"):
            v = line[5:]
            data.append(v[1:] if v.startswith(b" ") else v)
        elif line.startswith(b"event:"):
            event = line[6:].strip().decode("utf-8", "replace")
    return event, b"\n".join(data)


def iter_events(body: bytes) -> Iterator[tuple[str | None, bytes]]:
    s = SSESplitter()
    for raw in s.feed(body):
        yield parse_event(raw)
    rest = s.flush()
    if rest.strip():
        yield parse_event(rest)
