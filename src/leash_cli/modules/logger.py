"""logger: one JSON line per exchange, to stdout or a rotating file.

Lines are written by a background thread (a queue listener), never on the
event loop.  Credentials are never logged (headers are not logged at all);
with ``redact_pii`` the prompt and completion text, when included, are
redacted first.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import Field

from leash_cli.exchange import Exchange
from leash_cli.modules._common import Settings

if TYPE_CHECKING:
    from leash_cli.scanners import Scanner


class _Line(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class Logger:
    """Writes a JSON line per exchange: ids, tenant, model, status, verdict, tokens, cost, timings, findings."""

    name = "logger"
    version = "1.0"
    priority = 1000
    offload = "never"  # cheap and bounded: runs on the event loop
    on_error = "allow"

    class Settings(Settings):
        destination: Literal["stdout", "stderr", "file"] = Field("stdout", description="where lines go")
        path: str = Field("~/.leash/requests.jsonl", description="file destination")
        max_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="rotate the file above this size")
        backups: int = Field(5, ge=0, description="rotated files kept")
        include_text: bool = Field(False, description="include prompt and completion text")
        redact_pii: bool = Field(True, description="redact PII and secrets in included text")
        level: Literal["debug", "info", "warning", "error"] = "info"

    def __init__(self, settings: Logger.Settings, context=None) -> None:
        self.s = settings
        self.log = logging.getLogger(f"leash.requests.{id(self)}")
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        if settings.destination == "file":
            from pathlib import Path

            path = Path(settings.path).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            target: logging.Handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
            )
        else:
            target = logging.StreamHandler(sys.stdout if settings.destination == "stdout" else sys.stderr)
        target.setFormatter(_Line())
        q: queue.SimpleQueue = queue.SimpleQueue()
        self.log.handlers[:] = [logging.handlers.QueueHandler(q)]
        self.listener = logging.handlers.QueueListener(q, target)
        self.listener.start()
        self._scanners: list[Scanner] | None = None
        if settings.include_text and settings.redact_pii:
            from leash_cli.scanners import PiiScanner, SecretsScanner

            self._scanners = [PiiScanner(), SecretsScanner()]

    def _text(self, s: str | None) -> str | None:
        if s is None or self._scanners is None:
            return s
        from leash_cli.scanners import redact, scan_all

        return redact(s, scan_all(s, self._scanners))

    def sink(self, ex: Exchange) -> None:
        u = ex.usage
        line = {
            "id": ex.id,
            "time": ex.started_at,
            "tenant": ex.tenant,
            "key_id": ex.key_id,
            "provider": ex.provider,
            "model": ex.model,
            "method": ex.method,
            "path": ex.path,
            "status": ex.status,
            "outcome": ex.outcome,
            "verdict": ex.verdict,
            "stream": ex.stream,
            "latency_ms": _ms(ex.total_seconds),
            "upstream_ms": _ms(ex.upstream_seconds),
            "overhead_ms": _ms(ex.overhead_seconds),
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cost_usd": ex.cost_usd,
            "violations": [{"module": v.module, "type": v.type, "action": v.action} for v in ex.violations],
        }
        if ex.error:
            line["error"] = ex.error
        if self.s.include_text:
            line["prompt"] = self._text(ex.prompt_text if ex.request_body else None)
            line["completion"] = self._text(ex.response_text)
        self.log.info(orjson.dumps(line).decode())

    def close(self) -> None:
        self.listener.stop()


def _ms(s: float | None) -> float | None:
    return None if s is None else round(s * 1000, 3)
