"""Logging setup: readable text by default, JSON lines with ``log_format: json``."""

from __future__ import annotations

import logging
import sys

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "leash", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


_mask_text: list = [None]  # the current config generation's secret masker (``text -> text``), set by the gateway


def set_secret_mask(mask_text) -> None:
    """Mask these secrets in every log line from now on (the gateway calls it per config generation)."""
    _mask_text[0] = mask_text


class SecretFilter(logging.Filter):
    """Masks the configured secrets (provider keys ...) in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask = _mask_text[0]
        if mask is not None:
            msg = record.getMessage()
            masked = mask(msg)
            if masked != msg:
                record.msg, record.args = masked, None
        return True


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(SecretFilter())
    root = logging.getLogger("leash")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
