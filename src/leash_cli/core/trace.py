"""W3C trace context for one exchange: the caller's ``traceparent``, this exchange's ids, the upstream tries.

Only made when telemetry is on (``telemetry:`` in the config; see ``leash_cli/telemetry.py``,
which turns a finished exchange into spans).  At admission :func:`begin` reads the
client's ``traceparent`` (its trace continues; the exchange span is its child), draws
this exchange's ids, decides sampling and puts a ``traceparent`` naming the upstream
call in the headers sent upstream.  A provider with retries or fallbacks gives each try
a ``traceparent`` of its own (:meth:`Trace.start_try`).  Nothing here opens a span or
imports OpenTelemetry: spans are built from these ids and the exchange's timestamps
once it is over.
"""

from __future__ import annotations

import re
from random import getrandbits
from time import perf_counter
from typing import Any

__all__ = ["Trace", "Try", "begin", "new_span_id", "parse_traceparent", "ratio_bound"]

#: version-traceid-parentid-flags (lower-case hex); a future version may append fields
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_SAMPLED = 0x01
_LOW64 = (1 << 64) - 1


def parse_traceparent(value: str | None) -> tuple[int, int, int] | None:
    """(trace id, parent span id, flags) of a valid ``traceparent`` header, else None (W3C: ignore it)."""
    if not value:
        return None
    m = _TRACEPARENT.match(value.strip())
    if m is None:
        return None
    version, trace, parent, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace_id, parent_id = int(trace, 16), int(parent, 16)
    if not trace_id or not parent_id:
        return None
    return trace_id, parent_id, int(flags, 16)


def ratio_bound(ratio: float) -> int:
    """Trace ids whose low 64 bits are under this are sampled (OpenTelemetry's ``TraceIdRatioBased``)."""
    return round(ratio * (_LOW64 + 1))


def new_span_id() -> int:
    while True:
        n = getrandbits(64)
        if n:
            return n


class Try:
    """One upstream try: its span id, when it started and got its answer (perf_counter), who and how."""

    __slots__ = ("span_id", "t_start", "t_answer", "deployment", "model", "outcome")

    def __init__(self, span_id: int, t_start: float, deployment: Any, model: str | None) -> None:
        self.span_id = span_id
        self.t_start = t_start
        self.t_answer: float | None = None
        self.deployment = deployment  # a core.balance.Deployment
        self.model = model  # the model a fallback asked for instead of the client's (None: the client's)
        self.outcome: str | None = None  # the status, or why it failed (connect, timeout, reset ...)


class Trace:
    """The ids of one exchange's trace (integers, as OpenTelemetry's SpanContext holds them)."""

    __slots__ = ("trace_id", "parent_id", "span_id", "upstream_id", "flags", "sampled", "tries", "t_stages")

    def __init__(self, trace_id: int, parent_id: int | None, flags: int, sampled: bool) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id  # the caller's span (from its traceparent), else None: a new trace
        self.span_id = new_span_id()  # the exchange's span
        self.upstream_id = new_span_id()  # the upstream call's span (a provider's single deployment)
        self.flags = flags
        self.sampled = sampled
        self.tries: list[Try] = []  # a provider with retries or fallbacks: one per try
        self.t_stages: tuple[float, float] | None = None  # the request stages ran from .. to (perf_counter)

    def traceparent(self, span_id: int) -> str:
        return f"00-{self.trace_id:032x}-{span_id:016x}-{self.flags:02x}"

    def start_try(self, headers: dict[str, str], deployment: Any, model: str | None = None) -> None:
        """A try is about to be sent with `headers`: its own span id goes upstream in them."""
        t = Try(self.upstream_id if not self.tries else new_span_id(), perf_counter(), deployment, model)
        self.tries.append(t)
        headers["traceparent"] = self.traceparent(t.span_id)

    def answered(self, outcome: str) -> None:
        """The try in flight has its answer's head (its status) or failed (why)."""
        t = self.tries[-1]
        t.t_answer = perf_counter()
        t.outcome = outcome


def begin(headers: dict[str, str], bound: int) -> Trace:
    """The trace of a request with these headers (lower-case names); the ``traceparent`` sent upstream
    is set in `headers` (``tracestate`` passes through as the client sent it).

    A caller's trace is continued and its sampled flag followed; a new trace is sampled when the low
    64 bits of its id fall under `bound` (see :func:`ratio_bound`)."""
    parent = parse_traceparent(headers.get("traceparent"))
    if parent is not None:
        trace_id, parent_id, flags = parent
        tr = Trace(trace_id, parent_id, flags, bool(flags & _SAMPLED))
    else:
        trace_id = 0
        while not trace_id:
            trace_id = getrandbits(128)
        sampled = (trace_id & _LOW64) < bound
        tr = Trace(trace_id, None, _SAMPLED if sampled else 0, sampled)
    headers["traceparent"] = tr.traceparent(tr.upstream_id)
    return tr
