"""Cheap prefilters ("gates") that decide, at C speed, whether a regex pass can match at all.

A regex whose first item is a character class costs CPython's ``re`` about
4 ns per character of text even when nothing matches: 16 µs per pattern on a
4 KB prompt.  A gate maps the text to a few byte classes with one
``bytes.translate`` (about 1 µs for 4 KB) and then looks for a short literal
with ``bytes.find`` (memchr speed).  Each gate is a *necessary* condition of
the pattern it guards: when the gate says no, the pattern cannot match, so
skipping it changes no finding.  When the gate says yes the scanner runs
exactly what it ran before.

:func:`char_bytes` gives one byte per character, so byte offsets are ``str``
offsets: the character itself below 256 (Latin-1, a plain copy), else the low
byte of its code point.  Every class below is made of ASCII characters, so a
character of the class always maps into it; a character above 255 may alias
into a class too (its low byte), which can only make a gate say "maybe", never
a wrong "no".  Gates that only answer yes/no may also use UTF-8 bytes (a run
of ASCII characters stays a run in UTF-8).

``ENABLED`` switches every gate off (the scanners then take their plain
regex paths); tests compare both paths on the same texts.
"""

from __future__ import annotations

import re

ENABLED = True


def table(classes: dict[bytes, bytes], default: bytes) -> bytes:
    """A 256-byte ``bytes.translate`` table: each byte in a key maps to its
    one-byte value, every other byte to ``default``."""
    out = bytearray(default * 256)
    for members, cls in classes.items():
        for b in members:
            out[b] = cls[0]
    return bytes(out)


_LOWER = bytes(range(ord("a"), ord("z") + 1))
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
DIGITS = b"0123456789"

# PII: digits, the separators the number patterns (card, SSN, IPv4, phone) consume, everything else
# ("/": a phone number may be written 0711/2345678)
NUMBER_MAP = table({DIGITS: b"0", b" \t().-+/": b"-"}, b"x")
# IBAN: country code + check digits start as [A-Z][A-Z][0-9][0-9]
IBAN_MAP = table({_UPPER: b"A", DIGITS: b"0"}, b".")
# prompt injection on the folded (lower-case) view: letters, leet digits, spacing characters
# (the four letter-spacing characters share one class: one search finds "x y z", "x.y.z", "x-y-z", "x_y_z")
INJECTION_MAP = table({_LOWER: b"a", b"013457@$": b"1", b" .-_": b" "}, b"#")
# base64 / hex alphabet (what an encoded payload is made of)
B64_MAP = table({_LOWER + _UPPER + DIGITS + b"+/": b"b"}, b".")
B64_RUN = b"b" * 24
# an AWS secret access key: 40 of the base64 alphabet, "/" and "+" perhaps URL-encoded ("%2F", "%2B")
AWS_SECRET_MAP = table({_LOWER + _UPPER + DIGITS + b"+/%": b"b"}, b".")
AWS_SECRET_RUN = b"b" * 40


def char_bytes(t: str) -> bytes | None:
    """One byte per character of ``t`` (see above); None when the gates are off."""
    if not ENABLED:
        return None
    try:
        return t.encode("latin-1")  # a copy for the usual (Latin-1 / ASCII) strings
    except UnicodeEncodeError:
        return t.encode("utf-32-le", "surrogatepass")[::4]  # the low byte of each code point


def has(b: bytes | None, cmap: bytes, needle: bytes) -> bool:
    """False only when ``b`` is known and its class map lacks ``needle`` (None: unknown, True)."""
    return b is None or needle in b.translate(cmap)


# from the first digit of a run of NUMBER_MAP's digit and separator classes that holds at least four
# digits from there to its end (a leading literal: the regex engine skips to each "0" at C speed;
# unrolled and possessive, each try costs half what ``0(?:-*0){3}[-0]*`` costs)
_DENSE_RUN = re.compile(rb"0-*+0-*+0-*+0[-0]*+")


class NumberRuns:
    """The maximal runs of digits and number separators of a text that hold at least four
    digits, with their digit and dot counts, so each number pattern reads only the runs that
    can hold one of its matches: a match lies inside one run (see :func:`finditer`), so a run
    with fewer digits (or dots) than every match of a pattern needs cannot hold one.  Counts
    are read off :func:`char_bytes`, where a character above 255 may only add to them;
    ``has_digit`` is False only when the text holds no ASCII digit."""

    __slots__ = ("_b", "digits", "has_digit", "limit", "spans")

    def __init__(self, b: bytes, limit: int | None = None):
        self._b = b
        self.limit = max(16, len(b) >> 7) if limit is None else limit
        m = b.translate(NUMBER_MAP)
        self.has_digit = b"0" in m
        # a run's first digit holds the most digits after it, so the leftmost match of each run starts
        # there; the run itself starts after the last character of neither class before it
        dense = [x.span() for x in _DENSE_RUN.finditer(m)]
        self.spans = [(m.rfind(b"x", 0, a) + 1, e) for a, e in dense]
        self.digits = [m.count(b"0", a, e) for a, e in dense]

    def at_least(self, digits: int, dots: int = 0) -> list[tuple[int, int]] | None:
        """The runs with at least ``digits`` digits (>= 4) and ``dots`` dots, for :func:`finditer`;
        None (scan the whole text) when there are more than ``limit`` of them."""
        out = [s for s, d in zip(self.spans, self.digits) if d >= digits]
        if dots:
            # (dots are counted in the runs long enough to hold them beside the digits only)
            b, least = self._b, digits + dots
            out = [(lo, hi) for lo, hi in out if hi - lo >= least and b.count(b".", lo, hi) >= dots]
        return None if len(out) > self.limit else out


def finditer(rx, t: str, windows: list[tuple[int, int]] | None, lookahead: int = 2):
    """``rx.finditer(t)``, restricted to ``windows`` (from :meth:`NumberRuns.at_least`).

    Exact for patterns that consume only characters of the windows' class, at least one, and
    look at most ``lookahead`` characters past a match (look-behinds see the whole string): no
    match can start or end outside a window.  (One ``search`` per window and match: a window
    without a match, the usual case, costs a third less than a ``finditer`` iterator.)"""
    if windows is None:
        yield from rx.finditer(t)
        return
    for lo, hi in windows:
        end = hi + lookahead  # (an end past the text is the text's end)
        m = rx.search(t, lo, end)
        while m is not None and m.start() < hi:
            yield m
            m = rx.search(t, m.end(), end)
