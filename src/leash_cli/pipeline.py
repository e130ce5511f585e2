"""The pipeline: every exchange passes through one of these.

    request:  inspect -> policy -> transform      (``await pipeline.request(ex)``)
    upstream
    response: per event (streams) or per body     (``flow = pipeline.response(ex)``)
    sink:     usage, cost, metrics, history       (``pipeline.finish(ex, flow)``)

It knows nothing of HTTP frameworks: the local proxy and the Envoy ext_proc
host are two thin adapters over it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from leash_cli.exchange import Exchange

log = logging.getLogger("leash.pipeline")


@dataclass(slots=True)
class Block:
    """A decision to answer the client instead of the upstream."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    module: str | None = None


class ResponseFlow:
    """Per-exchange response state: usage tracking and streamed-event hooks."""

    __slots__ = ("ex", "tracker", "pipeline")

    def __init__(self, pipeline: "Pipeline", ex: Exchange) -> None:
        self.pipeline = pipeline
        self.ex = ex
        self.tracker = pipeline._tracker_factory(ex, pipeline.keep_events) if pipeline._tracker_factory else None

    def event(self, raw: bytes) -> bytes | None:
        """One complete SSE event; returns the bytes to send (None: drop it)."""
        t = self.tracker
        if t is not None:
            from leash_cli.sse import parse_event

            name, data = parse_event(raw)
            if not t.on_event(name, data, raw):
                return None
        return raw

    def body(self, body: bytes) -> bytes:
        """A whole (buffered) response body; returns the body to send."""
        t = self.tracker
        if t is not None and body:
            try:
                t.on_json(body)
            except Exception:  # usage is best effort: never fail the client over it
                log.debug("could not read usage from %s", self.ex.id, exc_info=True)
        return body

    def close(self) -> None:
        if self.tracker is not None:
            try:
                self.tracker.finish()
            except Exception:
                log.debug("usage tracker failed for %s", self.ex.id, exc_info=True)


class Pipeline:
    def __init__(self, *, recorder=None, metrics=None, pricer=None, keep_events: bool = False) -> None:
        self.recorder = recorder
        self.metrics = metrics
        self.pricer = pricer
        self.keep_events = keep_events
        try:
            from leash_cli import usage as _usage
        except ImportError:  # pragma: no cover - during bootstrap
            _usage = None
        self._usage = _usage
        self._tracker_factory = getattr(_usage, "UsageTracker", None)

    async def request(self, ex: Exchange) -> Block | None:
        """Run the request stages; a Block ends the exchange."""
        if self._usage is not None and ex.stream:
            self._usage.prepare_request(ex)
        return None

    def response(self, ex: Exchange) -> ResponseFlow:
        return ResponseFlow(self, ex)

    def finish(self, ex: Exchange, flow: ResponseFlow | None = None) -> None:
        """The sink stage: price, count, record.  Never raises."""
        if flow is not None:
            flow.close()
        if self.pricer is not None and ex.usage.known and ex.model:
            try:
                ex.cost_usd, ex.cost_detail = self.pricer.price(ex.kind, ex.model, ex.usage)
            except Exception:
                log.warning("pricing failed for %s", ex.id, exc_info=True)
        if self.metrics is not None:
            try:
                self.metrics.observe(ex)
            except Exception:
                log.warning("metrics failed for %s", ex.id, exc_info=True)
        if self.recorder is not None:
            self.recorder.submit(ex)
