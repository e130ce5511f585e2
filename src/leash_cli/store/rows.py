"""Rows: what one exchange (or audit event) becomes in the history, for every backend.

The gateway takes a cheap :func:`snapshot` of each finished exchange (plain
values only); :func:`row_from_snapshot` formats it into the ``requests`` row
(``REQUEST_COLUMNS`` order) — JSON, truncation at ``storage.max_body_bytes``,
the ``storage.bodies`` mode, credential masking — in the writer's thread or
process.  Times are UTC ISO 8601 with milliseconds and a ``Z``
(:func:`iso_utc`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from leash_cli.config import StorageConfig
from leash_cli.exchange import CREDENTIAL_HEADERS, CREDENTIAL_PARAMS, Exchange

__all__ = [
    "iso_utc",
    "CREDENTIAL_PATTERN",
    "MASK",
    "mask_credentials",
    "clean_headers",
    "clean_query",
    "snapshot",
    "SNAPSHOT_PROMPT",
    "row_from_snapshot",
    "build_request_row",
    "audit_row",
    "build_violation_rows",
]

_ISO_SECONDS: dict[int, str] = {}  # whole second -> "2025-05-01T12:00:00" (a few recent ones)


def iso_utc(ts: float | None) -> str | None:
    """Epoch seconds -> ``2025-05-01T12:00:00.123Z``."""
    if ts is None:
        return None
    secs = int(ts)
    ms = int(round((ts - secs) * 1000))
    if ms >= 1000:
        secs, ms = secs + 1, ms - 1000
    head = _ISO_SECONDS.get(secs)
    if head is None:
        if len(_ISO_SECONDS) >= 64:
            _ISO_SECONDS.clear()
        head = _ISO_SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{head}.{ms:03d}Z"


#: credential-looking strings, masked in ``redacted`` mode and in header values
CREDENTIAL_PATTERN = re.compile(
    r"""
      sk-(?:ant-|proj-|svcacct-|or-)?[A-Za-z0-9_\-]{16,}       # OpenAI, Anthropic, OpenRouter
    | lk-[0-9a-f]{8}-[A-Za-z0-9_\-]{16,}                        # leash virtual keys
    | AIza[0-9A-Za-z_\-]{30,}                                   # Google API key
    | gh[pousr]_[A-Za-z0-9]{30,}                                # GitHub
    | xox[abprs]-[A-Za-z0-9\-]{10,}                             # Slack
    | (?:AKIA|ASIA)[0-9A-Z]{16}                                 # AWS access key id
    | gsk_[A-Za-z0-9]{20,}                                      # Groq
    | (?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}   # JWT (at a word's start)
    | (?i:bearer)\s+[A-Za-z0-9._~+/=\-]{12,}
    """,
    re.X,
)
#: PEM private keys: matched in two linear steps (see _mask_pem), not by one lazy pattern (which
#: rescans the rest of the text from every BEGIN without an END: 18 s for a 256 KiB header)
_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END[A-Z ]{0,40}PRIVATE KEY-----")
MASK = "[REDACTED]"
_SECRET_HEADER = re.compile(
    r"(authorization|api[-_]?key|secret|password|passwd|cookie|session|access[-_]?token|auth[-_]?token|(^|[-_])token$|x-.*-key$)",
    re.I,
)


#: the literal every alternative of CREDENTIAL_PATTERN begins with (``bearer`` in any case): a text
#: without any of them cannot match.  One multi-literal search for them is far cheaper than the
#: pattern itself, which tries every alternative at every position (~400 µs on 4 KB of prose, once
#: per stored text in the default ``storage.bodies: redacted``).
_CREDENTIAL_MARKERS = (
    "sk-",
    "lk-",
    "AIza",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "xox",
    "AKIA",
    "ASIA",
    "gsk_",
    "eyJ",
    "-----BEGIN",
)
try:
    from ahocorasick_rs import AhoCorasick as _AhoCorasick
    from ahocorasick_rs import MatchKind as _MatchKind

    _MARKERS_AC: Any = _AhoCorasick(list(_CREDENTIAL_MARKERS), matchkind=_MatchKind.LeftmostFirst)
except ImportError:  # pragma: no cover - a declared dependency; keep working without it
    _MARKERS_AC = None


def _may_hold_credentials(text: str) -> bool:
    if _MARKERS_AC is not None:
        if _MARKERS_AC.find_matches_as_indexes(text):
            return True
    elif any(m in text for m in _CREDENTIAL_MARKERS):
        return True
    return "bearer" in text.lower()


def mask_credentials(text: str) -> str:
    """`text` with credential-looking strings replaced by ``[REDACTED]``; linear in its length."""
    if not _may_hold_credentials(text):
        return text
    if "-----BEGIN" in text:
        text = _mask_pem(text)
    return CREDENTIAL_PATTERN.sub(MASK, text)


def _mask_pem(text: str) -> str:
    """PEM private key blocks masked: each BEGIN is paired with the first END after it; once
    no END follows a BEGIN, none follows a later one either (one pass, linear)."""
    parts: list[str] = []
    pos = 0
    while True:
        b = _PEM_BEGIN.search(text, pos)
        if b is None:
            break
        e = _PEM_END.search(text, b.end())
        if e is None:
            break
        parts.append(text[pos : b.start()])
        parts.append(MASK)
        pos = e.end()
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


_DROP = object()
_HEADER_CACHE: dict[tuple[str, str], Any] = {}  # (name, value) -> value to store, or _DROP


def _clean_header(k: str, v: Any) -> Any:
    if k.lower() in CREDENTIAL_HEADERS or _SECRET_HEADER.search(k):
        return _DROP
    v = str(v)
    return CREDENTIAL_PATTERN.sub(MASK, v) if len(v) >= 12 else v


def clean_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """``strip_credentials`` plus a defensive second pass (names and values)."""
    out: dict[str, str] = {}
    if not headers:
        return out
    cache = _HEADER_CACHE
    for k, v in headers.items():
        # the same few headers come with every request: remember short pairs
        key = (k, v) if type(v) is str and len(v) <= 256 else None
        c = cache.get(key) if key is not None else None
        if c is None:
            c = _clean_header(k, v)
            if key is not None:
                if len(cache) >= 4096:
                    cache.clear()
                cache[key] = c
        if c is not _DROP:
            out[k] = c
    return out


def clean_query(query: str | None) -> str | None:
    if not query:
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True)
    except ValueError:
        return mask_credentials(query)
    kept = [(k, mask_credentials(v)) for k, v in pairs if k.lower() not in CREDENTIAL_PARAMS]
    return urlencode(kept) or None


def _decode(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace")


def _cut_bytes(b: bytes | None, limit: int) -> tuple[str | None, int]:
    if b is None:
        return None, 0
    if isinstance(b, str):
        b = b.encode("utf-8", "replace")
    elif isinstance(b, (bytearray, memoryview)):
        b = bytes(b)
    elif not isinstance(b, bytes):  # never lose the row over an odd body
        return None, 0
    if len(b) > limit:
        return b[:limit].decode("utf-8", errors="ignore"), 1
    return _decode(b), 0


def _cut_text(s: str | None, limit: int) -> str | None:
    if s is None or len(s) <= limit // 4:  # fast path: cannot exceed limit bytes
        return s
    b = s.encode("utf-8")
    if len(b) <= limit:
        return s
    return b[:limit].decode("utf-8", errors="ignore")


def _dumps(v: Any) -> str | None:
    if v is None:
        return None
    return orjson.dumps(v, default=str).decode()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _redaction_values(ex: Exchange) -> list[str]:
    items = ex.annotations.get("redactions") or ()
    out: list[str] = []
    if isinstance(items, (str, bytes)):
        items = [items]
    for it in items if isinstance(items, (list, tuple, set)) else ():
        if isinstance(it, dict):
            it = it.get("text") or it.get("value") or it.get("original")
        if isinstance(it, bytes):
            it = it.decode("utf-8", "replace")
        if isinstance(it, str) and len(it) >= 3:
            out.append(it)
    return sorted(set(out), key=len, reverse=True)


def _secret_values(ex: Exchange) -> list[str]:
    """Credentials a security module found (``annotations["secrets"]``), as they may
    appear in stored text: raw, JSON-escaped, and escaped twice (inside stored events)."""
    vals = ex.annotations.get("secrets")
    if not vals:
        return []
    out: set[str] = set()
    for v in vals:
        if isinstance(v, str) and len(v) >= 8:
            out.add(v)
            once = orjson.dumps(v).decode()[1:-1]
            out.add(once)
            out.add(orjson.dumps(once).decode()[1:-1])
    return sorted(out, key=len, reverse=True)


def _replace_all(s: str | None, literals: list[str]) -> str | None:
    if not s:
        return s
    for lit in literals:
        if lit in s:
            s = s.replace(lit, MASK)
    return s


def _mask_all(s: str | None, literals: list[str]) -> str | None:
    if s is None:
        return None
    for lit in literals:
        s = s.replace(lit, MASK)
    return mask_credentials(s)


def _prompt_text(ex: Exchange, fallback: Callable[[Any], str | None]) -> str | None:
    """The exchange's own normalised prompt text when it has one, else ``usage.prompt_text``."""
    texts = getattr(ex, "_texts", None)
    if texts is not None:  # a module already listed the texts: join them
        return "\n".join(t.text for t in texts)
    if isinstance(getattr(type(ex), "prompt_text", None), property):
        try:
            return str(ex.prompt_text)
        except Exception:
            pass
    return fallback(ex.json())


def _events_json(stream_events: list[Any], limit: int) -> str:
    """The raw SSE events as a JSON list of strings, cut at ``limit`` (bytes, counted per event)."""
    try:
        if sum(map(len, stream_events)) <= limit:  # the usual case: all of them, all UTF-8 bytes
            return orjson.dumps([raw.decode() for raw in stream_events]).decode()
    except (AttributeError, TypeError, UnicodeDecodeError):
        pass
    kept: list[str] = []
    size = 0
    for raw in stream_events:
        size += len(raw)
        if size > limit:
            break
        kept.append(_decode(bytes(raw)) if isinstance(raw, (bytes, bytearray)) else str(raw))
    return orjson.dumps(kept).decode()


_PARSE_LATER = "parse-later"


def _first_events(events: list[Any] | None, limit: int) -> list[Any] | None:
    """The stream's first events, up to about `limit` bytes (the row keeps no more)."""
    if not events:
        return events
    size = 0
    for i, raw in enumerate(events):
        size += len(raw)
        if size > limit:
            return events[: i + 1]
    return events


def snapshot(ex: Exchange, storage: StorageConfig) -> tuple[Any, ...]:
    """What the ``requests`` row needs from one exchange, as plain values (cheap: the gateway
    takes it; the formatting in :func:`row_from_snapshot` can then run in the writer process).

    Only attribute reads: the timings go as the exchange's clock readings, and the prompt
    text is read off the request body by :func:`row_from_snapshot` unless the parsed body
    has edits not yet serialized.  The exchange must not change once it is taken."""
    bodies: tuple[Any, ...]
    if storage.bodies == "none":
        bodies = (None, None, None, None, None, None, None)
    else:
        limit = storage.max_body_bytes
        req_body = ex.request_body
        big = req_body is not None and len(req_body) > limit
        prompt: tuple[str, str] | str | None
        if type(ex) is Exchange and not ex._dirty and not big:
            prompt = (_PARSE_LATER, ex.api)  # the body's bytes are what was sent: the writer parses them
        else:
            from leash_cli.usage import prompt_text

            try:
                prompt = _prompt_text(ex, prompt_text)
            except Exception:  # a strange body must not lose the row
                prompt = None
        notes = ex.annotations
        # what the row keeps is cut here, before the snapshot leaves (one byte over the limit: the
        # writer still sees it was cut): a 100 MB exchange costs the pipe and the writer 256 KiB
        cut = limit + 1
        resp_body, resp_text = ex.response_body, ex.response_text
        bodies = (
            req_body[:cut] if big else req_body,
            resp_body[:cut] if resp_body is not None and len(resp_body) > cut else resp_body,
            resp_text[:cut] if resp_text is not None and len(resp_text) > cut else resp_text,
            prompt[:cut] if type(prompt) is str and len(prompt) > cut else prompt,
            _first_events(ex.stream_events, cut) if storage.bodies == "full" else None,
            _redaction_values(ex) if storage.bodies == "redacted" and notes else None,
            _secret_values(ex) if notes else None,
        )
    u = ex.usage
    return (
        ex.id,
        ex.started_at,
        (ex.t_start, ex.t_upstream_start, ex.t_upstream_end, ex.t_first_token, ex.t_end),
        ex.tenant,
        ex.key_id,
        ex.provider,
        ex.kind,
        ex.model,
        ex.method,
        ex.path,
        ex.query,
        ex.status,
        ex.stream,
        ex.outcome,
        ex.verdict,
        u.input_tokens,
        u.output_tokens,
        u.cached_input_tokens,
        u.cache_write_tokens,
        u.reasoning_tokens,
        ex.cost_usd,
        ex.client,
        ex.error,
        ex.cost_detail,
        ex.module_timings or None,
        ex.request_headers,
        ex.response_headers or None,
        *bodies,
    )


#: where :func:`snapshot` puts the prompt text (or the note to parse it later)
SNAPSHOT_PROMPT = 30


def _durations(clock: tuple[Any, ...]) -> tuple[float | None, float | None, float | None, float | None]:
    """(total, upstream, overhead, time to first token) in seconds from an exchange's
    clock readings, as ``Exchange``'s properties compute them."""
    start, up_start, up_end, first, end = clock
    total = end - start if end is not None else None
    upstream = up_end - up_start if up_start is not None and up_end is not None else None
    overhead = max(total - (upstream or 0.0), 0.0) if total is not None else None
    ttft = first - start if first is not None else None
    return total, upstream, overhead, ttft


def row_from_snapshot(snap: tuple[Any, ...], storage: StorageConfig) -> tuple[Any, ...]:
    """The ``requests`` row, in ``REQUEST_COLUMNS`` order, from :func:`snapshot`."""
    (
        rid,
        started,
        clock,
        tenant,
        key_id,
        provider,
        kind,
        model,
        method,
        path,
        query,
        status,
        stream,
        outcome,
        verdict,
        inp,
        outp,
        cached,
        cache_write,
        reasoning,
        cost,
        client,
        error,
        cost_detail,
        timings,
        req_headers,
        resp_headers,
        req_raw,
        resp_raw,
        resp_text,
        prompt,
        stream_events,
        lits,
        secrets,
    ) = snap
    total, upstream_s, overhead_s, ttft_s = _durations(clock)
    limit = storage.max_body_bytes
    mode = storage.bodies
    ended = started + total if total is not None else None
    if type(prompt) is tuple:  # (_PARSE_LATER, api): the prompt text from the request body, here
        from leash_cli.usage import prompt_text

        try:
            prompt = _prompt_text(
                Exchange(
                    id=rid,
                    provider=provider,
                    kind=kind,
                    api=prompt[1],
                    method=method,
                    path=path,
                    request_body=req_raw or b"",
                ),
                prompt_text,
            )
        except Exception:
            prompt = None
    events = None
    if mode == "none":
        req_body = resp_body = resp_text = prompt = None
        req_trunc = resp_trunc = 0
    else:
        req_body, req_trunc = _cut_bytes(req_raw, limit)
        resp_body, resp_trunc = _cut_bytes(resp_raw, limit)
        resp_text = _cut_text(resp_text, limit)
        prompt = _cut_text(prompt, limit) if prompt else None
        if mode == "redacted":
            lits = lits or []
            req_body = _mask_all(req_body, lits)
            # a stream may carry a finding in pieces across its events, where no literal matches:
            # one in which something was found is kept as its (masked) reassembled text only
            resp_body = None if stream and lits and resp_body else _mask_all(resp_body, lits)
            resp_text = _mask_all(resp_text, lits)
            prompt = _mask_all(prompt, lits)
        elif stream_events:
            events = _events_json(stream_events, limit)
        if secrets:  # credentials a module found are masked in every storage mode, `full` included
            req_body, resp_body, resp_text, prompt, events = (
                _replace_all(s, secrets) for s in (req_body, resp_body, resp_text, prompt, events)
            )
    return (
        rid,
        iso_utc(started),
        iso_utc(ended),
        tenant,
        key_id,
        provider,
        kind,
        model,
        method,
        path,
        clean_query(query),
        status,
        1 if stream else 0,
        outcome,
        verdict,
        _ms(total),
        _ms(upstream_s),
        _ms(overhead_s),
        _ms(ttft_s),
        inp,
        outp,
        cached,
        cache_write,
        reasoning,
        cost,
        client,
        mask_credentials(error) if error else None,
        _dumps(cost_detail),
        _dumps({k: _ms(v) for k, v in timings.items()}) if timings else None,
        _dumps(clean_headers(req_headers)),
        _dumps(clean_headers(resp_headers)) if resp_headers else None,
        req_trunc,
        resp_trunc,
        req_body,
        resp_body,
        resp_text,
        prompt,
        events,
    )


def build_request_row(ex: Exchange, storage: StorageConfig) -> tuple[Any, ...]:
    """The ``requests`` row for one exchange, in ``REQUEST_COLUMNS`` order."""
    return row_from_snapshot(snapshot(ex, storage), storage)


def audit_row(created: float, event: str, actor: str | None, detail: dict[str, Any] | None) -> tuple[Any, ...]:
    """The ``audit_log`` row for one event."""
    text = _dumps(detail)
    return (iso_utc(created), event, actor, text and mask_credentials(text))


def build_violation_rows(ex: Exchange) -> list[tuple[Any, ...]]:
    if not ex.violations:
        return []
    created = iso_utc(ex.started_at)
    return [
        (ex.id, created, v.module, v.type, v.action, v.severity, v.detail, v.start, v.end, v.field, v.score)
        for v in ex.violations
    ]
