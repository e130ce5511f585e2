"""Scanning a text stream as it arrives: a bounded look-behind, and only as much held back as a match needs.

A streamed answer is scanned delta by delta.  Each delta is scanned together with

* the *look-behind*: the tail of the text already released (at most ``lookbehind`` characters), so
  context before a match ("call me at", "aws_secret_access_key =") still counts, and
* the *held* text: the end of the stream that could still be the start of a match in progress
  (an e-mail address or key whose last characters have not arrived yet).

Everything before the held text is released as soon as it is scanned, with its findings redacted
(or the stream is blocked before it leaves).  What is held is worked out from the scanners'
patterns, per kind of match (:class:`StreamProfile`):

* ``token``: matches without whitespace (e-mail addresses, API keys, JWTs, IPs, URL passwords) -
  the trailing run of non-whitespace characters is held, at most ``token`` characters;
* ``spaced``: numbers written in groups (phone numbers, card numbers, IBANs, SSNs) - the trailing
  run of digits, capitals and the separators ``space - . / ( ) +`` is held, at most ``spaced``;
* ``fixed``: patterns that may contain any character (prompt-injection phrases, users' own
  patterns) - the last ``fixed`` characters are always held;
* ``blocks``: a PEM private key is held from its ``-----BEGIN`` line until its ``-----END`` line
  arrives (at most 16 KB, the secrets scanner's own reach).

A match that extends past the current end of the stream consists only of characters its kind allows
and is at most its kind's maximum length long, so it lies inside the held text: nothing of it has
left.  Unbounded patterns get a cap (:data:`MAX_HOLD`; the ``window`` setting for patterns of any
characters), documented in docs/configuration.md.  The work per delta is bounded by the look-behind
plus what is held (never the whole stream so far).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .engine import Finding, redact
from .normalize import INVISIBLE_RE

__all__ = ["MAX_HOLD", "StreamProfile", "StreamScanner", "profile_for", "pattern_width"]

#: the most characters ever held for one kind of match (a longer token is released in part)
MAX_HOLD = 1024
#: the longest PEM block held while its END line has not arrived (the secrets scanner looks this far)
PEM_HOLD = 16384
_WHITESPACE = " \n\t\r\f\v"
_SPACES = " \u00a0\u2007\u202f\u3000"
_OTHER_WHITESPACE = re.compile(r"[\n\t\r\f\v]")
# the characters of a number written in groups, in the scanners' normalised view (NFKC: fullwidth
# digits, letters and signs count too; invisible characters are dropped by the scanners)
_SPACED_ASCII = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -./()+")


@lru_cache(maxsize=4096)
def _spaced_char(ch: str) -> bool:
    """Whether a character can be part of a number written in groups (after NFKC, as the scanners see it)."""
    if ch in _SPACED_ASCII:
        return True
    if ch.isascii():
        return False
    if INVISIBLE_RE.match(ch) or ch.isdigit():
        return True
    folded = unicodedata.normalize("NFKC", ch)
    return bool(folded) and all(c in _SPACED_ASCII or c.isdigit() for c in folded)


@dataclass(frozen=True, slots=True)
class StreamProfile:
    """What a scanner needs of a stream: the look-behind it reads and what it may still be matching."""

    lookbehind: int = 0  # characters of already released text a match's context may need
    token: int = 0  # longest match without whitespace (0: the scanner has none)
    spaced: int = 0  # longest number-in-groups match (digits, capitals, separators, spaces)
    fixed: int = 0  # always hold this many characters (patterns of any characters)
    #: (begin marker, end marker, what closes the end line, most characters held)
    blocks: tuple[tuple[str, str, str, int], ...] = ()

    def merge(self, other: StreamProfile) -> StreamProfile:
        return StreamProfile(
            lookbehind=max(self.lookbehind, other.lookbehind),
            token=max(self.token, other.token),
            spaced=max(self.spaced, other.spaced),
            fixed=max(self.fixed, other.fixed),
            blocks=tuple(dict.fromkeys(self.blocks + other.blocks)),
        )

    def hold(self, buf: str) -> int:
        """How many characters at the end of ``buf`` may belong to a match still arriving."""
        n = len(buf)
        held = min(self.fixed, n)
        if self.token and held < n:
            lo = max(0, n - self.token)
            cut = buf.rfind(" ", lo) + 1
            if _OTHER_WHITESPACE.search(buf, max(cut, lo)) is not None:  # (rare: a newline or tab after it)
                cut = max(buf.rfind(c, lo) for c in _WHITESPACE) + 1
            held = max(held, n - max(cut, lo))
        if self.spaced and held < n:
            lo = max(0, n - self.spaced)
            i = n
            spaced = _SPACED_ASCII
            while i > lo and ((c := buf[i - 1]) in spaced or _spaced_char(c)):
                i -= 1
            # (no such match begins with a space: a run's leading spaces need not wait)
            while i < n and buf[i] in _SPACES:
                i += 1
            held = max(held, n - i)
        for begin, end, close, most in self.blocks:
            k = buf.rfind(begin)
            if k >= 0 and n - k <= most:
                e = buf.find(end, k)
                if e < 0 or buf.find(close, e + len(end)) < 0:  # its end line is not complete yet
                    held = max(held, n - k)
        return held


#: the built-in scanners, by name: lengths from their patterns (see scanners/pii.py, secrets.py)
_BUILTIN: dict[str, StreamProfile] = {
    # e-mail (254), IPv4/IPv6 (45) as tokens; phone numbers, cards, IBANs (34 + spaces), SSNs in groups;
    # context words ("phone", "ssn", a version prefix) within 256 characters before a match
    "pii-detector": StreamProfile(lookbehind=256, token=256, spaced=64),
    # keys and tokens never contain whitespace (JWTs may be longer than MAX_HOLD: the cap); an AWS
    # secret key needs context within 160 + 40 characters before it; a PEM key spans lines
    "secrets-detector": StreamProfile(
        lookbehind=256, token=MAX_HOLD, blocks=(("-----BEGIN", "-----END", "-----", PEM_HOLD),)
    ),
}


def pattern_width(rx: re.Pattern[str]) -> int | None:
    """The longest text ``rx`` can match, in characters; None when it is unbounded."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # (the stdlib's own regex parser)

        hi = int(_parser.parse(rx.pattern, rx.flags).getwidth()[1])
        maxrepeat = int(_parser.MAXREPEAT)
    except Exception:  # another engine's pattern: unknown
        return None
    return None if hi >= maxrepeat else hi


def profile_for(scanners: Iterable[Any], window: int) -> StreamProfile:
    """The combined profile of a module's scanners.  A scanner may declare its own
    (``stream_profile``); the built-in ones are known by name; users' own patterns (``custom``)
    are held for their longest match (``window`` when unbounded, at most :data:`MAX_HOLD`); any
    other scanner holds ``window`` characters."""
    out = StreamProfile()
    for sc in scanners:
        own = getattr(sc, "stream_profile", None)
        prof = own if isinstance(own, StreamProfile) else _BUILTIN.get(str(getattr(sc, "name", "")))
        if prof is None:
            prof = StreamProfile(lookbehind=window, fixed=window)
        custom = getattr(sc, "custom", None) or ()
        for item in custom:
            rx = item[1] if isinstance(item, tuple) else item
            width = pattern_width(rx) if isinstance(rx, re.Pattern) else None
            hold = window if width is None else min(width, MAX_HOLD)
            prof = prof.merge(StreamProfile(lookbehind=max(prof.lookbehind, hold), fixed=hold))
        out = out.merge(prof)
    return out


class StreamScanner:
    """One text stream, scanned incrementally.

    ``feed(text)`` returns ``(released, findings)``: the text that may leave now (findings redacted
    when ``action == "redact"``) and the findings in it (offsets into the whole stream);
    ``flush()`` releases the rest at the end.  ``action``: ``redact`` | ``block`` | ``detect``
    (``block`` and ``detect`` release the text unchanged: the caller stops the stream, or only
    records).  With ``lazy=True`` (detect only: the client already has the text) scanning waits
    until a look-behind's worth has gathered, so a stream of tiny deltas is scanned in few calls.
    """

    __slots__ = ("scanners", "profile", "action", "placeholder", "lazy", "_buf", "_ctx", "_offset")

    def __init__(
        self,
        scanners: Sequence[Any],
        profile: StreamProfile,
        action: str = "redact",
        placeholder: str = "[{type}]",
        lazy: bool = False,
    ) -> None:
        if action not in ("redact", "block", "detect"):
            raise ValueError(f"unknown action {action!r}")
        self.scanners = list(scanners)
        self.profile = profile
        self.action = action
        self.placeholder = placeholder
        self.lazy = lazy and action == "detect"
        self._buf = ""  # held back: scanned, not yet released
        self._ctx = ""  # the tail of the released text (the look-behind)
        self._offset = 0  # the stream offset of _buf[0]

    @property
    def held(self) -> int:
        return len(self._buf)

    def feed(self, text: str) -> tuple[str, list[Finding]]:
        if not text:
            return "", []
        buf = self._buf = self._buf + text
        prof = self.profile
        if self.lazy and len(buf) < max(prof.lookbehind, 64):
            return "", []
        cut = len(buf) - prof.hold(buf)
        if cut <= 0:
            return "", []
        return self._release(cut, final=False)

    def flush(self) -> tuple[str, list[Finding]]:
        if not self._buf:
            return "", []
        return self._release(len(self._buf), final=True)

    def _scan(self, text: str) -> list[Finding]:
        scanners = self.scanners
        if len(scanners) == 1:
            return list(scanners[0].scan(text))
        out: list[Finding] = []
        for sc in scanners:
            out.extend(sc.scan(text))
        return out

    def _release(self, cut: int, final: bool) -> tuple[str, list[Finding]]:
        buf, ctx = self._buf, self._ctx
        base = len(ctx)
        found = [f for f in self._scan(ctx + buf) if f.end > base]
        if not final:
            for f in found:  # never cut through a match: hold all of it (one begun in released text is cut)
                if base <= f.start and f.start - base < cut < f.end - base:
                    cut = max(0, f.start - base)
            if cut <= 0:
                return "", []
        local: list[Finding] = []
        out_found: list[Finding] = []
        for f in found:
            a, b = max(0, f.start - base), min(cut, f.end - base)
            if a >= cut or b <= a:
                continue
            local.append(Finding(f.scanner, f.type, a, b, f.score, buf[a:b]))
            out_found.append(Finding(f.scanner, f.type, a + self._offset, b + self._offset, f.score, buf[a:b]))
        segment = buf[:cut]
        out = redact(segment, local, self.placeholder) if local and self.action == "redact" else segment
        keep = self.profile.lookbehind
        self._ctx = (ctx + segment)[-keep:] if keep else ""
        self._buf = buf[cut:]
        self._offset += cut
        return out, out_found
