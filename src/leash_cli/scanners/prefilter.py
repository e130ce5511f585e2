"""One Hyperscan pass over a text: which of a scanner's regexes can match in it at all.

Hyperscan (Intel's multi-pattern regex engine; the optional ``hyperscan``
package) compiles many regexes into one automaton and says, in one pass at
SIMD speed, which of them match.  Compiled in *prefilter* mode it accepts what
it cannot run exactly (look-arounds, back-references) by widening it: it may
say "maybe" where Python's ``re`` finds nothing, never "no" where ``re`` finds
a match.  A scanner asks first and runs its exact ``re`` path only for the
patterns that may match; in ordinary prose that is none of them (a 4 KB
prompt: ~3 µs for the 45 prompt-injection features, against ~20 µs for the
Aho-Corasick lead search and anchored matches it replaces).

Only ASCII text is prefiltered, where Python's Unicode classes (``\\s``,
``\\w``, ``\\d``, ``\\b``) and Hyperscan's byte classes agree, except that
Python's ``\\s`` also takes ``\\x1c``-``\\x1f`` (and ``\\x0b``): a text holding
one of those gets None, as does non-ASCII text or a machine without the
package (it has wheels for Linux x86-64, macOS arm64 and Windows x64).  None
means "unknown: run everything".  ``gates.ENABLED`` switches prefilters off
with the other fast paths, so tests compare both paths.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from . import gates

log = logging.getLogger("leash.scanners")

# imported when a prefilter is first compiled: a gateway without scanners never loads it
AVAILABLE = importlib.util.find_spec("hyperscan") is not None
_hs: Any = None

# text Hyperscan's classes do not read as Python's re does (see above): a text holding one is not prefiltered
_UNSAFE = rb"[\x0b\x1c-\x1f]"
_FLAGS = {re.IGNORECASE: "HS_FLAG_CASELESS", re.DOTALL: "HS_FLAG_DOTALL", re.MULTILINE: "HS_FLAG_MULTILINE"}
_FLAG_BITS = re.IGNORECASE | re.DOTALL | re.MULTILINE
_IGNORED_FLAGS = re.UNICODE | re.ASCII  # on ASCII text they change nothing


class Prefilter:
    """Which of ``patterns`` (compiled Python regexes, or their source strings) may match a text.

    ``matching(text)`` returns the indexes of the patterns that may match (a superset of those
    that do), or None when it cannot tell.  The database is compiled by ``warm()`` or on first
    use.  Texts shorter than ``min_length`` get None."""

    __slots__ = ("patterns", "min_length", "_db", "_always", "_local", "_lock", "_failed")

    def __init__(self, patterns: Sequence[re.Pattern | str], min_length: int = 0) -> None:
        self.patterns = tuple(p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns)
        self.min_length = min_length  # shorter texts: None (where the scanner's own path costs less than a pass)
        self._db = None
        self._always: frozenset[int] = frozenset()
        self._local = threading.local()  # a Hyperscan scratch is one thread's
        self._lock = threading.Lock()
        self._failed = not AVAILABLE

    def matching(self, text: str) -> frozenset[int] | set[int] | None:
        """Indexes of the patterns that may match somewhere in ``text``; None: unknown."""
        if self._failed or not gates.ENABLED or len(text) < self.min_length or not text.isascii():
            return None
        db = self._db
        if db is None:
            db = self._compile()
            if db is None:
                return None
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hs.Scratch(db)
        found: set[int] = set()
        db.scan(text.encode("ascii"), match_event_handler=_collect, context=found, scratch=scratch)
        if len(self.patterns) in found:  # \x0b or \x1c-\x1f: Python's \s reads them as spaces, Hyperscan does not
            return None
        if self._always:
            found |= self._always
        return found

    # -- compiling -------------------------------------------------------------------
    def warm(self) -> None:
        """Compile now (a scanner calls this when it is built: at load, not on the first request)."""
        if self._db is None and not self._failed:
            self._compile()

    def _compile(self):
        with self._lock:
            if self._db is None and not self._failed:
                try:
                    self._db, self._always = _build(self.patterns)
                except Exception as e:  # a prefilter is an optimisation: without it, scan everything
                    log.warning("hyperscan prefilter unavailable (%s): scanning without it", e)
                    self._failed = True
            return self._db


def _collect(pattern_id: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(pattern_id)


def _expression(p: re.Pattern) -> tuple[bytes, int] | None:
    """A pattern as Hyperscan takes it, or None when it cannot (it then always 'may match')."""
    src = p.pattern
    if isinstance(src, bytes) or not src.isascii() or p.flags & ~(_IGNORED_FLAGS | _FLAG_BITS):
        return None  # (re.VERBOSE among the flags Hyperscan has no counterpart for)
    flags = _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_SINGLEMATCH | _hs.HS_FLAG_ALLOWEMPTY
    for rf, name in _FLAGS.items():
        if p.flags & rf:
            flags |= getattr(_hs, name)
    return src.encode("ascii"), flags


def _compile_db(exprs: list[tuple[int, bytes, int]]):
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[e for _, e, _ in exprs],
        ids=[i for i, _, _ in exprs],
        elements=len(exprs),
        flags=[f for _, _, f in exprs],
    )
    return db


def _build(patterns: tuple[re.Pattern, ...]) -> tuple:
    """The database and the indexes of the patterns it could not take (they always 'may match')."""
    global _hs
    if _hs is None:
        import hyperscan

        _hs = hyperscan
    always: set[int] = set()
    exprs: list[tuple[int, bytes, int]] = [(len(patterns), _UNSAFE, 0)]  # the id after the patterns
    for i, p in enumerate(patterns):
        e = _expression(p)
        if e is None:
            always.add(i)
        else:
            exprs.append((i, *e))
    try:
        db = _compile_db(exprs)
    except _hs.error:
        # one pattern Hyperscan cannot take must not cost the others their prefilter
        ok = [exprs[0]]
        for x in exprs[1:]:
            try:
                _compile_db([x])
            except _hs.error as err:
                log.debug("hyperscan cannot prefilter %r: %s", patterns[x[0]].pattern, err)
                always.add(x[0])
            else:
                ok.append(x)
        db = _compile_db(ok)
    return db, frozenset(always)
