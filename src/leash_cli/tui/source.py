"""The TUI's data source: read-only queries over the history database.

The app is handed a :class:`HistorySource` in its constructor (tests build one
over a temporary database).  Every method may be called from a worker thread:
connections come from a small pool, one per concurrent caller, each opened
with :func:`leash_cli.store.open_readonly`.  No method loads a whole table:
the traffic list pages with a keyset on ``(started_at, id)`` and live updates
poll ``rowid > last`` (rows are written when an exchange *ends*, so a long
stream can land after a shorter request that started later; its ``rowid`` is
still new).
"""

from __future__ import annotations

import calendar
import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from leash_cli.filters import Filter, compile_filter
from leash_cli.history import get_request
from leash_cli.store import iso_utc, open_readonly

__all__ = ["HistorySource", "ROW_COLUMNS", "Row", "day_start", "month_start"]

#: the columns the traffic list needs (no bodies, headers or events)
ROW_COLUMNS = (
    "id",
    "started_at",
    "tenant",
    "provider",
    "kind",
    "model",
    "method",
    "path",
    "status",
    "stream",
    "outcome",
    "verdict",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
)
_SELECT = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in ROW_COLUMNS) + " FROM requests r"

Row = dict[str, Any]


def day_start(now: float) -> float:
    """Midnight UTC of the day of ``now``."""
    return float(calendar.timegm(time.gmtime(now)[:3] + (0, 0, 0)))


def month_start(now: float) -> float:
    t = time.gmtime(now)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


def _rows(cur) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


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
    """Read-only access to one history database (raises StoreError on open when unusable)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._pool: list[sqlite_utils.Database] = [open_readonly(self.path)]
        self._closed = False

    # -- connections -----------------------------------------------------------------
    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            db = self._pool.pop() if self._pool else None
        if db is None:
            db = open_readonly(self.path)
        try:
            yield db
        finally:
            with self._lock:
                if self._closed or len(self._pool) >= 4:
                    db.close()
                else:
                    self._pool.append(db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for db in pool:
            with contextlib.suppress(Exception):
                db.close()

    # -- traffic ------------------------------------------------------------------------
    def page(self, flt: Filter | None = None, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]:
        """Up to ``limit`` rows older than the keyset ``before`` (started_at, id), newest first."""
        flt = flt or compile_filter("")
        sql = f"{_SELECT} WHERE ({flt.sql})"
        tail: list[Any] = []
        if before is not None:
            sql += " AND (r.started_at < ? OR (r.started_at = ? AND r.id < ?))"
            tail += [before[0], before[0], before[1]]
        sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
        tail.append(int(limit))
        with self.db() as db:
            return _rows(db.execute(sql, [*flt.params_for(db), *tail]))

    def newer(self, flt: Filter | None, after_rowid: int, limit: int = 5000) -> list[Row]:
        """Rows written after ``after_rowid`` (oldest written first)."""
        flt = flt or compile_filter("")
        sql = f"{_SELECT} WHERE r.rowid > ? AND ({flt.sql}) ORDER BY r.rowid LIMIT ?"
        with self.db() as db:
            return _rows(db.execute(sql, [after_rowid, *flt.params_for(db), int(limit)]))

    def max_rowid(self) -> int:
        with self.db() as db:
            return db.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]

    def get(self, request_id: str) -> dict[str, Any] | None:
        """One exchange in full, JSON columns parsed, with its ``violations``."""
        with self.db() as db:
            return get_request(db, request_id)

    def providers(self) -> list[tuple[str, str]]:
        """(provider, kind) pairs seen in the history."""
        with self.db() as db:
            cur = db.execute(
                "SELECT DISTINCT provider, kind FROM requests WHERE provider IS NOT NULL ORDER BY provider"
            )
            return [(p, k) for p, k in cur.fetchall()]

    # -- health -------------------------------------------------------------------------
    def health(self, now: float, window: float = 60.0) -> Health:
        since = iso_utc(now - window)
        with self.db() as db:
            cur = db.execute(
                "SELECT outcome, status, latency_ms, overhead_ms FROM requests WHERE started_at >= ?", [since]
            )
            h = Health()
            lat: list[float] = []
            ovh: list[float] = []
            for outcome, status, latency, overhead in cur:
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
        with self.db() as db:
            cur = db.execute(
                "SELECT count(*) AS requests, sum(cost_usd) AS cost_usd, sum(cost_usd IS NULL) AS unpriced, "
                "coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens "
                "FROM requests WHERE started_at >= ?",
                [iso_utc(since)],
            )
            return _rows(cur)[0]

    def cost_by(self, column: str, since: float, limit: int = 50) -> list[Row]:
        if column not in ("tenant", "provider", "model"):
            raise ValueError(column)
        with self.db() as db:
            cur = db.execute(
                f"SELECT coalesce({column}, '-') AS name, count(*) AS requests, sum(cost_usd) AS cost_usd, "
                "sum(cost_usd IS NULL) AS unpriced, coalesce(sum(input_tokens), 0) AS input_tokens, "
                "coalesce(sum(output_tokens), 0) AS output_tokens "
                f"FROM requests WHERE started_at >= ? GROUP BY name "
                "ORDER BY coalesce(sum(cost_usd), 0) DESC, requests DESC LIMIT ?",
                [iso_utc(since), limit],
            )
            return _rows(cur)

    def spend_per_day(self, now: float, days: int = 30) -> list[tuple[str, float]]:
        """(YYYY-MM-DD, USD) for each of the last ``days`` days, oldest first, zeros included."""
        first = day_start(now) - (days - 1) * 86400
        with self.db() as db:
            got = dict(
                db.execute(
                    "SELECT substr(started_at, 1, 10), coalesce(sum(cost_usd), 0) FROM requests "
                    "WHERE started_at >= ? GROUP BY 1",
                    [iso_utc(first)],
                ).fetchall()
            )
        out = []
        for i in range(days):
            day = time.strftime("%Y-%m-%d", time.gmtime(first + i * 86400))
            out.append((day, float(got.get(day, 0.0))))
        return out

    def tenant_spend(self, tenant: str, since: float) -> float:
        with self.db() as db:
            v = db.execute(
                "SELECT coalesce(sum(cost_usd), 0) FROM requests WHERE tenant = ? AND started_at >= ?",
                [tenant, iso_utc(since)],
            ).fetchone()[0]
        return float(v or 0.0)

    # -- violations -----------------------------------------------------------------------
    def violation_groups(self, now: float) -> list[Row]:
        """Counts per (module, type, action): last 24 h, 7 days, all time; busiest first."""
        with self.db() as db:
            cur = db.execute(
                "SELECT module, type, action, sum(created_at >= ?) AS day, sum(created_at >= ?) AS week, "
                "count(*) AS total, max(created_at) AS last_seen FROM violations "
                "GROUP BY module, type, action ORDER BY total DESC, module, type LIMIT 500",
                [iso_utc(now - 86400), iso_utc(now - 7 * 86400)],
            )
            return _rows(cur)

    def violations_per_day(
        self, now: float, days: int = 30, module: str | None = None, type: str | None = None
    ) -> list[int]:
        first = day_start(now) - (days - 1) * 86400
        sql = "SELECT substr(created_at, 1, 10), count(*) FROM violations WHERE created_at >= ?"
        params: list[Any] = [iso_utc(first)]
        if module is not None:
            sql += " AND module IS ?"
            params.append(module)
        if type is not None:
            sql += " AND type IS ?"
            params.append(type)
        with self.db() as db:
            got = dict(db.execute(sql + " GROUP BY 1", params).fetchall())
        return [
            int(got.get(time.strftime("%Y-%m-%d", time.gmtime(first + i * 86400)), 0)) for i in range(days)
        ]

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]:
        sql = (
            'SELECT v.id, v.request_id, v.created_at, v.module, v.type, v.action, v.severity, v.detail, '
            "r.provider, r.model, r.tenant FROM violations v LEFT JOIN requests r ON r.id = v.request_id"
        )
        where, params = [], []
        for col, val in (("module", module), ("type", type), ("action", action)):
            if val is not None:
                where.append(f"v.{col} IS ?")
                params.append(val)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY v.created_at DESC, v.id DESC LIMIT ?"
        params.append(limit)
        with self.db() as db:
            return _rows(db.execute(sql, params))
