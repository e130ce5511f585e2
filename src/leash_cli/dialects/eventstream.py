"""AWS event-stream framing (``application/vnd.amazon.eventstream``), as Bedrock streams it.

One message on the wire::

    total length (u32) | headers length (u32) | prelude CRC32 (u32)
    headers: name length (u8) | name | value type (u8) | value   ... repeated
    payload
    message CRC32 (u32, over everything before it)

All integers big-endian.  :class:`FrameSplitter` cuts a byte stream into whole messages as the
bytes arrive (both CRCs checked, sizes bounded); :func:`headers_of` / :func:`payload_of` read one;
:func:`encode` writes one.  Nothing here parses JSON: that is the Bedrock dialect's business.
"""

from __future__ import annotations

import struct
from zlib import crc32

__all__ = ["MAX_FRAME", "FrameError", "FrameSplitter", "encode", "headers_of", "payload_of"]

#: the largest message accepted (AWS: payloads up to 16 MiB, headers up to 128 KiB)
MAX_FRAME = 16 * 1024 * 1024 + 128 * 1024 + 16
_PRELUDE = 12
_MIN_FRAME = _PRELUDE + 4
_U32 = struct.Struct(">I")
_PRELUDE_S = struct.Struct(">II")
# value type -> fixed size (None: u16 length-prefixed bytes or string)
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
_STRING = 7


class FrameError(ValueError):
    """The bytes are not a valid event-stream message (a CRC mismatch, an impossible length)."""


class FrameSplitter:
    """Feed bytes, get back complete, CRC-checked messages (raw bytes, ready to forward as they are).

    Memory is bounded by :data:`MAX_FRAME`: a length above it is a :class:`FrameError` at once,
    before its bytes arrive."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while n - pos >= _PRELUDE:
            total, hlen = _PRELUDE_S.unpack_from(buf, pos)
            if _U32.unpack_from(buf, pos + 8)[0] != crc32(buf[pos : pos + 8]):
                raise FrameError("event-stream prelude CRC mismatch")
            if total < _MIN_FRAME or total > MAX_FRAME or hlen > total - _MIN_FRAME:
                raise FrameError(f"event-stream message of impossible length {total} (headers {hlen})")
            if n - pos < total:
                break
            frame = buf[pos : pos + total]
            if _U32.unpack_from(frame, total - 4)[0] != crc32(memoryview(frame)[: total - 4]):
                raise FrameError("event-stream message CRC mismatch")
            out.append(frame)
            pos += total
        self._buf = buf[pos:] if pos < n else b""
        return out

    def flush(self) -> bytes:
        """At the end of the stream: a message cut off mid-way is dropped (a client would fail on it);
        nothing is left to pass on."""
        self._buf = b""
        return b""

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held."""
        return len(self._buf)


def headers_of(frame: bytes) -> dict[str, str | int | bool | bytes]:
    """The headers of one whole message (as :class:`FrameSplitter` returned it)."""
    hlen = _U32.unpack_from(frame, 4)[0]
    end = _PRELUDE + hlen
    pos = _PRELUDE
    out: dict[str, str | int | bool | bytes] = {}
    try:
        while pos < end:
            nlen = frame[pos]
            name = frame[pos + 1 : pos + 1 + nlen].decode("utf-8")
            pos += 1 + nlen
            typ = frame[pos]
            pos += 1
            size = _FIXED.get(typ)
            if size is None:
                if typ not in (6, _STRING):
                    raise FrameError(f"event-stream header {name!r} of unknown type {typ}")
                vlen = int.from_bytes(frame[pos : pos + 2], "big")
                raw = frame[pos + 2 : pos + 2 + vlen]
                pos += 2 + vlen
                out[name] = raw.decode("utf-8") if typ == _STRING else bytes(raw)
            else:
                raw = frame[pos : pos + size]
                pos += size
                if typ in (0, 1):
                    out[name] = typ == 0
                elif typ == 9:
                    out[name] = bytes(raw)
                else:
                    out[name] = int.from_bytes(raw, "big", signed=True)
    except (IndexError, UnicodeDecodeError) as e:
        raise FrameError(f"event-stream headers unreadable: {e}") from None
    if pos != end:
        raise FrameError("event-stream headers overrun their length")
    return out


def payload_of(frame: bytes) -> bytes:
    hlen = _U32.unpack_from(frame, 4)[0]
    return frame[_PRELUDE + hlen : len(frame) - 4]


def encode(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (what Bedrock's events and exceptions carry)."""
    parts = []
    for name, value in headers.items():
        n = name.encode("utf-8")
        v = value.encode("utf-8")
        parts.append(bytes((len(n),)) + n + bytes((_STRING,)) + len(v).to_bytes(2, "big") + v)
    hdr = b"".join(parts)
    total = _MIN_FRAME + len(hdr) + len(payload)
    prelude = _PRELUDE_S.pack(total, len(hdr))
    head = prelude + _U32.pack(crc32(prelude)) + hdr + payload
    return head + _U32.pack(crc32(head))
