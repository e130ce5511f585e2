"""The read queries both history backends share, each written once over a :class:`SqlDialect`.

:class:`SqlReader` holds every query of :class:`~leash_cli.store.backend.HistoryReader` whose SQL is the
same on SQLite and PostgreSQL but for the dialect's spellings; the SQLite reader
(:mod:`leash_cli.store.queries`) and the PostgreSQL one (:mod:`leash_cli.store.pg_queries`) give it a
connection and a dialect, and keep only what really differs (full-text search, percentiles, streaming).
All SQL is parameterised; identifiers come from this module's constants only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from leash_cli.store.backend import ListFilter, Row
from leash_cli.store.dialect import SqlDialect
from leash_cli.store.schema import REQUEST_COLUMNS

__all__ = [
    "LIST_COLUMNS",
    "JSON_COLUMNS",
    "STATS_GROUPS",
    "TRAFFIC_COLUMNS",
    "REPLAY_COLUMNS",
    "CACHE_HIT_LIKE",
    "CACHE_MISS_LIKE",
    "SqlReader",
    "parse_json_columns",
    "export_sql",
    "replay_sql",
    "replay_violations_sql",
    "replay_where",
    "stats_sql",
    "replay_batch",
    "rows_of",
]


def _without(columns: tuple[str, ...], *left_out: str) -> tuple[str, ...]:
    return tuple(c for c in columns if c not in left_out)


#: the columns of a listing: a row's columns before the bulky ones (``cost_detail`` on: details, headers,
#: bodies, texts, events), without ``ended_at``, ``query`` and ``client``
LIST_COLUMNS = _without(REQUEST_COLUMNS[: REQUEST_COLUMNS.index("cost_detail")], "ended_at", "query", "client")
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
#: the columns the TUI's traffic list needs (a listing without the key and the token details)
TRAFFIC_COLUMNS = _without(LIST_COLUMNS, "key_id", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")
#: what ``leash policy test`` replays of each exchange (no timings, FTS texts or stream_events)
REPLAY_COLUMNS = _without(
    REQUEST_COLUMNS,
    *("ended_at", "latency_ms", "upstream_ms", "overhead_ms", "ttft_ms", "error"),
    *("cost_detail", "module_timings", "response_headers", "response_text", "prompt_text", "stream_events"),
)
_SELECT_TRAFFIC = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in TRAFFIC_COLUMNS) + " FROM requests r"
_STATS_COUNTS = (
    ("ok", "outcome = 'ok'"),
    ("errors", "outcome IN ('upstream_error', 'error')"),
    ("blocked", "outcome = 'blocked'"),
    ("cancelled", "outcome = 'client_cancelled'"),
)
_VIOLATION_DETAIL = 'id, created_at, module, type, action, severity, detail, start, "end", field, score'


def rows_of(cur: Any) -> list[Row]:
    """A DB-API cursor's rows as dicts (column name -> value)."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def parse_json_columns(row: Row) -> Row:
    """``row`` with its ``JSON_COLUMNS`` parsed (a column that is not JSON stays text)."""
    for c in JSON_COLUMNS:
        v = row.get(c)
        if isinstance(v, str):
            try:
                row[c] = orjson.loads(v)
            except orjson.JSONDecodeError:
                pass
    return row


def stats_sql(d: SqlDialect, since: str | None, by: str | None, extra: str = "") -> tuple[str, list[Any]]:
    """``leash stats``' totals per group (``grp``; one group ``'all'`` without ``by``), busiest first;
    ``extra``: more columns (fixed SQL) after them."""
    if by is not None and by not in STATS_GROUPS:
        raise ValueError(f"--by must be one of {', '.join(STATS_GROUPS)}")
    grp = STATS_GROUPS[by] if by else "'all'"
    where, params = replay_where(since, None, d.ph)
    counts = ", ".join(f"{d.count_if(cond)} AS {name}" for name, cond in _STATS_COUNTS)
    sql = (
        f"SELECT {grp} AS grp, count(*) AS requests, {counts}, "
        f"{d.total('input_tokens')} AS input_tokens, {d.total('output_tokens')} AS output_tokens, "
        f"sum(cost_usd) AS cost_usd, {d.count_if('cost_usd IS NULL')} AS unpriced, {_cache_columns(d)}{extra} "
        f"FROM requests{where} GROUP BY 1 ORDER BY requests DESC"
    )
    return sql, [CACHE_HIT_LIKE, CACHE_MISS_LIKE, *params]


def _cache_columns(d: SqlDialect) -> str:
    """``cache_hits, cache_misses``; the parameters are ``CACHE_HIT_LIKE, CACHE_MISS_LIKE``."""
    return ", ".join(
        f"coalesce({d.count_if('cost_detail LIKE ' + d.ph)}, 0) AS {c}" for c in ("cache_hits", "cache_misses")
    )


#: exchanges oldest first; those that started in the same millisecond by id (its first digits are the
#: microsecond it was made: the order they came in, on either backend)
OLDEST_FIRST = "started_at, id"


def export_sql(d: SqlDialect, since: str | None) -> tuple[str, list[Any]]:
    """Every column of every exchange since ``since``, oldest first (:data:`OLDEST_FIRST`)."""
    where, params = replay_where(since, None, d.ph)
    return f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests{where} ORDER BY {OLDEST_FIRST}", params


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


def replay_sql(d: SqlDialect, since: str | None, tenant: str | None, last: int | None) -> tuple[str, list[Any]]:
    """The exchanges ``leash policy test`` replays (``REPLAY_COLUMNS``), oldest first; ``last``: only the
    newest N."""
    cols = ", ".join(REPLAY_COLUMNS)
    where, params = replay_where(since, tenant, d.ph)
    if last is None:
        return f"SELECT {cols} FROM requests{where} ORDER BY {OLDEST_FIRST}", params
    sql = (
        f"SELECT {cols} FROM (SELECT * FROM requests{where} ORDER BY started_at DESC, id DESC "
        f"LIMIT {d.ph}) AS newest ORDER BY {OLDEST_FIRST}"
    )
    return sql, [*params, int(last)]


def replay_violations_sql(d: SqlDialect, ids: list[Any]) -> tuple[str, list[Any]]:
    """The recorded findings of a batch of replayed exchanges, as :func:`replay_batch` takes them."""
    cond, params = d.in_list("request_id", ids)
    return f"SELECT request_id, module, type, action, detail FROM violations WHERE {cond} ORDER BY id", params


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


class SqlReader:
    """The shared queries of a :class:`~leash_cli.store.backend.HistoryReader`.

    A backend sets :attr:`dialect` and gives :meth:`_conn` (a connection whose ``execute(sql, params)``
    returns a DB-API cursor) and :meth:`_filter` (a compiled TUI filter as SQL and parameters).
    """

    dialect: SqlDialect

    def _conn(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _filter(self, flt: ListFilter) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._conn() as conn:
            return rows_of(conn.execute(sql, params))

    def _tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

    # -- leash logs / leash policy test ------------------------------------------------------------
    def max_rowid(self) -> int:
        return int(self._tuples("SELECT coalesce(max(rowid), 0) FROM requests")[0][0])

    def get_request(self, request_id: str) -> Row | None:
        """One exchange in full (JSON columns parsed) with its ``violations``.

        ``request_id`` may be a unique prefix of an id.  Raises ValueError when a
        prefix matches several exchanges.
        """
        ph, cols = self.dialect.ph, ", ".join(REQUEST_COLUMNS)
        rows = self._all(f"SELECT {cols} FROM requests WHERE id = {ph}", [request_id])
        if not rows and request_id:
            rows = self._all(
                f"SELECT {cols} FROM requests WHERE id >= {ph} AND id < {ph} ORDER BY id LIMIT 2",
                [request_id, request_id + "\U0010ffff"],
            )
            if len(rows) > 1:
                raise ValueError(f"{request_id!r} matches more than one exchange; give more of the id")
        if not rows:
            return None
        out = parse_json_columns(rows[0])
        out["violations"] = self._all(
            f"SELECT {_VIOLATION_DETAIL} FROM violations WHERE request_id = {ph} ORDER BY id", [out["id"]]
        )
        return out

    def count_replay(self, since: str | None = None, tenant: str | None = None, last: int | None = None) -> int:
        where, params = replay_where(since, tenant, self.dialect.ph)
        n = int(self._tuples(f"SELECT count(*) FROM requests{where}", params)[0][0])
        return min(n, last) if last is not None else n

    # -- the TUI -----------------------------------------------------------------------------------
    def page(self, flt: ListFilter, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]:
        """Up to ``limit`` rows matching ``flt`` older than the keyset ``before`` (started_at, id), newest first."""
        ph = self.dialect.ph
        cond, params = self._filter(flt)
        sql = f"{_SELECT_TRAFFIC} WHERE ({cond})"
        if before is not None:
            sql += f" AND (r.started_at < {ph} OR (r.started_at = {ph} AND r.id < {ph}))"
            params += [before[0], before[0], before[1]]
        return self._all(f"{sql} ORDER BY r.started_at DESC, r.id DESC LIMIT {ph}", [*params, int(limit)])

    def newer(self, flt: ListFilter, after_rowid: int, limit: int = 5000) -> list[Row]:
        """Rows matching ``flt`` written after ``after_rowid`` (oldest written first)."""
        ph = self.dialect.ph
        cond, params = self._filter(flt)
        return self._all(
            f"{_SELECT_TRAFFIC} WHERE r.rowid > {ph} AND ({cond}) ORDER BY r.rowid LIMIT {ph}",
            [after_rowid, *params, int(limit)],
        )

    def providers(self) -> list[tuple[str, str]]:
        """(provider, kind) pairs seen in the history."""
        sql = "SELECT DISTINCT provider, kind FROM requests WHERE provider IS NOT NULL ORDER BY provider"
        return [(p, k) for p, k in self._tuples(sql)]

    def recent_outcomes(self, since: str) -> list[tuple[Any, ...]]:
        """(outcome, status, latency_ms, overhead_ms) of every exchange started since ``since``."""
        return self._tuples(
            f"SELECT outcome, status, latency_ms, overhead_ms FROM requests WHERE started_at >= {self.dialect.ph}",
            [since],
        )

    def cost_totals(self, since: str) -> Row:
        d = self.dialect
        return self._all(
            f"SELECT count(*) AS requests, sum(cost_usd) AS cost_usd, {d.count_if('cost_usd IS NULL')} AS unpriced, "
            f"{d.total('input_tokens')} AS input_tokens, {d.total('output_tokens')} AS output_tokens, "
            f"{_cache_columns(d)} FROM requests WHERE started_at >= {d.ph}",
            [CACHE_HIT_LIKE, CACHE_MISS_LIKE, since],
        )[0]

    def cost_by(self, column: str, since: str, limit: int = 50) -> list[Row]:
        if column not in ("tenant", "provider", "model"):
            raise ValueError(column)
        d = self.dialect
        return self._all(
            f"SELECT coalesce({column}, '-') AS name, count(*) AS requests, sum(cost_usd) AS cost_usd, "
            f"{d.count_if('cost_usd IS NULL')} AS unpriced, {d.total('input_tokens')} AS input_tokens, "
            f"{d.total('output_tokens')} AS output_tokens "
            f"FROM requests WHERE started_at >= {d.ph} GROUP BY 1 "
            f"ORDER BY coalesce(sum(cost_usd), 0) DESC, requests DESC LIMIT {d.ph}",
            [since, int(limit)],
        )

    def spend_by_day(self, since: str) -> dict[str, float]:
        """YYYY-MM-DD -> USD spent that day, for the days since ``since`` that have exchanges."""
        sql = (
            "SELECT substr(started_at, 1, 10), coalesce(sum(cost_usd), 0) FROM requests "
            f"WHERE started_at >= {self.dialect.ph} GROUP BY 1"
        )
        return {day: float(v) for day, v in self._tuples(sql, [since])}

    def tenant_spend(self, tenant: str, since: str) -> float:
        ph = self.dialect.ph
        sql = f"SELECT coalesce(sum(cost_usd), 0) FROM requests WHERE tenant = {ph} AND started_at >= {ph}"
        return float(self._tuples(sql, [tenant, since])[0][0] or 0.0)

    def violation_groups(self, day_ago: str, week_ago: str) -> list[Row]:
        """Counts per (module, type, action): since ``day_ago``, since ``week_ago``, all time; busiest first."""
        d = self.dialect
        return self._all(
            f"SELECT module, type, action, {d.count_if('created_at >= ' + d.ph)} AS day, "
            f"{d.count_if('created_at >= ' + d.ph)} AS week, count(*) AS total, max(created_at) AS last_seen "
            "FROM violations GROUP BY module, type, action ORDER BY total DESC, module, type LIMIT 500",
            [day_ago, week_ago],
        )

    def violations_by_day(self, since: str, module: str | None = None, type: str | None = None) -> dict[str, int]:
        """YYYY-MM-DD -> findings that day (of ``module`` / ``type`` when given), since ``since``."""
        where, params = self._violation_match(module=module, type=type)
        sql = f"SELECT substr(created_at, 1, 10), count(*) FROM violations WHERE created_at >= {self.dialect.ph}"
        sql += "".join(f" AND {c}" for c in where) + " GROUP BY 1"
        return {day: int(n) for day, n in self._tuples(sql, [since, *params])}

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]:
        where, params = self._violation_match("v.", module=module, type=type, action=action)
        sql = (
            "SELECT v.id, v.request_id, v.created_at, v.module, v.type, v.action, v.severity, v.detail, "
            "r.provider, r.model, r.tenant FROM violations v LEFT JOIN requests r ON r.id = v.request_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY v.created_at DESC, v.id DESC LIMIT {self.dialect.ph}"
        return self._all(sql, [*params, int(limit)])

    def _violation_match(self, alias: str = "", **columns: str | None) -> tuple[list[str], list[Any]]:
        """NULL-safe equality on the given ``violations`` columns (those not None)."""
        given = [(col, val) for col, val in columns.items() if val is not None]
        return [f"{alias}{col} {self.dialect.is_} {self.dialect.ph}" for col, _ in given], [v for _, v in given]
