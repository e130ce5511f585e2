"""Common scanner API: findings, masking, redaction and stream redaction.

Everything here is framework-free (no HTTP, no proxy knowledge).  The three
scanners (:class:`PiiScanner`, :class:`SecretsScanner`,
:class:`InjectionScanner`) are defined in their own modules, which import this
one; ``leash_cli.scanners`` re-exports them.

Offsets: every :class:`Finding` carries ``start``/``end`` as Python ``str``
indices into the ORIGINAL text handed to ``scan`` (even when the match was
found through normalisation, e.g. across zero-width characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

__all__ = [
    "Finding",
    "Scanner",
    "mask",
    "redact",
    "merge_findings",
    "scan_all",
    "StreamRedactor",
]


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection.

    ``text`` is the matched ORIGINAL text: callers must :func:`mask` it before
    storing or printing it (see :meth:`masked` / :meth:`to_dict`).
    """

    scanner: str   # "pii-detector" | "secrets-detector" | "prompt-injection"
    type: str      # EMAIL, OPENAI_API_KEY, PROMPT_INJECTION, ...
    start: int     # Python str index into the ORIGINAL text
    end: int
    score: float   # confidence 0..1
    text: str      # the matched original text

    def masked(self) -> str:
        return mask(self.text)

    def to_dict(self, reveal: bool = False) -> dict:
        """JSON-friendly dict; the matched text is masked unless ``reveal``."""
        return {
            "scanner": self.scanner,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "text": self.text if reveal else mask(self.text),
        }

    def shifted(self, delta: int) -> "Finding":
        return Finding(self.scanner, self.type, self.start + delta, self.end + delta, self.score, self.text)


class Scanner(Protocol):
    """Anything with ``scan(text) -> list[Finding]``."""

    def scan(self, text: str) -> list[Finding]: ...


def mask(text: str) -> str:
    """Mask a sensitive value for display.  Never reveals the secret itself.

    * e-mail addresses keep the first character of the local part and the
      domain: ``john.doe@example.com`` -> ``j***@example.com``
    * values of 20+ characters keep the first 4 and last 3 characters:
      ``sk-proj-...9xQ`` -> ``sk-p…9xQ`` (at most 7 of >= 20 characters)
    * 9..19 characters keep 1 + 2: ``555-123-4567`` -> ``5…67``
    * shorter values are fully hidden: ``***``
    """
    text = text.strip()
    n = len(text)
    at = text.rfind("@")
    if 0 < at < n - 3 and "." in text[at:] and " " not in text and "/" not in text[:at]:
        return text[0] + "***" + text[at:]
    if n >= 20:
        return text[:4] + "…" + text[-3:]
    if n >= 9:
        return text[:1] + "…" + text[-2:]
    return "***"


def merge_findings(findings: Iterable[Finding]) -> list[tuple[int, int, Finding]]:
    """Merge overlapping spans.  Returns ``(start, end, representative)``
    sorted by start; the representative is the highest-scoring finding of
    each merged group."""
    items = sorted(findings, key=lambda f: (f.start, -f.end))
    merged: list[list] = []
    for f in items:
        if f.end <= f.start:
            continue
        if merged and f.start < merged[-1][1]:
            cur = merged[-1]
            cur[1] = max(cur[1], f.end)
            if f.score > cur[2].score:
                cur[2] = f
        else:
            merged.append([f.start, f.end, f])
    return [(a, b, f) for a, b, f in merged]


def redact(text: str, findings: Sequence[Finding], placeholder: str = "[{type}]") -> str:
    """Replace every finding span with ``placeholder`` (formatted with
    ``type``, ``scanner`` and ``masked``).  Overlapping spans are merged and
    replaced once (type of the highest-scoring member).  The output is built
    left to right in one join (linear in the text and the findings)."""
    if not findings:
        return text
    parts: list[str] = []  # joined once: splicing the string per finding would be quadratic
    pos = 0
    for a, b, f in merge_findings(findings):
        parts.append(text[pos:a])
        parts.append(placeholder.format(type=f.type, scanner=f.scanner, masked=mask(text[a:b])))
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


def scan_all(text: str, scanners: Iterable[Scanner]) -> list[Finding]:
    """Run several scanners and return all findings sorted by position."""
    out: list[Finding] = []
    for s in scanners:
        out.extend(s.scan(text))
    out.sort(key=lambda f: (f.start, f.end))
    return out


class StreamRedactor:
    """Redact a text stream chunk by chunk with a hold-back window.

    ``feed(chunk)`` returns ``(safe_text, findings)``: text that can be
    emitted now (possibly ``""``) and the findings contained in it.
    ``flush()`` emits everything that is still held back.  Finding offsets
    are global indices into the concatenated INPUT stream.

    Guarantees:

    * the last ``window`` characters are always held back, and the cut point
      is moved left to a whitespace boundary, so a token (key, e-mail, card
      number ...) that is still arriving is never emitted partially;
    * the held text is re-scanned together with up to ``window`` characters
      of already-emitted text as left context (so "call me at" in a previous
      chunk still counts as phone context);
    * a PEM private key whose ``-----END`` line has not arrived yet puts the
      redactor in a "suppress until END" state so no key body leaks.

    A single run of non-whitespace longer than ``max_hold`` (default
    ``max(32 * window, 8192)``) is force-cut to bound memory.

    ``action``: ``"redact"`` (typed placeholders), ``"mask"`` (``mask()`` the
    value) or ``"detect"`` (emit unchanged, only report findings).
    """

    def __init__(self, scanners: list, window: int = 128, action: str = "redact",
                 placeholder: str = "[{type}]", max_hold: int | None = None):
        if action not in ("redact", "mask", "detect"):
            raise ValueError(f"unknown action {action!r}")
        self.scanners = list(scanners)
        self.window = max(1, int(window))
        self.action = action
        self.placeholder = placeholder
        self.max_hold = max_hold if max_hold is not None else max(32 * self.window, 8192)
        self._buf = ""        # held, not yet emitted (original text)
        self._ctx = ""        # tail of already emitted original text
        self._offset = 0      # global index of _buf[0]
        self._in_key = False  # inside an unterminated PEM private key

    # -- internals -----------------------------------------------------
    def _render(self, segment: str, findings: list[Finding]) -> str:
        if self.action == "detect" or not findings:
            return segment
        if self.action == "mask":
            return redact(segment, findings, placeholder="{masked}")
        return redact(segment, findings, placeholder=self.placeholder)

    def _emit(self, cut: int, final: bool) -> tuple[str, list[Finding]]:
        buf = self._buf
        if cut <= 0 and not final:
            return "", []
        ctx = self._ctx
        scan_text = ctx + buf
        base = len(ctx)
        findings: list[Finding] = []
        for s in self.scanners:
            findings.extend(s.scan(scan_text))
        # findings fully inside the already-emitted context are ignored
        findings = [f for f in findings if f.end > base]
        if not final:
            # never cut through a finding: hold it back entirely
            for f in findings:
                if f.start - base < cut < f.end - base:
                    cut = max(0, f.start - base)
            if cut <= 0:
                return "", []
        emitted: list[Finding] = []
        local: list[Finding] = []
        for f in findings:
            s, e = f.start - base, f.end - base
            if s >= cut:
                continue
            s2, e2 = max(0, s), min(cut, e)
            if e2 <= s2:
                continue
            local.append(Finding(f.scanner, f.type, s2, e2, f.score, buf[s2:e2]))
            emitted.append(Finding(f.scanner, f.type, s2 + self._offset, e2 + self._offset, f.score, buf[s2:e2]))
        segment = buf[:cut]
        out = self._render(segment, local)
        # PEM key state machine (only matters when redacting)
        if self.action != "detect":
            out = self._private_key_guard(segment, out, local)
        self._ctx = (ctx + segment)[-self.window:]
        self._buf = buf[cut:]
        self._offset += cut
        return out, emitted

    def _private_key_guard(self, segment: str, out: str, local: list[Finding]) -> str:
        if self._in_key:
            end = segment.find("-----END")
            if end < 0:
                return ""
            stop = segment.find("-----", end + 8)
            stop = len(segment) if stop < 0 else stop + 5
            self._in_key = False
            return "[PRIVATE_KEY]" + self._render(segment[stop:], [f.shifted(-stop) for f in local if f.start >= stop])
        for f in local:
            if f.type == "PRIVATE_KEY" and "-----END" not in f.text and f.end >= len(segment) - 1:
                self._in_key = True
        return out

    # -- public API ----------------------------------------------------
    def feed(self, chunk: str) -> tuple[str, list[Finding]]:
        if not chunk:
            return "", []
        self._buf += chunk
        buf = self._buf
        cut = len(buf) - self.window
        if cut <= 0:
            return "", []
        # move the cut left to a whitespace boundary (never split a token)
        # (only ASCII whitespace counts as a boundary: conservative)
        i = max(buf.rfind(" ", 0, cut), buf.rfind("\n", 0, cut),
                buf.rfind("\t", 0, cut), buf.rfind("\r", 0, cut)) + 1
        # a PEM block contains spaces and newlines: hold from "-----BEGIN"
        # until its END line arrives (bounded by max_hold)
        k = buf.rfind("-----BEGIN", 0, i)
        if k >= 0 and buf.find("-----END", k) < 0 and len(buf) - k <= self.max_hold:
            i = min(i, k)
        if i == 0 and len(buf) > self.max_hold:
            i = cut  # pathological run without whitespace: force cut
        return self._emit(i, final=False)

    def flush(self) -> tuple[str, list[Finding]]:
        if not self._buf:
            return "", []
        out, found = self._emit(len(self._buf), final=True)
        self._in_key = False
        return out, found
