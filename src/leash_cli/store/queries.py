"""Read queries over the SQLite history: ``leash logs``, ``leash stats`` and the TUI.

Readers only: every function takes a database opened with
:func:`leash_cli.store.schema.open_readonly`.  All SQL is parameterised;
user-supplied text never becomes SQL.  :class:`SqliteReader` is the
:class:`~leash_cli.store.backend.HistoryReader` over them: a small pool of
read-only connections, one per concurrent caller (the TUI calls from worker
threads).  The queries both backends share are written once in
:mod:`leash_cli.store.reader`; this module keeps SQLite's own: full-text
search, percentiles in Python, streaming.

Full-text search and rows not indexed yet: the recorder adds rows to
``requests_fts`` in bulk when the gateway is idle, so the newest rows (those
above ``fts_watermark``) may not be in the index.  :func:`list_requests` and
:func:`new_requests` search both (see :mod:`leash_cli.store.fts`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from leash_cli.config import parse_duration
from leash_cli.store.backend import ListFilter, Row
from leash_cli.store.dialect import SQLITE
from leash_cli.store.filters import compile_filter
from leash_cli.store.fts import fts_query, fts_watermark, unindexed_matches
from leash_cli.store.reader import (
    JSON_COLUMNS,
    LIST_COLUMNS,
    STATS_GROUPS,
    TRAFFIC_COLUMNS,
    SqlReader,
    export_sql,
    parse_json_columns,
    replay_batch,
    replay_sql,
    replay_violations_sql,
    replay_where,
    rows_of,
    stats_sql,
)
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import open_readonly

__all__ = [
    "LIST_COLUMNS",
    "JSON_COLUMNS",
    "STATS_GROUPS",
    "TRAFFIC_COLUMNS",
    "parse_since",
    "list_requests",
    "new_requests",
    "max_rowid",
    "get_request",
    "stats",
    "export_rows",
    "SqliteReader",
]

# -- arguments -------------------------------------------------------------------


def parse_since(text: str | None, now: float | None = None) -> str | None:
    """``24h``/``7d``/``90m`` (ago) or an ISO 8601 time -> the stored time format (UTC)."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    try:
        seconds = parse_duration(text)
    except ValueError:
        pass
    else:
        return iso_utc((time.time() if now is None else now) - seconds)
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(  # noqa: B904 -- the message says all; the parser's own error adds nothing
            f"expected a duration such as 24h or 7d, or an ISO time such as 2025-05-01T12:00, got {text!r}"
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)  # stored times are UTC; a bare time is read as UTC
    return iso_utc(when.timestamp())


_STATUS = re.compile(r"^([1-5])xx$", re.I)


def _status_clause(status: str | int, ph: str = "?") -> tuple[str, list[Any]]:
    """The SQL condition for ``--status`` (200, 429, 5xx); ``ph``: the driver's placeholder."""
    s = str(status).strip()
    m = _STATUS.match(s)
    if m:
        lo = int(m.group(1)) * 100
        return f"r.status BETWEEN {ph} AND {ph}", [lo, lo + 99]
    if s.isdigit():
        return f"r.status = {ph}", [int(s)]
    raise ValueError(f"expected a status such as 200, 429 or 5xx, got {status!r}")


def _filters(
    provider: str | None = None,
    model: str | None = None,
    tenant: str | None = None,
    status: str | int | None = None,
    outcome: str | None = None,
    since: str | None = None,
    *,
    ph: str = "?",
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions and parameters of ``leash logs``' options (``ph``: the driver's placeholder;
    only this fixed text goes into the SQL, every value is a parameter)."""
    where: list[str] = []
    params: list[Any] = []
    for col, val in (("provider", provider), ("model", model), ("tenant", tenant), ("outcome", outcome)):
        if val is not None:
            where.append(f"r.{col} = {ph}")
            params.append(val)
    if status is not None:
        clause, p = _status_clause(status, ph)
        where.append(clause)
        params.extend(p)
    if since is not None:
        where.append(f"r.started_at >= {ph}")
        params.append(since)
    return where, params


def _add_expr(db: Any, expr: str | None, where: list[str], params: list[Any]) -> None:
    """AND a filter-language expression into ``where`` (raises ``FilterError``)."""
    if not expr or not expr.strip():
        return
    flt = compile_filter(expr, alias="r")
    where.append(f"({flt.sql})")
    params.extend(flt.params_for(db))


# -- listing -------------------------------------------------------------------------


def list_requests(
    db: sqlite_utils.Database,
    n: int = 20,
    *,
    provider: str | None = None,
    model: str | None = None,
    tenant: str | None = None,
    status: str | int | None = None,
    outcome: str | None = None,
    query: str | None = None,
    since: str | None = None,
    expr: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``n`` exchanges matching the filters, newest first.

    ``expr`` is an expression of the filter language (``leash_cli.store.filters``),
    e.g. ``~p openai & ~s 5xx``.

    Each row has the ``LIST_COLUMNS`` plus ``_rowid`` (for :func:`new_requests`).
    ``query`` is a full-text search over prompt and completion text; its
    matches come newest-written first (the order exchanges finished).
    """
    where, params = _filters(provider, model, tenant, status, outcome, since)
    _add_expr(db, expr, where, params)
    cols = ", ".join(f"r.{c}" for c in LIST_COLUMNS)
    n = int(n)
    if not query:
        sql = f"SELECT r.rowid AS _rowid, {cols} FROM requests r"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.started_at DESC LIMIT ?"
        cur = db.execute(sql, [*params, n])
        return rows_of(cur)
    match = fts_query(query)
    # the newest rows may not be indexed yet: they come first (they are the newest written)
    upto = fts_watermark(db)
    out: list[dict[str, Any]] = []
    tail = unindexed_matches(db, query, after=upto, where=where, params=params, newest=n) if n > 0 else []
    if tail:
        cur = db.execute(
            f"SELECT r.rowid AS _rowid, {cols} FROM requests r WHERE r.rowid IN (SELECT value FROM json_each(?)) "
            "ORDER BY r.rowid DESC",
            [orjson.dumps(tail).decode()],
        )
        out = rows_of(cur)
    if len(out) < n:
        # a search walks the FTS index newest-written first and stops after n (fast even when
        # a common word matches most rows)
        sql = (
            f"SELECT r.rowid AS _rowid, {cols} FROM requests_fts f JOIN requests r ON r.rowid = f.rowid "
            f"WHERE requests_fts MATCH ? AND f.rowid <= ?"
        )
        if where:
            sql += " AND " + " AND ".join(where)
        sql += " ORDER BY f.rowid DESC LIMIT ?"
        cur = db.execute(sql, [match, upto, *params, n - len(out)])
        out += rows_of(cur)
    return out


def new_requests(
    db: sqlite_utils.Database, after_rowid: int, limit: int = 1000, **filters: Any
) -> list[dict[str, Any]]:
    """Rows inserted after ``after_rowid``, oldest first (for ``--follow``)."""
    query = filters.pop("query", None)
    expr = filters.pop("expr", None)
    where, params = _filters(**filters)
    _add_expr(db, expr, where, params)
    cols = ", ".join(f"r.{c}" for c in LIST_COLUMNS)
    if not query:
        sql = f"SELECT r.rowid AS _rowid, {cols} FROM requests r WHERE r.rowid > ?"
        if where:
            sql += " AND " + " AND ".join(where)
        sql += " ORDER BY r.rowid LIMIT ?"
        cur = db.execute(sql, [after_rowid, *params, limit])
        return rows_of(cur)
    upto = fts_watermark(db)
    out: list[dict[str, Any]] = []
    if after_rowid < upto:  # indexed rows first (they are the older ones)
        sql = (
            f"SELECT r.rowid AS _rowid, {cols} FROM requests_fts f JOIN requests r ON r.rowid = f.rowid "
            "WHERE requests_fts MATCH ? AND r.rowid > ? AND r.rowid <= ?"
        )
        if where:
            sql += " AND " + " AND ".join(where)
        sql += " ORDER BY r.rowid LIMIT ?"
        cur = db.execute(sql, [fts_query(query), after_rowid, upto, *params, limit])
        out = rows_of(cur)
    if len(out) < limit:
        tail = unindexed_matches(db, query, after=max(after_rowid, upto), where=where, params=params)
        if tail:
            cur = db.execute(
                f"SELECT r.rowid AS _rowid, {cols} FROM requests r WHERE r.rowid IN (SELECT value FROM json_each(?)) "
                "ORDER BY r.rowid LIMIT ?",
                [orjson.dumps(tail[: limit - len(out)]).decode(), limit - len(out)],
            )
            out += rows_of(cur)
    return out


def max_rowid(db: sqlite_utils.Database) -> int:
    return _Connection(db).max_rowid()


def get_request(db: sqlite_utils.Database, request_id: str) -> dict[str, Any] | None:
    """One exchange in full (JSON columns parsed) with its ``violations``.

    ``request_id`` may be a unique prefix of an id.  Raises ValueError when a
    prefix matches several exchanges.
    """
    return _Connection(db).get_request(request_id)


# -- stats -----------------------------------------------------------------------------


def stats(db: sqlite_utils.Database, since: str | None = None, by: str | None = None) -> list[dict[str, Any]]:
    """Totals per group (one row ``{"group": "all"}`` without ``by``), busiest first.

    Each row: requests, ok, errors (upstream_error + error), blocked,
    cancelled, input_tokens, output_tokens, cost_usd, unpriced (requests
    without a cost), p50/p95 latency_ms and overhead_ms (nearest rank).
    """
    sql, params = stats_sql(SQLITE, since, by)
    rows = {r["grp"]: r for r in rows_of(db.execute(sql, params))}
    grp = STATS_GROUPS[by] if by else "'all'"
    where, params = replay_where(since, None)
    # percentiles in Python: one pass over the covering index beats SQL window functions 4x
    lat: dict[Any, list[float]] = {}
    ovh: dict[Any, list[float]] = {}
    for g, latency, overhead in db.execute(f"SELECT {grp}, latency_ms, overhead_ms FROM requests{where}", params):
        if latency is not None:
            lat.setdefault(g, []).append(latency)
        if overhead is not None:
            ovh.setdefault(g, []).append(overhead)
    out = []
    for g, r in rows.items():
        r["group"] = r.pop("grp")
        for metric, values in (("latency_ms", lat.get(g)), ("overhead_ms", ovh.get(g))):
            if values:
                values.sort()
            r[f"p50_{metric}"] = _nearest_rank(values, 0.50)
            r[f"p95_{metric}"] = _nearest_rank(values, 0.95)
        out.append(r)
    return out


def _nearest_rank(sorted_values: list[float] | None, p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p of the values at or below it."""
    if not sorted_values:
        return None
    k = max(math.ceil(p * len(sorted_values)), 1)
    return sorted_values[k - 1]


# -- export and maintenance ------------------------------------------------------------------


def export_rows(
    db: sqlite_utils.Database, since: str | None = None, *, parse_json: bool = True
) -> Iterator[dict[str, Any]]:
    """Every column of every exchange since ``since``, oldest first (streams; no big lists)."""
    sql, params = export_sql(SQLITE, since)
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    while True:
        batch = cur.fetchmany(500)
        if not batch:
            return
        for r in batch:
            row = dict(zip(names, r))
            yield parse_json_columns(row) if parse_json else row


def count_replay(
    db: sqlite_utils.Database, since: str | None = None, tenant: str | None = None, last: int | None = None
) -> int:
    return _Connection(db).count_replay(since, tenant, last)


def replay_rows(
    db: sqlite_utils.Database, since: str | None = None, tenant: str | None = None, last: int | None = None
) -> Iterator[dict[str, Any]]:
    """The exchanges ``leash policy test`` replays, oldest first (``REPLAY_COLUMNS``, ``request_headers``
    parsed), each with its recorded ``violations`` as ``(module, type, action, detail)`` tuples.
    ``last``: only the newest N (still oldest first)."""
    sql, params = replay_sql(SQLITE, since, tenant, last)
    cur = db.execute(sql, params)
    while True:
        batch = cur.fetchmany(500)
        if not batch:
            return
        yield from replay_batch(batch, db.conn.execute(*replay_violations_sql(SQLITE, [r[0] for r in batch])))


# -- the readers ---------------------------------------------------------------------------------


class _Connection(SqlReader):
    """The shared queries (:class:`~leash_cli.store.reader.SqlReader`) over one open connection."""

    dialect = SQLITE

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite_utils.Database]:
        yield self._db

    def _filter(self, flt: ListFilter) -> tuple[str, list[Any]]:
        return flt.sql, flt.params_for(self._db)


class SqliteReader(SqlReader):
    """:class:`~leash_cli.store.backend.HistoryReader` over one SQLite history file.

    Connections are read-only (``mode=ro``) and come from a small pool, one per
    concurrent caller; every method may be called from any thread.  Opening
    raises StoreError when the file is missing or unusable.
    """

    POOL = 4  # idle connections kept
    dialect = SQLITE

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._pool: list[sqlite_utils.Database] = [open_readonly(self.path)]
        self._closed = False

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite_utils.Database]:
        """A connection of the pool, for the duration of a ``with`` block."""
        with self._lock:
            db = self._pool.pop() if self._pool else None
        if db is None:
            db = open_readonly(self.path)
        try:
            yield db
        finally:
            with self._lock:
                if self._closed or len(self._pool) >= self.POOL:
                    db.close()
                else:
                    self._pool.append(db)

    def _conn(self) -> contextlib.AbstractContextManager[sqlite_utils.Database]:
        return self.db()

    def _filter(self, flt: ListFilter) -> tuple[str, list[Any]]:
        with self.db() as db:
            return flt.sql, flt.params_for(db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for db in pool:
            with contextlib.suppress(Exception):
                db.close()

    # -- what differs from PostgreSQL: full-text search, percentiles, streaming -------------------------
    def list_requests(self, n: int = 20, **filters: Any) -> list[Row]:
        with self.db() as db:
            return list_requests(db, n, **filters)

    def new_requests(self, after_rowid: int, limit: int = 1000, **filters: Any) -> list[Row]:
        with self.db() as db:
            return new_requests(db, after_rowid, limit, **filters)

    def stats(self, since: str | None = None, by: str | None = None) -> list[Row]:
        with self.db() as db:
            return stats(db, since, by)

    def export_rows(self, since: str | None = None, *, parse_json: bool = True) -> Iterator[Row]:
        with self.db() as db:
            yield from export_rows(db, since, parse_json=parse_json)

    def replay_rows(
        self, since: str | None = None, tenant: str | None = None, last: int | None = None
    ) -> Iterator[Row]:
        with self.db() as db:
            yield from replay_rows(db, since, tenant, last)
