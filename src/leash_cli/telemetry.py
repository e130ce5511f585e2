"""OpenTelemetry traces: one trace per exchange, built once it is over, exported over OTLP/HTTP in batches.

Off unless ``telemetry.otlp_endpoint`` (or ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
``$OTEL_EXPORTER_OTLP_ENDPOINT``) names a collector; needs the ``otel`` extra.

Nothing is opened on the hot path.  At admission the core draws the trace's ids and
sets the ``traceparent`` sent upstream (``core/trace.py``); when the exchange ends,
:meth:`Telemetry.end` turns its recorded timestamps into spans with explicit start and
end times and hands them to the SDK's ``BatchSpanProcessor``, whose thread sends them
(a collector that is down costs the gateway nothing: spans wait in a bounded queue,
then are dropped).  The spans of an exchange:

    {operation} {model}          SERVER    the exchange (gen_ai.* and leash.* attributes)
    ├─ leash.request_stages      INTERNAL  inspect -> policy -> transform
    ├─ {operation} {model}       CLIENT    the upstream call: one per try with retries or fallbacks
    └─ leash.response_stages     INTERNAL  on_response / on_chunk, and the answer to the client

Prompt and completion text never goes into a span unless ``telemetry.capture_content`` is true.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from leash_cli import __version__
from leash_cli.config import TelemetryConfig
from leash_cli.core.trace import Trace, begin, new_span_id, ratio_bound
from leash_cli.otlp import OtlpHttpSpanExporter

log = logging.getLogger("leash.telemetry")

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")

#: gen_ai.provider.name by provider kind (OpenTelemetry GenAI semantic conventions' well-known values)
_PROVIDER_OF_KIND = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "mock": "leash.mock",
}
#: ... and by endpoint host, for the OpenAI-compatible services
_PROVIDER_OF_HOST = (
    ("openai.azure.com", "azure.ai.openai"),
    ("groq.com", "groq"),
    ("mistral.ai", "mistral_ai"),
    ("deepseek.com", "deepseek"),
    ("x.ai", "x_ai"),
    ("perplexity.ai", "perplexity"),
    ("cohere.com", "cohere"),
    ("cohere.ai", "cohere"),
)
_MODEL_SCAN_BYTES = 1 << 20  # gen_ai.response.model is read from at most this much of a buffered answer


def configured(cfg: TelemetryConfig, environ: Mapping[str, str] | None = None) -> bool:
    """Whether traces are on: an endpoint in the config or the OTEL_ variables (``OTEL_SDK_DISABLED=true``: off)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(cfg.otlp_endpoint or any(env.get(v) for v in _ENDPOINT_VARS))


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a configured endpoint: a bare ``http://host:4318`` gets ``/v1/traces``."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class Telemetry:
    """The span exporter of one gateway process: the SDK's BatchSpanProcessor and OTLP/HTTP exporter (never
    the process-global tracer provider).

    Spans are built as the SDK's finished ``ReadableSpan`` records with the ids drawn at admission and
    explicit start and end times, and handed to the batch processor as a tracer's ending spans are:
    about 2 us a span instead of the 15-50 us of a live SDK span (attribute validation, locks), which
    would otherwise be paid on the event loop for every exchange."""

    def __init__(self, cfg: TelemetryConfig, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        try:
            from opentelemetry import trace as api
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import Event, ReadableSpan
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        except ImportError as e:  # configured through the OTEL_ variables only: the caller warns
            raise RuntimeError(
                f"telemetry is configured but OpenTelemetry is not installed ({e}): pip install 'leash-cli[otel]'"
            ) from None
        self._api = api
        self._span = ReadableSpan
        self._event = Event
        self._sampled = api.TraceFlags(api.TraceFlags.SAMPLED)
        self._kinds = (api.SpanKind.SERVER, api.SpanKind.CLIENT, api.SpanKind.INTERNAL)
        self._ok = api.Status(api.StatusCode.UNSET)
        self.capture_content = cfg.capture_content
        self.bound = ratio_bound(cfg.sample_ratio)
        name = cfg.service_name or env.get("OTEL_SERVICE_NAME") or "leash"
        self.endpoint = traces_url(cfg.otlp_endpoint) if cfg.otlp_endpoint else None  # None: the OTEL_ variables
        # Resource.create adds $OTEL_RESOURCE_ATTRIBUTES and the SDK's own attributes
        self.resource = Resource.create({"service.name": name, "service.version": __version__})
        self.scope = InstrumentationScope("leash", __version__)
        self.exporter = OtlpHttpSpanExporter(self.endpoint, env)  # leash_cli/otlp.py: why not the SDK's
        self.processor = BatchSpanProcessor(self.exporter)  # type: ignore[arg-type]  # a SpanExporter by shape  # $OTEL_BSP_* apply
        self._providers: dict[tuple[str, str], str] = {}
        log.info("telemetry: traces to %s as %s", self.endpoint or "the OTEL_EXPORTER_OTLP_* endpoint", name)

    # -- the hot path: ids only ------------------------------------------------------------------
    def begin(self, headers: dict[str, str]) -> Trace:
        return begin(headers, self.bound)

    # -- after the exchange ------------------------------------------------------------------------
    def end(self, adm: Any) -> None:
        """Build the exchange's spans from its timestamps and queue them for export (never raises)."""
        tr: Trace = adm.trace
        if not tr.sampled:
            return
        try:
            for span in self.spans(adm, tr):
                self.processor.on_end(span)
        except Exception:  # a trace never breaks serving
            log.warning("could not build the trace of %s", adm.ex.id, exc_info=True)

    def spans(self, adm: Any, tr: Trace) -> list[Any]:
        """The exchange's spans: itself, its request stages, its upstream tries, its response stages."""
        api = self._api
        ex = adm.ex
        t0 = ex.t_start
        wall0 = int(ex.started_at * 1e9)

        def ns(t: float) -> int:
            return wall0 + int((t - t0) * 1e9)

        server_kind, client_kind, internal = self._kinds
        make = self._span
        resource, scope = self.resource, self.scope
        trace_id = tr.trace_id
        me = api.SpanContext(trace_id, tr.span_id, False, self._sampled)

        def child(
            name: str,
            span_id: int,
            kind: Any,
            attrs: dict[str, Any],
            start: float,
            end: float,
            status: Any = None,
            events: tuple[Any, ...] = (),
        ) -> Any:
            ctx = api.SpanContext(trace_id, span_id, False, self._sampled)
            return make(
                name,
                ctx,
                me,
                resource,
                attrs,
                events,
                kind=kind,
                status=status or self._ok,
                start_time=ns(start),
                end_time=ns(end),
                instrumentation_scope=scope,
            )

        t_end = ex.t_end if ex.t_end is not None else t0
        operation = ex.dialect.operation(ex.path) if ex.kind != "unknown" else "unknown"
        model = ex.model
        gen_provider = self._provider_name(ex.kind, adm.provider)
        name = f"{operation} {model}" if model else operation
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": gen_provider,
            "http.request.method": ex.method,
            "url.path": f"/v1/{ex.provider}/{ex.path}",
            "leash.request_id": ex.id,
            "leash.provider": ex.provider,
            "leash.tenant": ex.tenant,
            "leash.outcome": ex.outcome,
            "leash.verdict": ex.verdict,
            "leash.stream": ex.stream,
            "leash.violations": len(ex.violations),
        }
        if model:
            attrs["gen_ai.request.model"] = model
        response_model = _response_model(ex)
        if response_model:
            attrs["gen_ai.response.model"] = response_model
        u = ex.usage
        if u.input_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = u.input_tokens
        if u.output_tokens is not None:
            attrs["gen_ai.usage.output_tokens"] = u.output_tokens
        if ex.status is not None:
            attrs["http.response.status_code"] = ex.status
        if ex.key_id:
            attrs["leash.key_id"] = ex.key_id
        if ex.cost_usd is not None:
            attrs["leash.cost_usd"] = float(ex.cost_usd)
        if ex.violations:
            attrs["leash.violation_types"] = sorted({f"{v.module}:{v.type}:{v.action}" for v in ex.violations})
        for module, secs in ex.module_timings.items():
            attrs[f"leash.module.{module}.duration_ms"] = round(secs * 1000, 3)
        error = _error_type(ex)
        if error is not None:
            attrs["error.type"] = error
        if self.capture_content:
            _content(ex, attrs)
        out: list[Any] = []

        if tr.t_stages is not None:
            stage_attrs = {"leash.modules": [m.name for m in ex.modules]}
            out.append(child("leash.request_stages", new_span_id(), internal, stage_attrs, *tr.t_stages))

        if ex.t_upstream_start is not None:
            up_attrs: dict[str, Any] = {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": gen_provider,
                "http.request.method": ex.method,
            }
            if model:
                up_attrs["gen_ai.request.model"] = model
            up_end = ex.t_upstream_end if ex.t_upstream_end is not None else t_end
            last = len(tr.tries) - 1
            for i, t in enumerate(tr.tries):  # a provider with retries or fallbacks
                a = dict(up_attrs)
                a["leash.try"] = i + 1
                if t.model:
                    a["gen_ai.request.model"] = t.model
                _deployment_attrs(t.deployment, a)
                outcome = t.outcome
                if outcome is not None:
                    if outcome.isdigit():
                        a["http.response.status_code"] = int(outcome)
                    else:
                        a["error.type"] = outcome
                failed = outcome is None or not outcome.isdigit() or int(outcome) >= 500
                end = t.t_answer if t.t_answer is not None else up_end
                if i == last:
                    end = max(end, up_end)  # the answer passed on: read to its end
                status = api.Status(api.StatusCode.ERROR, outcome or "no answer") if failed else None
                tname = f"{operation} {a['gen_ai.request.model']}" if "gen_ai.request.model" in a else operation
                out.append(child(tname, t.span_id, client_kind, a, t.t_start, end, status))
            if not tr.tries:  # one deployment (the fast path), or the mock
                a = dict(up_attrs)
                route = adm.state.routes.get(ex.provider)
                if route is not None and route.single is not None:
                    _deployment_attrs(route.single, a)
                elif ex.kind == "mock":
                    a["leash.mock"] = True
                events = []
                if ex.t_upstream_headers is not None:
                    events.append(self._event("leash.first_byte", timestamp=ns(ex.t_upstream_headers)))
                    if ex.status is not None:
                        a["http.response.status_code"] = ex.status
                if ex.t_first_token is not None:
                    events.append(self._event("gen_ai.first_token", timestamp=ns(ex.t_first_token)))
                status = None
                if ex.t_upstream_headers is None or (ex.status is not None and ex.status >= 500):
                    status = api.Status(api.StatusCode.ERROR, ex.error or "upstream failed")
                out.append(
                    child(name, tr.upstream_id, client_kind, a, ex.t_upstream_start, up_end, status, tuple(events))
                )
            # the response stages: after a buffered answer arrived, alongside a stream
            r0 = ex.t_upstream_headers if ex.stream else ex.t_upstream_end
            if r0 is not None and ex.t_upstream_headers is not None and t_end >= r0:
                out.append(child("leash.response_stages", new_span_id(), internal, {}, r0, t_end))

        parent = None
        if tr.parent_id is not None:
            parent = api.SpanContext(trace_id, tr.parent_id, True, api.TraceFlags(tr.flags & 0xFF))
        status = api.Status(api.StatusCode.ERROR, ex.error or error) if error is not None else self._ok
        out.append(
            make(
                name,
                me,
                parent,
                resource,
                attrs,
                kind=server_kind,
                status=status,
                start_time=ns(t0),
                end_time=ns(t_end),
                instrumentation_scope=scope,
            )
        )
        return out

    def _provider_name(self, kind: str, provider: Any) -> str:
        endpoint = getattr(provider, "endpoint", None) or ""
        key = (kind, endpoint)
        got = self._providers.get(key)
        if got is None:
            host = (urlsplit(endpoint).hostname or "") if endpoint else ""
            got = next((name for suffix, name in _PROVIDER_OF_HOST if host.endswith(suffix)), None)
            got = got or _PROVIDER_OF_KIND.get(kind, kind)
            if len(self._providers) < 1024:
                self._providers[key] = got
        return got

    # -- lifecycle -------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Send every queued span now (blocks while the exporter retries a collector that is down)."""
        return bool(self.processor.force_flush())

    def shutdown(self, wait: float = 3.0) -> None:
        """Send what is queued and stop the exporter's thread, waiting at most about `wait` seconds: the
        SDK's own shutdown waits out the exporter's retries (up to its 10 s timeout) when the collector
        is down, so past `wait` the exporter is stopped, which ends its retries (those spans are lost)."""
        done = threading.Thread(target=self.processor.shutdown, daemon=True, name="leash-telemetry-shutdown")
        done.start()
        done.join(wait)
        if done.is_alive():
            log.warning("telemetry: the collector did not take the last spans within %.0f s; dropped", wait)
            self.exporter.shutdown()
            done.join(1.0)


def _deployment_attrs(d: Any, attrs: dict[str, Any]) -> None:
    attrs["leash.provider"] = d.provider
    attrs["leash.deployment"] = d.name
    origin = getattr(d.target, "origin", None) or ""
    parts = urlsplit(origin)
    if parts.hostname:
        attrs["server.address"] = parts.hostname
        attrs["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)


def _error_type(ex: Any) -> str | None:
    if ex.outcome in ("upstream_error", "error"):
        if ex.status is not None and ex.status < 500:
            return None  # the provider's 4xx answer, passed on: the client's error, not leash's
        return str(ex.status) if ex.status is not None else ex.outcome
    if ex.status is not None and ex.status >= 500:
        return str(ex.status)
    return None


def _response_model(ex: Any) -> str | None:
    """The model the provider says answered (read from the answer now, off the hot path)."""
    body = ex.response_body
    if not body or (ex.status or 0) >= 400:
        return None
    try:
        if ex.stream:  # the first data event that names a model
            for line in body[:_MODEL_SCAN_BYTES].split(b"\n"):
                if line.startswith(b"data:") and b'"model' in line:
                    obj = orjson.loads(line[5:])
                    if isinstance(obj, dict):
                        got = ex.dialect.response_model(obj)
                        if got:
                            return str(got)
            return None
        if len(body) > _MODEL_SCAN_BYTES:
            return None
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if isinstance(obj, dict):
        got = ex.dialect.response_model(obj)
        return str(got) if got else None
    return None


def _content(ex: Any, attrs: dict[str, Any]) -> None:
    """telemetry.capture_content: the texts the model read and wrote (GenAI conventions' message shape)."""
    try:
        texts = ex.texts()
    except Exception:
        texts = []
    if texts:
        messages = [{"role": t.role, "parts": [{"type": "text", "content": t.text}]} for t in texts]
        attrs["gen_ai.input.messages"] = orjson.dumps(messages).decode()
    if ex.response_text:
        out = [{"role": "assistant", "parts": [{"type": "text", "content": ex.response_text}]}]
        attrs["gen_ai.output.messages"] = orjson.dumps(out).decode()
