"""The shared body of the scanner modules (pii-detector, secrets-detector,
prompt-injection, content-filter): scan every text field of the request, the
buffered response and each streamed delta; block, redact or log.

Streams are scanned incrementally (``scanners/stream.py``): nothing is sent to
the client before it has been scanned, only what may belong to a match still
arriving is held back, and a match split across chunks is still caught.
"""

from __future__ import annotations

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

    __slots__ = ("limit", "size", "items", "seen")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.items: OrderedDict[str, tuple] = OrderedDict()
        # hashes of texts seen once, direct-mapped: a collision only costs one more scan, since
        # what is kept is compared by the whole text
        self.seen: list[int | None] = [None] * _SEEN_SLOTS

    def get(self, text: str) -> tuple | None:
        found = self.items.get(text)
        if found is not None:
            self.items.move_to_end(text)
        return found

    def put(self, text: str, found: tuple) -> None:
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
        if len(text) < _CACHE_MIN_CHARS:
            return self._scan(text)
        cache = self._cache
        hit = cache.get(text)
        if hit is not None:
            return hit
        found = tuple(self._scan(text))
        cache.put(text, found)
        return found

    def _scan(self, text: str) -> list[Finding]:
        scanners = self.scanners
        if len(scanners) == 1:  # (every built-in scanner module)
            return scanners[0].scan(text)
        out: list[Finding] = []
        for sc in scanners:
            out.extend(sc.scan(text))
        return out

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

    def _blocked(self, found: list[tuple[Finding, str | None]], where: str) -> Decision:
        types = sorted({f.type for f, _ in found})
        return block(
            f"{where} blocked by {self.name}: found {', '.join(types)}",
            status=403,
            code="policy_violation",
            violations=[self._violation(f, "block", fld) for f, fld in found],
        )

    # -- request -------------------------------------------------------------------
    def request_texts(self, ex: Exchange) -> list:
        return ex.texts()

    def policy(self, ex: Exchange) -> Decision | None:
        if not self.s.check_requests:
            return None
        found: list[tuple[Finding, str | None]] = []
        edits: list[tuple[tuple, str]] = []
        for t in self.request_texts(ex):
            fs = self.scan(t.text)
            if not fs:
                continue
            found.extend((f, t.field) for f in fs)
            if self.s.action == "redact":
                edits.append((t.path, redact_text(t.text, fs, self.s.placeholder)))
        if not found:
            return None
        self._remember(ex, found)
        if self.s.action == "block":
            return self._blocked(found, "request")
        if self.s.action == "log":
            return Decision("annotate", violations=[self._violation(f, "log", fld) for f, fld in found])
        for path, new in edits:
            ex.replace_text(path, new)
        return redact(violations=[self._violation(f, "redact", fld) for f, fld in found])

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
        for t in memo[1]:
            fs = self._scan(t.text)
            if fs:
                found.extend((f, "response." + t.field) for f in fs)
                edits.append((t.path, redact_text(t.text, fs, self.s.placeholder)))
        if not found:
            return None
        self._remember(ex, found)
        if self.s.action == "block":
            return self._blocked(found, "response")
        if self.s.action == "log":
            return Decision("annotate", violations=[self._violation(f, "log", fld) for f, fld in found])
        for path, new in edits:
            set_at(body, path, new)
        return redact(body, violations=[self._violation(f, "redact", fld) for f, fld in found])

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
            vs = [self._violation(f, action, fld) for f, fld in found_pairs]
            if action == "log":
                return Decision("annotate", violations=vs)
            return redact(text=out, violations=vs)
        if out == chunk.text:
            return None
        return Decision("allow", text=out)  # held back (or released later): not a redaction
