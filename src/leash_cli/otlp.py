"""OTLP/HTTP trace export: finished spans encoded as an ``ExportTraceServiceRequest`` (protobuf) and
POSTed to the collector's ``/v1/traces``, written from the OTLP specification.

Why not the OpenTelemetry SDK's own OTLP exporter: it encodes through the ``opentelemetry-proto``
package, whose generated modules live in the same ``opentelemetry/proto/`` folder as the older
copies that ``xds-protos`` (the Envoy protos leash's ext_proc host needs) ships.  Whichever is
installed last wins, and with the ``xds-protos`` copy the exporter cannot even be imported, so
traces would depend on the order pip happened to install things in.  The encoding is small and
fixed by the protocol (field numbers and wire types of ``opentelemetry/proto/trace/v1/trace.proto``
and ``common/v1/common.proto``); this module writes it directly and needs no generated code.

The exporter runs in the SDK's ``BatchSpanProcessor`` thread, never on the event loop.  It honours
``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``, ``_TIMEOUT`` (milliseconds), ``_COMPRESSION`` (gzip),
``_CERTIFICATE``, ``_CLIENT_CERTIFICATE`` and ``_CLIENT_KEY``, and
retries 429, 502, 503, 504 and connection errors with exponential backoff until its timeout or
until it is shut down.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import httpx

__all__ = ["OtlpHttpSpanExporter", "encode_request", "traces_endpoint"]

log = logging.getLogger("leash.telemetry")

_MASK64 = (1 << 64) - 1
_RETRYABLE = frozenset({429, 502, 503, 504})
#: Span.flags: the context's trace flags, plus "whether the parent is remote is known" and "it is"
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200


# -- protobuf wire format ---------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= _MASK64
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field (message, string, bytes)."""
    return _tag(field, 2) + _varint(len(payload)) + payload


def _string(field: int, s: str | None) -> bytes:
    return _ld(field, s.encode()) if s else b""


def _fixed64(field: int, n: int) -> bytes:
    return _tag(field, 1) + struct.pack("<Q", n & _MASK64)


def _fixed32(field: int, n: int) -> bytes:
    return _tag(field, 5) + struct.pack("<I", n & 0xFFFFFFFF)


def _uint(field: int, n: int) -> bytes:
    return _tag(field, 0) + _varint(n) if n else b""


# -- common.proto -------------------------------------------------------------------------------------
def any_value(v: Any) -> bytes:
    """An ``AnyValue``: string 1, bool 2, int 3, double 4, array 5, key-value list 6, bytes 7."""
    if isinstance(v, bool):
        return _tag(2, 0) + _varint(int(v))
    if isinstance(v, int):
        return _tag(3, 0) + _varint(v)
    if isinstance(v, float):
        return _tag(4, 1) + struct.pack("<d", v)
    if isinstance(v, str):
        return _ld(1, v.encode())
    if isinstance(v, bytes):
        return _ld(7, v)
    if isinstance(v, Mapping):
        return _ld(6, _attributes(1, v))
    if isinstance(v, (list, tuple)):
        return _ld(5, b"".join(_ld(1, any_value(x)) for x in v))
    return _ld(1, str(v).encode())


def _attributes(field: int, attrs: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` (key 1, value 2) in `field`."""
    if not attrs:
        return b""
    return b"".join(_ld(field, _ld(1, str(k).encode()) + _ld(2, any_value(v))) for k, v in attrs.items())


# -- trace.proto ------------------------------------------------------------------------------------
def _trace_state(field: int, state: Any) -> bytes:
    """W3C ``tracestate`` (``k1=v1,k2=v2``), or nothing when it is empty."""
    return _string(field, ",".join(f"{k}={v}" for k, v in state.items())) if state else b""


def _span(s: Any) -> bytes:
    ctx = s.context
    out = [_ld(1, ctx.trace_id.to_bytes(16, "big")), _ld(2, ctx.span_id.to_bytes(8, "big"))]
    out.append(_trace_state(3, ctx.trace_state))
    parent = s.parent
    if parent is not None and parent.span_id:
        out.append(_ld(4, parent.span_id.to_bytes(8, "big")))
    out.append(_string(5, s.name))
    out.append(_uint(6, s.kind.value + 1))  # the SDK counts INTERNAL from 0, OTLP from 1 (0: unspecified)
    out.append(_fixed64(7, s.start_time or 0))
    out.append(_fixed64(8, s.end_time or 0))
    out.append(_attributes(9, s.attributes))
    for e in s.events:
        out.append(_ld(11, _fixed64(1, e.timestamp) + _string(2, e.name) + _attributes(3, e.attributes)))
    for link in s.links:
        lc = link.context
        lflags = int(lc.trace_flags) | _HAS_IS_REMOTE | (_IS_REMOTE if lc.is_remote else 0)
        out.append(
            _ld(
                13,
                _ld(1, lc.trace_id.to_bytes(16, "big"))
                + _ld(2, lc.span_id.to_bytes(8, "big"))
                + _trace_state(3, lc.trace_state)
                + _attributes(4, link.attributes)
                + _uint(5, getattr(link, "dropped_attributes", 0))
                + _fixed32(6, lflags),
            )
        )
    status = s.status
    code = status.status_code.value  # UNSET 0, OK 1, ERROR 2, as in OTLP
    if code or status.description:
        out.append(_ld(15, _string(2, status.description) + _uint(3, code)))
    flags = int(ctx.trace_flags) | _HAS_IS_REMOTE
    if parent is not None and parent.is_remote:
        flags |= _IS_REMOTE
    out.append(_fixed32(16, flags))
    return b"".join(out)


def encode_request(spans: Iterable[Any]) -> bytes:
    """``ExportTraceServiceRequest`` of finished SDK spans, grouped by resource and instrumentation
    scope: request {resource_spans 1}, ResourceSpans {resource 1, scope_spans 2, schema_url 3},
    ScopeSpans {scope 1, spans 2, schema_url 3}, InstrumentationScope {name 1, version 2}."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str | None, str | None], list[bytes]]]] = {}
    for s in spans:
        res = s.resource
        _, scopes = by_resource.setdefault(id(res), (res, {}))
        sc = s.instrumentation_scope
        key = (sc.name, sc.version, getattr(sc, "schema_url", None)) if sc is not None else ("", None, None)
        scopes.setdefault(key, []).append(_span(s))
    out = []
    for res, scopes in by_resource.values():
        body = [_ld(1, _attributes(1, getattr(res, "attributes", None)))]
        for (name, version, schema), encoded in scopes.items():
            scope = _string(1, name) + _string(2, version)
            body.append(_ld(2, _ld(1, scope) + b"".join(_ld(2, e) for e in encoded) + _string(3, schema)))
        body.append(_string(3, getattr(res, "schema_url", None)))
        out.append(_ld(1, b"".join(body)))
    return b"".join(out)


# -- the exporter -------------------------------------------------------------------------------------
def traces_endpoint(configured: str | None, environ: Mapping[str, str]) -> str:
    """The URL spans are POSTed to: the config's, else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as is, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else the OTLP/HTTP default on localhost."""
    if configured:
        return configured
    url = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if url:
        return url
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    return "http://localhost:4318/v1/traces"


def _headers(environ: Mapping[str, str]) -> dict[str, str]:
    raw = environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or environ.get("OTEL_EXPORTER_OTLP_HEADERS") or ""
    out = {}
    for pair in raw.split(","):
        k, sep, v = pair.partition("=")
        if sep and k.strip():
            out[unquote(k.strip()).lower()] = unquote(v.strip())
    return out


def _setting(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or environ.get(f"OTEL_EXPORTER_OTLP_{name}")


class OtlpHttpSpanExporter:
    """An SDK ``SpanExporter`` (export, shutdown, force_flush) speaking OTLP/HTTP protobuf."""

    def __init__(self, endpoint: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.endpoint = traces_endpoint(endpoint, env)
        timeout = _setting(env, "TIMEOUT")
        try:
            self.timeout = float(timeout) / 1000 if timeout else 10.0  # the spec's unit: milliseconds
        except ValueError:
            self.timeout = 10.0
        self.gzip = (_setting(env, "COMPRESSION") or "").lower() == "gzip"
        self.headers = {**_headers(env), "content-type": "application/x-protobuf"}
        if self.gzip:
            self.headers["content-encoding"] = "gzip"
        ca = _setting(env, "CERTIFICATE")  # a private CA for the collector
        cert, key = _setting(env, "CLIENT_CERTIFICATE"), _setting(env, "CLIENT_KEY")  # mTLS
        self._client = httpx.Client(
            timeout=self.timeout, verify=ca or True, cert=(cert, key) if cert and key else cert or None
        )
        self._stopped = threading.Event()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self._stopped.is_set():
            return SpanExportResult.FAILURE
        body = encode_request(spans)
        if self.gzip:
            body = gzip.compress(body)
        deadline = time.monotonic() + self.timeout
        delay = 0.5
        while True:
            try:
                r = self._client.post(self.endpoint, content=body, headers=self.headers)
                if r.status_code < 300:
                    return SpanExportResult.SUCCESS
                why = f"HTTP {r.status_code}"
                if r.status_code not in _RETRYABLE:
                    log.warning("telemetry: the collector refused %d spans: %s", len(spans), why)
                    return SpanExportResult.FAILURE
            except (httpx.HTTPError, OSError) as e:
                if self._stopped.is_set():
                    return SpanExportResult.FAILURE
                why = f"{type(e).__name__}: {e}"
            left = deadline - time.monotonic()
            if left <= 0 or self._stopped.wait(min(delay, left)):
                log.warning("telemetry: %d spans not exported (%s)", len(spans), why)
                return SpanExportResult.FAILURE
            delay *= 2

    def shutdown(self) -> None:
        self._stopped.set()
        self._client.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
