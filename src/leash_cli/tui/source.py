"""The TUI's data source: read-only queries over the history database.

The app is handed a :class:`HistorySource` in its constructor (tests build one
over a temporary database).  Every method may be called from a worker thread:
the queries run on the store's reader (:class:`leash_cli.store.backend.HistoryReader`;
for SQLite a small pool of read-only connections, one per concurrent caller).  No method loads a whole table:
the traffic list pages with a keyset on ``(started_at, id)`` and live updates
poll ``rowid > last`` (rows are written when an exchange *ends*, so a long
stream can land after a shorter request that started later; its ``rowid`` is
still new).
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leash_cli.store.backend import HistoryReader, Store
from leash_cli.store.factory import label, open_store
from leash_cli.store.filters import Filter, compile_filter
from leash_cli.store.queries import TRAFFIC_COLUMNS
from leash_cli.store.rows import iso_utc

__all__ = ["HistorySource", "ROW_COLUMNS", "Row", "day_start", "month_start"]

#: the columns the traffic list needs (no bodies, headers or events)
ROW_COLUMNS = TRAFFIC_COLUMNS

Row = dict[str, Any]


def day_start(now: float) -> float:
    """Midnight UTC of the day of ``now``."""
    return float(calendar.timegm(time.gmtime(now)[:3] + (0, 0, 0)))


def month_start(now: float) -> float:
    t = time.gmtime(now)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


def _iso(ts: float) -> str:
    return iso_utc(ts) or ""


def _nearest_rank(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values.sort()
    return values[max(math.ceil(p * len(values)), 1) - 1]


@dataclass(slots=True)
class Health:
    """The last minute, from the database."""

    requests: int = 0
    errors: int = 0
    rps: float = 0.0
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    p50_overhead_ms: float | None = None
    p95_overhead_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class HistorySource:
    """Read-only access to one history (raises StoreError on open when unusable)."""

    def __init__(self, path: Path | str | Store) -> None:
        self.store = open_store(path)
        self.path = label(path, self.store)  # a PostgreSQL URL without its password
        self.reader: HistoryReader = self.store.open_reader()

    def close(self) -> None:
        self.reader.close()

    # -- traffic ------------------------------------------------------------------------
    def page(self, flt: Filter | None = None, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]:
        """Up to ``limit`` rows older than the keyset ``before`` (started_at, id), newest first."""
        return self.reader.page(flt or compile_filter(""), before, limit)

    def newer(self, flt: Filter | None, after_rowid: int, limit: int = 5000) -> list[Row]:
        """Rows written after ``after_rowid`` (oldest written first)."""
        return self.reader.newer(flt or compile_filter(""), after_rowid, limit)

    def max_rowid(self) -> int:
        return self.reader.max_rowid()

    def get(self, request_id: str) -> dict[str, Any] | None:
        """One exchange in full, JSON columns parsed, with its ``violations``."""
        return self.reader.get_request(request_id)

    def providers(self) -> list[tuple[str, str]]:
        """(provider, kind) pairs seen in the history."""
        return self.reader.providers()

    # -- health -------------------------------------------------------------------------
    def health(self, now: float, window: float = 60.0) -> Health:
        h = Health()
        lat: list[float] = []
        ovh: list[float] = []
        for outcome, status, latency, overhead in self.reader.recent_outcomes(_iso(now - window)):
            h.requests += 1
            if outcome in ("error", "upstream_error") or (status or 0) >= 500:
                h.errors += 1
            if latency is not None:
                lat.append(latency)
            if overhead is not None:
                ovh.append(overhead)
        h.rps = h.requests / window
        h.p50_latency_ms, h.p95_latency_ms = _nearest_rank(lat, 0.5), _nearest_rank(lat, 0.95)
        h.p50_overhead_ms, h.p95_overhead_ms = _nearest_rank(ovh, 0.5), _nearest_rank(ovh, 0.95)
        return h

    # -- cost -----------------------------------------------------------------------------
    def cost_totals(self, since: float) -> Row:
        return self.reader.cost_totals(_iso(since))

    def cost_by(self, column: str, since: float, limit: int = 50) -> list[Row]:
        if column not in ("tenant", "provider", "model"):
            raise ValueError(column)
        return self.reader.cost_by(column, _iso(since), limit)

    def spend_per_day(self, now: float, days: int = 30) -> list[tuple[str, float]]:
        """(YYYY-MM-DD, USD) for each of the last ``days`` days, oldest first, zeros included."""
        first = day_start(now) - (days - 1) * 86400
        got = self.reader.spend_by_day(_iso(first))
        out = []
        for i in range(days):
            day = time.strftime("%Y-%m-%d", time.gmtime(first + i * 86400))
            out.append((day, float(got.get(day, 0.0))))
        return out

    def tenant_spend(self, tenant: str, since: float) -> float:
        return self.reader.tenant_spend(tenant, _iso(since))

    # -- violations -----------------------------------------------------------------------
    def violation_groups(self, now: float) -> list[Row]:
        """Counts per (module, type, action): last 24 h, 7 days, all time; busiest first."""
        return self.reader.violation_groups(_iso(now - 86400), _iso(now - 7 * 86400))

    def violations_per_day(
        self, now: float, days: int = 30, module: str | None = None, type: str | None = None
    ) -> list[int]:
        first = day_start(now) - (days - 1) * 86400
        got = self.reader.violations_by_day(_iso(first), module, type)
        return [
            int(got.get(time.strftime("%Y-%m-%d", time.gmtime(first + i * 86400)), 0)) for i in range(days)
        ]

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]:
        return self.reader.recent_violations(module, type, action, limit)
