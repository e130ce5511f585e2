"""The shared body of the scanner modules (pii-detector, secrets-detector,
prompt-injection, content-filter): scan every text field of the request, the
buffered response and each streamed delta; block, redact or log.

Streams are scanned incrementally (``scanners/stream.py``): nothing is sent to
the client before it has been scanned, only what may belong to a match still
arriving is held back, and a match split across chunks is still caught.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from leash_cli.decision import Decision, block, redact
from leash_cli.exchange import Exchange, Violation
from leash_cli.messages import set_at
from leash_cli.modules._common import Settings
from leash_cli.pipeline import RESPONSE_TEXTS_KEY, StreamChunk
from leash_cli.scanners import Finding, mask
from leash_cli.scanners import redact as redact_text
from leash_cli.scanners.stream import StreamProfile, StreamScanner, profile_for

Action = Literal["block", "redact", "log"]
#: modules whose findings are not private data: an injection attempt or a blocked word stays readable
#: (and searchable) in the history
_NOT_PRIVATE = frozenset({"prompt-injection", "content-filter"})


_CACHE_MIN_CHARS = 16  # below this a scan costs about what a lookup does
_CACHE_MAX_CHARS = 16 * 1024 * 1024  # per module: the texts remembered, in characters
_CACHE_ENTRY_COST = 64  # counted per entry on top of its characters, so tiny texts stay bounded too
_SEEN_SLOTS = 1 << 14  # texts seen once, remembered by hash only (a power of two)
#: a text longer than this is scanned in windows (each overlapping the next by _WINDOW_OVERLAP): one
#: regular-expression call then never holds the GIL for long, so the event loop keeps answering while
#: a worker thread scans a large body (a match longer than the overlap may be missed at a seam)
_WINDOW = 64 * 1024
_WINDOW_OVERLAP = 4 * 1024
DEFAULT_MAX_SCAN_CHARS = 2 * 1024 * 1024
MAX_VIOLATIONS = 100  # violations recorded per module decision (see ScanModule._violations)


class _TextCache:
    """Findings of recently scanned texts, bounded by their total length (least recently used out first).

    A text is kept from its second sighting on: the first only leaves its hash in a small table.
    Traffic of new texts (most prompts) then keeps nothing, and that matters more than it seems: a
    cache that kept every new 4 KB prompt until 16 MB later held the allocator's recently freed
    memory away from the next request, whose bodies and scan buffers then landed in memory long out
    of the CPU's caches (measured: ~80 µs a request more with the three default scanners than with
    no cache at all).  A text that comes back (a system prompt, an agent's resent history) is
    scanned a second time and remembered then.
    """

    __slots__ = ("limit", "size", "items", "seen", "lock")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[str, tuple] = OrderedDict()
        # hashes of texts seen once, direct-mapped: a collision only costs one more scan, since
        # what is kept is compared by the whole text
        self.seen: list[int | None] = [None] * _SEEN_SLOTS
        self.lock = threading.Lock()  # large bodies are scanned in worker threads, several at once

    def get(self, text: str) -> tuple | None:
        with self.lock:
            found = self.items.get(text)
            if found is not None:
                self.items.move_to_end(text)
            return found

    def put(self, text: str, found: tuple) -> None:
        with self.lock:
            self._put(text, found)

    def _put(self, text: str, found: tuple) -> None:
        if len(text) > self.limit // 4 or text in self.items:
            return
        h = hash(text)
        i = h & (_SEEN_SLOTS - 1)
        if self.seen[i] != h:  # the first sighting
            self.seen[i] = h
            return
        self.seen[i] = None
        self.items[text] = found
        self.size += len(text) + _CACHE_ENTRY_COST
        while self.size > self.limit:
            old, _ = self.items.popitem(last=False)
            self.size -= len(old) + _CACHE_ENTRY_COST


class ScanSettings(Settings):
    action: Action = Field(
        "block", description="block the exchange, redact matches with typed placeholders, or only log them"
    )
    check_requests: bool = Field(True, description="scan what is sent to the model")
    check_responses: bool = Field(True, description="scan what the model answers, streams included")
    window: int = Field(
        128,
        ge=8,
        le=65536,
        description=(
            "streams: the characters held back for scanners whose longest match is not known (prompt-injection, "
            "custom scanners, unbounded custom patterns); the built-in PII and secrets scanners hold back only "
            "what a match in progress needs"
        ),
    )
    placeholder: str = Field("[{type}]", description="redaction text; {type} is the finding type")


class ScanModule:
    """Subclasses set `name`, `severity` and build `self.scanners` (objects with scan(text))."""

    name = "scanner"
    version = "1.0"
    priority = 30
    #: large bodies are scanned in a worker thread, off the event loop (see pipeline.OFFLOAD_MIN_BYTES)
    offload = "auto"
    on_error = "block"  # security modules fail closed
    severity = "high"
    #: matches are credentials: the history masks them in every storage.bodies mode
    sensitive = False

    def __init__(self, settings: ScanSettings, context: Any = None) -> None:
        self.s = settings
        # a stage the settings switch off is no stage at all: the pipeline never calls it (nor
        # times it, nor hands it a copy of the body).  The instance's None shadows the method (the
        # registry reads the stages a class has off the class, the pipeline those of one instance).
        off: tuple[str, ...] = ("policy",) if not settings.check_requests else ()
        if not settings.check_responses:
            off += ("on_response", "on_chunk")
        for stage in off:
            setattr(self, stage, None)
        self.scanners: list[Any] = []
        self._key = f"_stream:{self.name}"
        self._profile: StreamProfile | None = None
        self._cache = _TextCache(_CACHE_MAX_CHARS)
        gw = getattr(getattr(context, "config", None), "gateway", None)
        #: gateway.max_scan_chars / gateway.on_scan_limit: the text one exchange may have scanned
        self.max_scan_chars: int = getattr(gw, "max_scan_chars", DEFAULT_MAX_SCAN_CHARS)
        self.on_scan_limit: str = getattr(gw, "on_scan_limit", "block")
        self._scanned_key = f"_scanned:{self.name}"  # the response's (or stream's) text scanned so far

    @property
    def edits_response(self) -> bool:
        """Only redaction rewrites a response (a shadow run then needs a copy of it)."""
        return self.s.action == "redact"

    # -- helpers -----------------------------------------------------------------
    def scan(self, text: str) -> Sequence[Finding]:
        """Findings in a request's `text`, remembered once it comes back: chat apps and coding agents
        send the system prompt and the whole conversation again on every turn, and an unchanged
        message need not be scanned a third time.  (Responses are new text: they are scanned with
        `_scan`, not remembered.)  What is remembered is a tuple, shared: read it, never change it."""
        return self._remembered(text, self._cache)

    def _remembered(self, text: str, cache: _TextCache, scanners: list[Any] | None = None) -> Sequence[Finding]:
        """:meth:`scan` with a memory of texts and the scanners that fill it (another set of scanners needs a
        memory of its own: what one found in a text is no answer for the other)."""
        if len(text) < _CACHE_MIN_CHARS:
            return self._scan(text, scanners)
        hit = cache.get(text)
        if hit is not None:
            return hit
        found = tuple(self._scan(text, scanners))
        cache.put(text, found)
        return found

    @staticmethod
    def _new_memory() -> _TextCache:
        """A memory of texts for :meth:`_remembered` (as big as the module's own)."""
        return _TextCache(_CACHE_MAX_CHARS)

    def scan_text(self, t: Any) -> Sequence[Finding]:
        """Findings in one of a request's texts (a ``Text``: its role and kind say where it comes from); a
        module that reads some texts differently overrides this."""
        return self.scan(t.text)

    def _scan(self, text: str, scanners: list[Any] | None = None) -> list[Finding]:
        """``text`` through ``scanners`` (default: the module's)."""
        if scanners is None:
            scanners = self.scanners
        if len(text) > _WINDOW + _WINDOW_OVERLAP:
            # block and log record at most MAX_VIOLATIONS findings: no need to collect hundreds of
            # thousands (each an object the garbage collector then walks, holding the GIL)
            return self._scan_windows(text, None if self.s.action == "redact" else MAX_VIOLATIONS + 1, scanners)
        if len(scanners) == 1:  # (every built-in scanner module)
            return scanners[0].scan(text)
        out: list[Finding] = []
        for sc in scanners:
            out.extend(sc.scan(text))
        return out

    def _scan_windows(self, text: str, enough: int | None, scanners: list[Any]) -> list[Finding]:
        """A long text in overlapping windows, offsets into the whole text.  A window keeps the
        findings that start in its own stretch (those starting in the overlap are the next one's,
        found there with their context) and not inside one an earlier window kept (a match cut
        off at the window's left edge)."""
        out: list[Finding] = []
        n = len(text)
        covered = 0
        for pos in range(0, n, _WINDOW):
            end = min(pos + _WINDOW + _WINDOW_OVERLAP, n)
            own = pos + _WINDOW if end < n else n
            part = text[pos:end]
            reach = covered
            for sc in scanners:
                for f in sc.scan(part):
                    start = f.start + pos
                    if start < own and start >= covered:
                        out.append(dataclasses.replace(f, start=start, end=f.end + pos) if pos else f)
                        reach = max(reach, f.end + pos)
            covered = reach
            if end >= n or (enough is not None and len(out) >= enough):
                break
        return out

    # -- the scan limit (gateway.max_scan_chars) ---------------------------------------------
    def _over_limit(self, ex: Exchange, texts: list, where: str) -> tuple[list, Decision | None]:
        """The texts to scan within what is left of the exchange's ``max_scan_chars``: all of them,
        or past the cap a block (``on_scan_limit: block``) or the texts cut to it and a note
        (``allow``: the rest passes unscanned, recorded as a SCAN_LIMIT violation)."""
        cap = self.max_scan_chars
        key = self._scanned_key if where != "request" else None
        used = ex.annotations.get(key, 0) if key else 0
        total = used
        for t in texts:
            total += len(t.text)
        if key:
            ex.annotations[key] = total
        if total <= cap:
            return texts, None
        if self.on_scan_limit == "block":
            return [], block(
                f"{where} blocked by {self.name}: its text ({total} characters) is more than gateway.max_scan_chars "
                f"({cap}) allows to be scanned (gateway.on_scan_limit: block)",
                status=413,
                code="scan_limit_exceeded",
                violations=[self._limit_violation("block", total, cap)],
            )
        left = max(cap - used, 0)
        kept = []
        for t in texts:
            if left <= 0:
                break
            # (a cut text is redacted as far as it was scanned: redact_text keeps the rest as is)
            kept.append(t if len(t.text) <= left else _Cut(t, left))
            left -= len(t.text)
        return kept, Decision("annotate", violations=[self._limit_violation("log", total, cap)])

    def _limit_violation(self, action: str, total: int, cap: int) -> Violation:
        return Violation(
            self.name,
            "SCAN_LIMIT",
            action,
            "medium",
            f"{total} characters to scan, over gateway.max_scan_chars ({cap}); "
            + ("blocked" if action == "block" else "the rest passed unscanned"),
        )

    def _remember(self, ex: Exchange, found: list[tuple[Finding, str | None]]) -> None:
        """Credentials are masked in every stored copy; what any data scanner finds is masked in
        stored bodies under ``storage.bodies: redacted`` (the default), whatever the action."""
        texts = [f.text for f, _ in found]
        if self.sensitive:
            ex.annotations.setdefault("secrets", []).extend(texts)
        if self.name not in _NOT_PRIVATE:
            notes = ex.annotations.setdefault("redactions", [])
            for t in texts:
                notes.append(t)
                escaped = orjson.dumps(t).decode()[1:-1]  # as it appears inside a stored JSON body
                if escaped != t:
                    notes.append(escaped)

    def _violation(self, f: Finding, action: str, field: str | None) -> Violation:
        return Violation(
            self.name,
            f.type,
            action,
            self.severity,
            f"{f.type}: {mask(f.text)}",
            f.start,
            f.end,
            field,
            round(f.score, 4),
        )

    def _violations(self, found: list[tuple[Finding, str | None]], action: str) -> list[Violation]:
        """One violation per finding, at most ``MAX_VIOLATIONS`` (a hostile body can hold hundreds of
        thousands of findings: each is a metric increment and a history row); the last one listed
        says how many more there were."""
        vs = [self._violation(f, action, fld) for f, fld in found[:MAX_VIOLATIONS]]
        more = len(found) - MAX_VIOLATIONS
        if more > 0:
            vs[-1].detail = f"{vs[-1].detail} (and {more} or more findings, not listed)"
        return vs

    def _blocked(self, found: list[tuple[Finding, str | None]], where: str) -> Decision:
        types = sorted({f.type for f, _ in found})
        return block(
            f"{where} blocked by {self.name}: found {', '.join(types)}",
            status=403,
            code="policy_violation",
            violations=self._violations(found, "block"),
        )

    # -- request -------------------------------------------------------------------
    def request_texts(self, ex: Exchange) -> list:
        return ex.texts()

    def policy(self, ex: Exchange) -> Decision | None:
        if not self.s.check_requests:
            return None
        found: list[tuple[Finding, str | None]] = []
        edits: list[tuple[tuple, str]] = []
        texts, limited = self._over_limit(ex, self.request_texts(ex), "request")
        if limited is not None and limited.action == "block":
            return limited
        for t in texts:
            fs = self.scan_text(t)
            if not fs:
                continue
            found.extend((f, t.field) for f in fs)
            if self.s.action == "redact":
                edits.append((t.path, redact_text(getattr(t, "whole", t.text), fs, self.s.placeholder)))
        if not found:
            return limited
        self._remember(ex, found)
        if self.s.action == "block":
            return _noted(self._blocked(found, "request"), limited)
        if self.s.action == "log":
            return _noted(Decision("annotate", violations=self._violations(found, "log")), limited)
        for path, new in edits:
            ex.replace_text(path, new)
        return _noted(redact(violations=self._violations(found, "redact")), limited)

    # -- buffered response ------------------------------------------------------
    def on_response(self, ex: Exchange, body: Any) -> Decision | None:
        if not self.s.check_responses:
            return None
        found: list[tuple[Finding, str | None]] = []
        edits = []
        # the texts of this body, shared with the next scanner (the pipeline drops them as soon as
        # a module could have changed the body: a decision, or a module that edits responses)
        memo = ex.annotations.get(RESPONSE_TEXTS_KEY)
        if memo is None or memo[0] is not body:
            memo = ex.annotations[RESPONSE_TEXTS_KEY] = (body, ex.dialect.response_texts(body))
        texts, limited = self._over_limit(ex, memo[1], "response")
        if limited is not None and limited.action == "block":
            return limited
        for t in texts:
            fs = self._scan(t.text)
            if fs:
                found.extend((f, "response." + t.field) for f in fs)
                edits.append((t.path, redact_text(getattr(t, "whole", t.text), fs, self.s.placeholder)))
        if not found:
            return limited
        self._remember(ex, found)
        if self.s.action == "block":
            return _noted(self._blocked(found, "response"), limited)
        if self.s.action == "log":
            return _noted(Decision("annotate", violations=self._violations(found, "log")), limited)
        for path, new in edits:
            set_at(body, path, new)
        return _noted(redact(body, violations=self._violations(found, "redact")), limited)

    # -- streamed response ---------------------------------------------------------
    def stream_profile(self) -> StreamProfile:
        """What this module's scanners need of a stream (see ``scanners/stream.py``), worked out once."""
        prof = self._profile
        if prof is None:
            prof = self._profile = profile_for(self.scanners, self.s.window)
        return prof

    def on_chunk(self, ex: Exchange, chunk: StreamChunk) -> Decision | None:
        """Each delta of a streamed answer, scanned with a bounded look-behind.

        ``redact`` and ``block`` hold back only what may belong to a match still arriving (the
        rest leaves at once: :class:`~leash_cli.scanners.stream.StreamScanner`); ``log`` holds
        nothing back (the client gets the text as it comes; the findings are recorded).  Holding
        text back is not a redaction: the decision then only carries the text (``allow``), and
        the exchange is ``redacted`` only when a finding changed what the client got."""
        if not self.s.check_responses:
            return None
        action = self.s.action
        notes = ex.annotations
        used = notes.get(self._scanned_key, 0) + len(chunk.text)
        notes[self._scanned_key] = used
        if used > self.max_scan_chars:
            return self._stream_over_limit(ex, chunk, used)
        if chunk.aggregate:  # a whole text the stream repeats: scan it whole, hold nothing back
            fs = self._scan(chunk.text)
            if not fs:
                return None
            pairs: list[tuple[Finding, str | None]] = [(f, "response.stream") for f in fs]
            self._remember(ex, pairs)
            if action == "block":
                return self._blocked(pairs, "response stream")
            if action == "redact":
                return redact(text=redact_text(chunk.text, fs, self.s.placeholder))
            return None  # log: the deltas were already recorded
        streams = ex.annotations.get(self._key)
        if streams is None:
            streams = ex.annotations[self._key] = {}
        sc = streams.get(chunk.key)
        if sc is None:
            if chunk.final and not chunk.text:
                return None
            mode = "detect" if action == "log" else action
            sc = streams[chunk.key] = StreamScanner(
                self.scanners, self.stream_profile(), action=mode, placeholder=self.s.placeholder, lazy=action == "log"
            )
        if chunk.final:
            # what earlier modules released at the end of this stream, then all we held
            out, found = sc.feed(chunk.text) if chunk.text else ("", [])
            rest, more = sc.flush()
            out, found = out + rest, found + more
            del streams[chunk.key]
        else:
            out, found = sc.feed(chunk.text)
        if action == "log":
            out = chunk.text  # the client has it already: only the findings matter
        if found:
            found_pairs: list[tuple[Finding, str | None]] = [(f, "response.stream") for f in found]
            self._remember(ex, found_pairs)
            if action == "block":
                return self._blocked(found_pairs, "response stream")
            vs = self._violations(found_pairs, action)
            if action == "log":
                return Decision("annotate", violations=vs)
            return redact(text=out, violations=vs)
        if out == chunk.text:
            return None
        return Decision("allow", text=out)  # held back (or released later): not a redaction

    def _stream_over_limit(self, ex: Exchange, chunk: StreamChunk, used: int) -> Decision | None:
        """A stream past ``gateway.max_scan_chars``: stopped (``block``), or its text passes
        unscanned from here on (``allow``: what a scanner held back is released first)."""
        cap = self.max_scan_chars
        if self.on_scan_limit == "block":
            return block(
                f"response stream stopped by {self.name}: more text ({used} characters) than "
                f"gateway.max_scan_chars ({cap}) allows to be scanned (gateway.on_scan_limit: block)",
                status=413,
                code="scan_limit_exceeded",
                violations=[self._limit_violation("block", used, cap)],
            )
        noted = f"_scan_limit_noted:{self.name}"
        first = noted not in ex.annotations
        ex.annotations[noted] = True
        streams = ex.annotations.get(self._key) or {}
        sc = streams.pop(chunk.key, None)
        text = chunk.text
        if sc is not None and self.s.action != "log":
            rest, _ = sc.flush()  # held back before the cap: scanned already
            text = rest + text
        vs = [self._limit_violation("log", used, cap)] if first else []
        if text == chunk.text and not vs:
            return None
        return Decision("allow" if not vs else "annotate", text=text, violations=vs)


class _Cut:
    """A text scanned only up to ``gateway.max_scan_chars`` (``on_scan_limit: allow``): it reads
    as the scanned part; the findings' offsets hold in the whole text (they are all in the part)."""

    __slots__ = ("text", "path", "field", "whole", "role", "kind")

    def __init__(self, t: Any, n: int) -> None:
        self.text, self.path, self.field, self.whole = t.text[:n], t.path, t.field, t.text
        self.role, self.kind = t.role, t.kind  # (where it comes from: a module may read a tool's result otherwise)


def _noted(d: Decision, limited: Decision | None) -> Decision:
    """`d` with the SCAN_LIMIT note of ``on_scan_limit: allow`` added (when there is one)."""
    if limited is not None:
        d.violations.extend(limited.violations)
    return d
