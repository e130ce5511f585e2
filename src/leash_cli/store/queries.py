"""Read queries over the SQLite history: ``leash logs``, ``leash stats`` and the TUI.

Readers only: every function takes a database opened with
:func:`leash_cli.store.schema.open_readonly`.  All SQL is parameterised;
user-supplied text never becomes SQL.  :class:`SqliteReader` is the
:class:`~leash_cli.store.backend.HistoryReader` over them: a small pool of
read-only connections, one per concurrent caller (the TUI calls from worker
threads).

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
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from leash_cli.config import parse_duration
from leash_cli.store.backend import ListFilter, Row
from leash_cli.store.filters import compile_filter
from leash_cli.store.fts import fts_query, fts_watermark, unindexed_matches
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import REQUEST_COLUMNS, open_readonly

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

#: the columns of a listing (no bodies, headers or events)
LIST_COLUMNS = (
    "id",
    "started_at",
    "tenant",
    "key_id",
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
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "error",
)
#: response-cache results, as the gateway writes them first in ``cost_detail`` (see pipeline.py)
CACHE_HIT_LIKE = '{"cache":"hit"%'
CACHE_MISS_LIKE = '{"cache":"miss"%'
JSON_COLUMNS = ("cost_detail", "module_timings", "request_headers", "response_headers", "stream_events")
STATS_GROUPS = {
    "provider": "provider",
    "model": "model",
    "tenant": "tenant",
    "day": "substr(started_at, 1, 10)",
}


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


def _row(cur: sqlite3.Cursor, row: Any) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cur.description, row)}


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
        return [_row(cur, r) for r in cur.fetchall()]
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
        out = [_row(cur, r) for r in cur.fetchall()]
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
        out += [_row(cur, r) for r in cur.fetchall()]
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
        return [_row(cur, r) for r in cur.fetchall()]
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
        out = [_row(cur, r) for r in cur.fetchall()]
    if len(out) < limit:
        tail = unindexed_matches(db, query, after=max(after_rowid, upto), where=where, params=params)
        if tail:
            cur = db.execute(
                f"SELECT r.rowid AS _rowid, {cols} FROM requests r WHERE r.rowid IN (SELECT value FROM json_each(?)) "
                "ORDER BY r.rowid LIMIT ?",
                [orjson.dumps(tail[: limit - len(out)]).decode(), limit - len(out)],
            )
            out += [_row(cur, r) for r in cur.fetchall()]
    return out


def max_rowid(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0])


def _parse_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    for c in JSON_COLUMNS:
        v = row.get(c)
        if isinstance(v, str):
            try:
                row[c] = orjson.loads(v)
            except orjson.JSONDecodeError:
                pass
    return row


def get_request(db: sqlite_utils.Database, request_id: str) -> dict[str, Any] | None:
    """One exchange in full (JSON columns parsed) with its ``violations``.

    ``request_id`` may be a unique prefix of an id.  Raises ValueError when a
    prefix matches several exchanges.
    """
    cols = ", ".join(REQUEST_COLUMNS)
    cur = db.execute(f"SELECT {cols} FROM requests WHERE id = ?", [request_id])
    row = cur.fetchone()
    if row is None and request_id:
        cur = db.execute(
            f"SELECT {cols} FROM requests WHERE id >= ? AND id < ? LIMIT 2",
            [request_id, request_id + "\U0010ffff"],
        )
        rows = cur.fetchall()
        if len(rows) > 1:
            raise ValueError(f"{request_id!r} matches more than one exchange; give more of the id")
        row = rows[0] if rows else None
    if row is None:
        return None
    out = _parse_json_columns(_row(cur, row))
    vcur = db.execute(
        'SELECT id, created_at, module, type, action, severity, detail, start, "end", field, score '
        "FROM violations WHERE request_id = ? ORDER BY id",
        [out["id"]],
    )
    out["violations"] = [_row(vcur, v) for v in vcur.fetchall()]
    return out


# -- stats -----------------------------------------------------------------------------


def stats(db: sqlite_utils.Database, since: str | None = None, by: str | None = None) -> list[dict[str, Any]]:
    """Totals per group (one row ``{"group": "all"}`` without ``by``), busiest first.

    Each row: requests, ok, errors (upstream_error + error), blocked,
    cancelled, input_tokens, output_tokens, cost_usd, unpriced (requests
    without a cost), p50/p95 latency_ms and overhead_ms (nearest rank).
    """
    if by is not None and by not in STATS_GROUPS:
        raise ValueError(f"--by must be one of {', '.join(STATS_GROUPS)}")
    grp = STATS_GROUPS[by] if by else "'all'"
    where = "WHERE started_at >= ?" if since else ""
    params = [since] if since else []
    cur = db.execute(
        f"""
        SELECT {grp} AS grp,
               count(*) AS requests,
               sum(outcome = 'ok') AS ok,
               sum(outcome IN ('upstream_error', 'error')) AS errors,
               sum(outcome = 'blocked') AS blocked,
               sum(outcome = 'client_cancelled') AS cancelled,
               coalesce(sum(input_tokens), 0) AS input_tokens,
               coalesce(sum(output_tokens), 0) AS output_tokens,
               sum(cost_usd) AS cost_usd,
               sum(cost_usd IS NULL) AS unpriced,
               coalesce(sum(cost_detail LIKE ?), 0) AS cache_hits,
               coalesce(sum(cost_detail LIKE ?), 0) AS cache_misses
        FROM requests {where}
        GROUP BY grp
        ORDER BY requests DESC
        """,
        [CACHE_HIT_LIKE, CACHE_MISS_LIKE, *params],
    )
    rows = {r[0]: _row(cur, r) for r in cur.fetchall()}
    # percentiles in Python: one pass over the covering index beats SQL window functions 4x
    lat: dict[Any, list[float]] = {}
    ovh: dict[Any, list[float]] = {}
    for g, latency, overhead in db.execute(f"SELECT {grp}, latency_ms, overhead_ms FROM requests {where}", params):
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
    cols = ", ".join(REQUEST_COLUMNS)
    sql = f"SELECT {cols} FROM requests"
    params: list[Any] = []
    if since:
        sql += " WHERE started_at >= ?"
        params.append(since)
    sql += " ORDER BY started_at"
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    while True:
        batch = cur.fetchmany(500)
        if not batch:
            return
        for r in batch:
            row = dict(zip(names, r))
            yield _parse_json_columns(row) if parse_json else row


#: what ``leash policy test`` replays of each exchange (no FTS texts, no stream_events)
REPLAY_COLUMNS = (
    "id",
    "started_at",
    "tenant",
    "key_id",
    "provider",
    "kind",
    "model",
    "method",
    "path",
    "query",
    "status",
    "stream",
    "outcome",
    "verdict",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "client",
    "request_headers",
    "request_body_truncated",
    "response_body_truncated",
    "request_body",
    "response_body",
)


def replay_where(since: str | None, tenant: str | None, ph: str = "?") -> tuple[str, list[Any]]:
    """The WHERE of ``leash policy test``'s replay (``ph``: the backend's placeholder)."""
    conds, params = [], []
    if since:
        conds.append(f"started_at >= {ph}")
        params.append(since)
    if tenant:
        conds.append(f"tenant = {ph}")
        params.append(tenant)
    return (" WHERE " + " AND ".join(conds)) if conds else "", params


def count_replay(
    db: sqlite_utils.Database, since: str | None = None, tenant: str | None = None, last: int | None = None
) -> int:
    where, params = replay_where(since, tenant)
    n = int(db.execute(f"SELECT count(*) FROM requests{where}", params).fetchone()[0])
    return min(n, last) if last is not None else n


def replay_rows(
    db: sqlite_utils.Database, since: str | None = None, tenant: str | None = None, last: int | None = None
) -> Iterator[dict[str, Any]]:
    """The exchanges ``leash policy test`` replays, oldest first (``REPLAY_COLUMNS``, ``request_headers``
    parsed), each with its recorded ``violations`` as ``(module, type, action, detail)`` tuples.
    ``last``: only the newest N (still oldest first)."""
    cols = ", ".join(REPLAY_COLUMNS)
    where, params = replay_where(since, tenant)
    if last is not None:
        sql = (
            f"SELECT {cols} FROM (SELECT rowid AS _r, * FROM requests{where} ORDER BY started_at DESC, _r DESC "
            f"LIMIT ?) ORDER BY started_at, _r"
        )
        params.append(last)
    else:
        sql = f"SELECT {cols} FROM requests{where} ORDER BY started_at, rowid"
    cur = db.execute(sql, params)
    vconn = db.conn
    while True:
        batch = cur.fetchmany(500)
        if not batch:
            return
        ids = [r[0] for r in batch]
        yield from replay_batch(
            batch,
            vconn.execute(
                f"SELECT request_id, module, type, action, detail FROM violations WHERE request_id IN "
                f"({', '.join('?' * len(ids))}) ORDER BY id",
                ids,
            ),
        )


def replay_batch(batch: Iterable[Sequence[Any]], violations: Iterable[Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Replay rows (``REPLAY_COLUMNS`` tuples) as dicts, ``request_headers`` parsed, each with its
    ``violations`` as ``(module, type, action, detail)`` from ``(request_id, module, type, action,
    detail)`` rows, in the order given (both stores' readers)."""
    viols: dict[str, list[tuple[Any, ...]]] = {}
    for v in violations:
        viols.setdefault(v[0], []).append(tuple(v[1:]))
    for t in batch:
        r = dict(zip(REPLAY_COLUMNS, t))
        h = r["request_headers"]
        if isinstance(h, str):
            try:
                r["request_headers"] = orjson.loads(h)
            except ValueError:
                r["request_headers"] = {}
        r["violations"] = viols.get(r["id"], [])
        yield r


# -- the TUI's views -------------------------------------------------------------------------

#: the columns the TUI's traffic list needs (no bodies, headers or events)
TRAFFIC_COLUMNS = (
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
_SELECT_TRAFFIC = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in TRAFFIC_COLUMNS) + " FROM requests r"


def _rows(cur: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def page(
    db: sqlite_utils.Database, flt: ListFilter, before: tuple[str, str] | None = None, limit: int = 200
) -> list[Row]:
    """Up to ``limit`` rows matching ``flt`` older than the keyset ``before`` (started_at, id), newest first."""
    sql = f"{_SELECT_TRAFFIC} WHERE ({flt.sql})"
    tail: list[Any] = []
    if before is not None:
        sql += " AND (r.started_at < ? OR (r.started_at = ? AND r.id < ?))"
        tail += [before[0], before[0], before[1]]
    sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
    tail.append(int(limit))
    return _rows(db.execute(sql, [*flt.params_for(db), *tail]))


def newer(db: sqlite_utils.Database, flt: ListFilter, after_rowid: int, limit: int = 5000) -> list[Row]:
    """Rows matching ``flt`` written after ``after_rowid`` (oldest written first)."""
    sql = f"{_SELECT_TRAFFIC} WHERE r.rowid > ? AND ({flt.sql}) ORDER BY r.rowid LIMIT ?"
    return _rows(db.execute(sql, [after_rowid, *flt.params_for(db), int(limit)]))


def providers(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(provider, kind) pairs seen in the history."""
    cur = db.execute("SELECT DISTINCT provider, kind FROM requests WHERE provider IS NOT NULL ORDER BY provider")
    return [(p, k) for p, k in cur.fetchall()]


def recent_outcomes(db: sqlite_utils.Database, since: str) -> list[tuple[Any, ...]]:
    """(outcome, status, latency_ms, overhead_ms) of every exchange started since ``since``."""
    cur = db.execute("SELECT outcome, status, latency_ms, overhead_ms FROM requests WHERE started_at >= ?", [since])
    return [tuple(r) for r in cur.fetchall()]


def cost_totals(db: sqlite_utils.Database, since: str) -> Row:
    cur = db.execute(
        "SELECT count(*) AS requests, sum(cost_usd) AS cost_usd, sum(cost_usd IS NULL) AS unpriced, "
        "coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens, "
        "coalesce(sum(cost_detail LIKE ?), 0) AS cache_hits, coalesce(sum(cost_detail LIKE ?), 0) AS cache_misses "
        "FROM requests WHERE started_at >= ?",
        [CACHE_HIT_LIKE, CACHE_MISS_LIKE, since],
    )
    return _rows(cur)[0]


def cost_by(db: sqlite_utils.Database, column: str, since: str, limit: int = 50) -> list[Row]:
    if column not in ("tenant", "provider", "model"):
        raise ValueError(column)
    cur = db.execute(
        f"SELECT coalesce({column}, '-') AS name, count(*) AS requests, sum(cost_usd) AS cost_usd, "
        "sum(cost_usd IS NULL) AS unpriced, coalesce(sum(input_tokens), 0) AS input_tokens, "
        "coalesce(sum(output_tokens), 0) AS output_tokens "
        f"FROM requests WHERE started_at >= ? GROUP BY name "
        "ORDER BY coalesce(sum(cost_usd), 0) DESC, requests DESC LIMIT ?",
        [since, limit],
    )
    return _rows(cur)


def spend_by_day(db: sqlite_utils.Database, since: str) -> dict[str, float]:
    """YYYY-MM-DD -> USD spent that day, for the days since ``since`` that have exchanges."""
    return dict(
        db.execute(
            "SELECT substr(started_at, 1, 10), coalesce(sum(cost_usd), 0) FROM requests "
            "WHERE started_at >= ? GROUP BY 1",
            [since],
        ).fetchall()
    )


def tenant_spend(db: sqlite_utils.Database, tenant: str, since: str) -> float:
    v = db.execute(
        "SELECT coalesce(sum(cost_usd), 0) FROM requests WHERE tenant = ? AND started_at >= ?",
        [tenant, since],
    ).fetchone()[0]
    return float(v or 0.0)


def violation_groups(db: sqlite_utils.Database, day_ago: str, week_ago: str) -> list[Row]:
    """Counts per (module, type, action): since ``day_ago``, since ``week_ago``, all time; busiest first."""
    cur = db.execute(
        "SELECT module, type, action, sum(created_at >= ?) AS day, sum(created_at >= ?) AS week, "
        "count(*) AS total, max(created_at) AS last_seen FROM violations "
        "GROUP BY module, type, action ORDER BY total DESC, module, type LIMIT 500",
        [day_ago, week_ago],
    )
    return _rows(cur)


def violations_by_day(
    db: sqlite_utils.Database, since: str, module: str | None = None, type: str | None = None
) -> dict[str, int]:
    """YYYY-MM-DD -> findings that day (of ``module`` / ``type`` when given), since ``since``."""
    sql = "SELECT substr(created_at, 1, 10), count(*) FROM violations WHERE created_at >= ?"
    params: list[Any] = [since]
    if module is not None:
        sql += " AND module IS ?"
        params.append(module)
    if type is not None:
        sql += " AND type IS ?"
        params.append(type)
    return dict(db.execute(sql + " GROUP BY 1", params).fetchall())


def recent_violations(
    db: sqlite_utils.Database,
    module: str | None = None,
    type: str | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[Row]:
    sql = (
        "SELECT v.id, v.request_id, v.created_at, v.module, v.type, v.action, v.severity, v.detail, "
        "r.provider, r.model, r.tenant FROM violations v LEFT JOIN requests r ON r.id = v.request_id"
    )
    where: list[str] = []
    params: list[Any] = []
    for col, val in (("module", module), ("type", type), ("action", action)):
        if val is not None:
            where.append(f"v.{col} IS ?")
            params.append(val)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY v.created_at DESC, v.id DESC LIMIT ?"
    params.append(limit)
    return _rows(db.execute(sql, params))


# -- the reader ---------------------------------------------------------------------------------


class SqliteReader:
    """:class:`~leash_cli.store.backend.HistoryReader` over one SQLite history file.

    Connections are read-only (``mode=ro``) and come from a small pool, one per
    concurrent caller; every method may be called from any thread.  Opening
    raises StoreError when the file is missing or unusable.
    """

    POOL = 4  # idle connections kept

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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for db in pool:
            with contextlib.suppress(Exception):
                db.close()

    # -- leash logs / leash stats ---------------------------------------------------------------
    def list_requests(self, n: int = 20, **filters: Any) -> list[Row]:
        with self.db() as db:
            return list_requests(db, n, **filters)

    def new_requests(self, after_rowid: int, limit: int = 1000, **filters: Any) -> list[Row]:
        with self.db() as db:
            return new_requests(db, after_rowid, limit, **filters)

    def max_rowid(self) -> int:
        with self.db() as db:
            return max_rowid(db)

    def get_request(self, request_id: str) -> Row | None:
        with self.db() as db:
            return get_request(db, request_id)

    def stats(self, since: str | None = None, by: str | None = None) -> list[Row]:
        with self.db() as db:
            return stats(db, since, by)

    def export_rows(self, since: str | None = None, *, parse_json: bool = True) -> Iterator[Row]:
        with self.db() as db:
            yield from export_rows(db, since, parse_json=parse_json)

    def count_replay(self, since: str | None = None, tenant: str | None = None, last: int | None = None) -> int:
        with self.db() as db:
            return count_replay(db, since, tenant, last)

    def replay_rows(
        self, since: str | None = None, tenant: str | None = None, last: int | None = None
    ) -> Iterator[Row]:
        with self.db() as db:
            yield from replay_rows(db, since, tenant, last)

    # -- the TUI -----------------------------------------------------------------------------------
    def page(self, flt: ListFilter, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]:
        with self.db() as db:
            return page(db, flt, before, limit)

    def newer(self, flt: ListFilter, after_rowid: int, limit: int = 5000) -> list[Row]:
        with self.db() as db:
            return newer(db, flt, after_rowid, limit)

    def providers(self) -> list[tuple[str, str]]:
        with self.db() as db:
            return providers(db)

    def recent_outcomes(self, since: str) -> list[tuple[Any, ...]]:
        with self.db() as db:
            return recent_outcomes(db, since)

    def cost_totals(self, since: str) -> Row:
        with self.db() as db:
            return cost_totals(db, since)

    def cost_by(self, column: str, since: str, limit: int = 50) -> list[Row]:
        with self.db() as db:
            return cost_by(db, column, since, limit)

    def spend_by_day(self, since: str) -> dict[str, float]:
        with self.db() as db:
            return spend_by_day(db, since)

    def tenant_spend(self, tenant: str, since: str) -> float:
        with self.db() as db:
            return tenant_spend(db, tenant, since)

    def violation_groups(self, day_ago: str, week_ago: str) -> list[Row]:
        with self.db() as db:
            return violation_groups(db, day_ago, week_ago)

    def violations_by_day(self, since: str, module: str | None = None, type: str | None = None) -> dict[str, int]:
        with self.db() as db:
            return violations_by_day(db, since, module, type)

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]:
        with self.db() as db:
            return recent_violations(db, module, type, action, limit)
