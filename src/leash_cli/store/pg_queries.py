"""Read queries over a PostgreSQL history: ``leash logs``, ``leash stats`` and the TUI.

The same queries as :mod:`leash_cli.store.queries` (same columns, order and
meaning), in PostgreSQL's SQL; all parameterised (``%s``), user text never
becomes SQL.  The filter language (:mod:`leash_cli.store.filters`) is parsed
by the same parser and compiled here to PostgreSQL (:func:`compile_pg_filter`).

Full-text search uses PostgreSQL's own (``tsvector``/``tsquery``, the
``simple`` configuration).  What a user sees is kept: a search is a set of
words that must all occur in the prompt or the completion, case-insensitively;
a word with punctuation (``foo-bar``, ``a:b``) is a phrase of its parts; a
trailing ``*`` is a prefix search.  Rows not indexed yet (``search_vector IS
NULL``) are matched by computing their vector on the fly, so a search covers
every written row.  Differences from SQLite's FTS5 (documented in
docs/postgres.md): accents are not folded (``café`` does not find ``cafe``),
and PostgreSQL's parser keeps e-mail addresses, URLs, host names and
hyphenated words whole as well as their parts, so a search for ``a@b.com``
matches that address.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from leash_cli.store.backend import ListFilter, Row
from leash_cli.store.filters import And, Not, Or, Term, parse
from leash_cli.store.pg_schema import SEARCH_VECTOR, WORD_BREAKS
from leash_cli.store.queries import (
    CACHE_HIT_LIKE,
    CACHE_MISS_LIKE,
    JSON_COLUMNS,
    LIST_COLUMNS,
    REPLAY_COLUMNS,
    STATS_GROUPS,
    TRAFFIC_COLUMNS,
    replay_batch,
    replay_where,
)
from leash_cli.store.queries import _filters as _option_filters
from leash_cli.store.schema import REQUEST_COLUMNS

__all__ = ["PgFilter", "PostgresReader", "compile_pg_filter", "search_sql"]

_VECTOR = SEARCH_VECTOR.format(a="r.")


# -- full-text search -------------------------------------------------------------------


_WORD = re.compile(r"[^\W_]+")


def _tsquery_param(word: str) -> tuple[str, str] | None:
    """One search word -> (SQL producing a tsquery, its parameter); None for a word with nothing to search."""
    prefix = word.endswith("*") and len(word) > 1
    w = word[:-1] if prefix else word
    if not prefix:
        return f"phraseto_tsquery('simple'::regconfig, regexp_replace(%s, {WORD_BREAKS}, ' ', 'g'))", w
    parts = _WORD.findall(w.lower())
    if not parts:
        return None
    # quoted lexemes are never tsquery syntax; the last one is a prefix
    text = " <-> ".join("'" + p + "'" for p in parts) + ":*"
    return "to_tsquery('simple'::regconfig, %s)", text


def search_sql(text: str, alias: str = "r") -> tuple[str, list[Any]]:
    """A boolean SQL expression (and its parameters) true for rows of ``requests {alias}`` whose prompt or
    completion holds every word of ``text``, indexed or not yet."""
    qs: list[str] = []
    params: list[Any] = []
    for word in text.split():
        q = _tsquery_param(word)
        if q is None:
            continue
        qs.append(q[0])
        params.append(q[1])
    if not qs:
        return "false", []
    query = "(" + " && ".join(qs) + ")"
    vector = SEARCH_VECTOR.format(a=alias + ".")
    sql = f"({alias}.search_vector @@ {query} OR ({alias}.search_vector IS NULL AND {vector} @@ {query}))"
    return sql, params + params


# -- the filter language -------------------------------------------------------------------


@dataclass(frozen=True)
class PgFilter:
    """A filter expression compiled to PostgreSQL (:class:`~leash_cli.store.backend.ListFilter`)."""

    text: str
    sql: str
    params: tuple[Any, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    def params_for(self, db: Any) -> list[Any]:
        return list(self.params)


_TEXT_COLUMNS = {"~p": "provider", "~m": "model", "~t": "tenant", "~o": "outcome", "~verdict": "verdict"}
_NUMBER_COLUMNS = {"~c": "cost_usd", "~l": "latency_ms"}


def _like(glob: str) -> str:
    """A GLOB pattern (``*``, ``?`` wildcards, everything else literal) as a LIKE pattern (escape ``\\``)."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _pg_sql(node: Any, a: str, params: list[Any]) -> str:
    if isinstance(node, Or):
        return f"({_pg_sql(node.left, a, params)} OR {_pg_sql(node.right, a, params)})"
    if isinstance(node, And):
        return f"({_pg_sql(node.left, a, params)} AND {_pg_sql(node.right, a, params)})"
    if isinstance(node, Not):
        return f"NOT coalesce({_pg_sql(node.node, a, params)}, false)"  # NULL-safe, as in SQLite
    assert isinstance(node, Term)
    op, v = node.op, node.value
    if op in _TEXT_COLUMNS or op == "~mod":
        col = f"{a}.{_TEXT_COLUMNS[op]}" if op != "~mod" else "v.module"
        if "*" in v or "?" in v:
            params.append(_like(v))
            cond = f"{col} LIKE %s"
        else:
            params.append(v)
            cond = f"{col} = %s"
        if op == "~mod":
            return f"EXISTS (SELECT 1 FROM violations v WHERE v.request_id = {a}.id AND {cond})"
        return cond
    if op == "~s":
        kind, lo, hi = v
        if kind == "between":
            params.extend((lo, hi))
            return f"{a}.status BETWEEN %s AND %s"
        params.append(lo)
        return f"{a}.status {kind} %s"
    if op in _NUMBER_COLUMNS:
        cmp, num = v
        params.append(num)
        return f"{a}.{_NUMBER_COLUMNS[op]} {cmp} %s"
    if op == "~v":
        return f"EXISTS (SELECT 1 FROM violations v WHERE v.request_id = {a}.id)"
    if op == "~q":
        sql, p = search_sql(v, a)
        params.extend(p)
        return sql
    raise AssertionError(op)  # pragma: no cover


def compile_pg_filter(text: str | None, alias: str = "r") -> PgFilter:
    """The filter language (raises ``FilterError`` as :func:`~leash_cli.store.filters.compile_filter` does)
    compiled to PostgreSQL; an empty expression matches everything."""
    text = text or ""
    node = parse(text)
    if node is None:
        return PgFilter(text, "true", ())
    params: list[Any] = []
    return PgFilter(text, _pg_sql(node, alias, params), tuple(params))


def _as_pg(flt: ListFilter) -> PgFilter:
    """A filter compiled for SQLite (the TUI compiles with ``compile_filter``) recompiled from its text."""
    if isinstance(flt, PgFilter):
        return flt
    return compile_pg_filter(str(getattr(flt, "text", "") or ""))


# -- arguments ----------------------------------------------------------------------------------


def _filters(
    provider: str | None = None,
    model: str | None = None,
    tenant: str | None = None,
    status: str | int | None = None,
    outcome: str | None = None,
    since: str | None = None,
    query: str | None = None,
    expr: str | None = None,
) -> tuple[list[str], list[Any]]:
    where, params = _option_filters(provider, model, tenant, status, outcome, since, ph="%s")
    if expr and expr.strip():
        flt = compile_pg_filter(expr)
        where.append(f"({flt.sql})")
        params.extend(flt.params)
    if query:
        if not query.split():
            raise ValueError("empty search")
        sql, p = search_sql(query)
        where.append(sql)
        params.extend(p)
    return where, params


def _parse_json_columns(row: Row) -> Row:

    for c in JSON_COLUMNS:
        v = row.get(c)
        if isinstance(v, str):
            try:
                row[c] = orjson.loads(v)
            except orjson.JSONDecodeError:
                pass
    return row


_LIST = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in LIST_COLUMNS) + " FROM requests r"
_TRAFFIC = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in TRAFFIC_COLUMNS) + " FROM requests r"
_WHERE = " WHERE "


def _where(conds: list[str]) -> str:
    return (_WHERE + " AND ".join(conds)) if conds else ""


# -- the reader -------------------------------------------------------------------------------


class PostgresReader:
    """:class:`~leash_cli.store.backend.HistoryReader` over a PostgreSQL history.

    A small connection pool (``psycopg_pool``), autocommit, rows as dicts;
    every method may be called from any thread.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            yield conn

    def _all(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[Row]:
        from psycopg.rows import dict_row

        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def _tuples(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

    def close(self) -> None:
        self._pool.close()

    # -- leash logs / leash stats ------------------------------------------------------------------
    def list_requests(
        self,
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
    ) -> list[Row]:
        where, params = _filters(provider, model, tenant, status, outcome, since, query, expr)
        # a search lists matches newest-written first, as SQLite's does; a listing newest started first
        order = "r.rowid DESC" if query else "r.started_at DESC, r.rowid DESC"
        return self._all(f"{_LIST}{_where(where)} ORDER BY {order} LIMIT %s", [*params, int(n)])

    def new_requests(self, after_rowid: int, limit: int = 1000, **filters: Any) -> list[Row]:
        where, params = _filters(**filters)
        where.insert(0, "r.rowid > %s")
        return self._all(f"{_LIST}{_where(where)} ORDER BY r.rowid LIMIT %s", [after_rowid, *params, int(limit)])

    # -- leash policy test ---------------------------------------------------------------------
    def count_replay(self, since: str | None = None, tenant: str | None = None, last: int | None = None) -> int:
        where, params = replay_where(since, tenant, "%s")
        n = int(self._tuples(f"SELECT count(*) FROM requests{where}", params)[0][0])
        return min(n, last) if last is not None else n

    def replay_rows(
        self, since: str | None = None, tenant: str | None = None, last: int | None = None
    ) -> Iterator[Row]:
        """As the SQLite reader's: oldest first, ``request_headers`` parsed, each row with its
        recorded ``violations`` as ``(module, type, action, detail)``; read through a server-side
        cursor in batches, so a long history is never held in memory."""
        cols = ", ".join(REPLAY_COLUMNS)
        where, params = replay_where(since, tenant, "%s")
        if last is not None:
            sql = (
                f"SELECT {cols} FROM (SELECT rowid AS _r, * FROM requests{where} "
                f"ORDER BY started_at DESC, rowid DESC LIMIT %s) AS newest ORDER BY started_at, _r"
            )
            params.append(int(last))
        else:
            sql = f"SELECT {cols} FROM requests{where} ORDER BY started_at, rowid"
        with self._conn() as conn, conn.transaction(), conn.cursor(name="leash_replay") as cur:
            cur.itersize = 500
            cur.execute(sql, params)
            while True:
                batch = cur.fetchmany(500)
                if not batch:
                    return
                yield from replay_batch(
                    batch,
                    conn.execute(
                        "SELECT request_id, module, type, action, detail FROM violations "
                        "WHERE request_id = ANY(%s) ORDER BY id",
                        [[r[0] for r in batch]],
                    ),
                )

    def max_rowid(self) -> int:
        return int(self._tuples("SELECT coalesce(max(rowid), 0) FROM requests")[0][0])

    def get_request(self, request_id: str) -> Row | None:
        cols = ", ".join(REQUEST_COLUMNS)
        rows = self._all(f"SELECT {cols} FROM requests WHERE id = %s", [request_id])
        if not rows and request_id:
            rows = self._all(
                f"SELECT {cols} FROM requests WHERE id >= %s AND id < %s ORDER BY id LIMIT 2",
                [request_id, request_id + "\U0010ffff"],
            )
            if len(rows) > 1:
                raise ValueError(f"{request_id!r} matches more than one exchange; give more of the id")
        if not rows:
            return None
        out = _parse_json_columns(rows[0])
        out["violations"] = self._all(
            'SELECT id, created_at, module, type, action, severity, detail, start, "end", field, score '
            "FROM violations WHERE request_id = %s ORDER BY id",
            [out["id"]],
        )
        return out

    def stats(self, since: str | None = None, by: str | None = None) -> list[Row]:
        if by is not None and by not in STATS_GROUPS:
            raise ValueError(f"--by must be one of {', '.join(STATS_GROUPS)}")
        grp = STATS_GROUPS[by] if by else "'all'"
        where = "WHERE started_at >= %s" if since else ""
        rows = self._all(
            f"""
            SELECT {grp} AS grp,
                   count(*) AS requests,
                   count(*) FILTER (WHERE outcome = 'ok') AS ok,
                   count(*) FILTER (WHERE outcome IN ('upstream_error', 'error')) AS errors,
                   count(*) FILTER (WHERE outcome = 'blocked') AS blocked,
                   count(*) FILTER (WHERE outcome = 'client_cancelled') AS cancelled,
                   coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
                   coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
                   sum(cost_usd) AS cost_usd,
                   count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced,
                   count(*) FILTER (WHERE cost_detail LIKE %s) AS cache_hits,
                   count(*) FILTER (WHERE cost_detail LIKE %s) AS cache_misses,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_latency_ms,
                   percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY overhead_ms) AS p50_overhead_ms,
                   percentile_disc(0.95) WITHIN GROUP (ORDER BY overhead_ms) AS p95_overhead_ms
            FROM requests {where}
            GROUP BY 1
            ORDER BY requests DESC
            """,
            [CACHE_HIT_LIKE, CACHE_MISS_LIKE, *([since] if since else [])],
        )
        out = []
        for r in rows:
            # same keys in the same order as the SQLite reader (percentile_disc is its nearest rank)
            g = r.pop("grp")
            pct = {k: r.pop(k) for k in ("p50_latency_ms", "p95_latency_ms", "p50_overhead_ms", "p95_overhead_ms")}
            r["group"] = g
            r.update(pct)
            out.append(r)
        return out

    def export_rows(self, since: str | None = None, *, parse_json: bool = True) -> Iterator[Row]:
        from psycopg.rows import dict_row

        cols = ", ".join(REQUEST_COLUMNS)
        sql = f"SELECT {cols} FROM requests"
        params: list[Any] = []
        if since:
            sql += " WHERE started_at >= %s"
            params.append(since)
        sql += " ORDER BY started_at"
        with self._conn() as conn, conn.transaction(), conn.cursor("leash_export", row_factory=dict_row) as cur:
            cur.itersize = 500  # a server-side cursor: streams, no big lists
            cur.execute(sql, params)
            for row in cur:
                yield _parse_json_columns(row) if parse_json else row

    # -- the TUI -----------------------------------------------------------------------------------
    def page(self, flt: ListFilter, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]:
        f = _as_pg(flt)
        sql = f"{_TRAFFIC} WHERE ({f.sql})"
        tail: list[Any] = []
        if before is not None:
            sql += " AND (r.started_at < %s OR (r.started_at = %s AND r.id < %s))"
            tail += [before[0], before[0], before[1]]
        sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT %s"
        tail.append(int(limit))
        return self._all(sql, [*f.params, *tail])

    def newer(self, flt: ListFilter, after_rowid: int, limit: int = 5000) -> list[Row]:
        f = _as_pg(flt)
        return self._all(
            f"{_TRAFFIC} WHERE r.rowid > %s AND ({f.sql}) ORDER BY r.rowid LIMIT %s",
            [after_rowid, *f.params, int(limit)],
        )

    def providers(self) -> list[tuple[str, str]]:
        return [
            (p, k)
            for p, k in self._tuples(
                "SELECT DISTINCT provider, kind FROM requests WHERE provider IS NOT NULL ORDER BY provider"
            )
        ]

    def recent_outcomes(self, since: str) -> list[tuple[Any, ...]]:
        return self._tuples(
            "SELECT outcome, status, latency_ms, overhead_ms FROM requests WHERE started_at >= %s", [since]
        )

    def cost_totals(self, since: str) -> Row:
        return self._all(
            "SELECT count(*) AS requests, sum(cost_usd) AS cost_usd, "
            "count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, "
            "coalesce(sum(input_tokens), 0)::bigint AS input_tokens, "
            "coalesce(sum(output_tokens), 0)::bigint AS output_tokens, "
            "count(*) FILTER (WHERE cost_detail LIKE %s) AS cache_hits, "
            "count(*) FILTER (WHERE cost_detail LIKE %s) AS cache_misses "
            "FROM requests WHERE started_at >= %s",
            [CACHE_HIT_LIKE, CACHE_MISS_LIKE, since],
        )[0]

    def cost_by(self, column: str, since: str, limit: int = 50) -> list[Row]:
        if column not in ("tenant", "provider", "model"):
            raise ValueError(column)
        return self._all(
            f"SELECT coalesce({column}, '-') AS name, count(*) AS requests, sum(cost_usd) AS cost_usd, "
            "count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, "
            "coalesce(sum(input_tokens), 0)::bigint AS input_tokens, "
            "coalesce(sum(output_tokens), 0)::bigint AS output_tokens "
            "FROM requests WHERE started_at >= %s GROUP BY 1 "
            "ORDER BY coalesce(sum(cost_usd), 0) DESC, requests DESC LIMIT %s",
            [since, int(limit)],
        )

    def spend_by_day(self, since: str) -> dict[str, float]:
        return {
            d: float(v)
            for d, v in self._tuples(
                "SELECT substr(started_at, 1, 10), coalesce(sum(cost_usd), 0) FROM requests "
                "WHERE started_at >= %s GROUP BY 1",
                [since],
            )
        }

    def tenant_spend(self, tenant: str, since: str) -> float:
        v = self._tuples(
            "SELECT coalesce(sum(cost_usd), 0) FROM requests WHERE tenant = %s AND started_at >= %s", [tenant, since]
        )[0][0]
        return float(v or 0.0)

    def violation_groups(self, day_ago: str, week_ago: str) -> list[Row]:
        return self._all(
            "SELECT module, type, action, count(*) FILTER (WHERE created_at >= %s) AS day, "
            "count(*) FILTER (WHERE created_at >= %s) AS week, count(*) AS total, max(created_at) AS last_seen "
            "FROM violations GROUP BY module, type, action ORDER BY total DESC, module, type LIMIT 500",
            [day_ago, week_ago],
        )

    def violations_by_day(self, since: str, module: str | None = None, type: str | None = None) -> dict[str, int]:
        sql = "SELECT substr(created_at, 1, 10), count(*) FROM violations WHERE created_at >= %s"
        params: list[Any] = [since]
        if module is not None:
            sql += " AND module IS NOT DISTINCT FROM %s"
            params.append(module)
        if type is not None:
            sql += " AND type IS NOT DISTINCT FROM %s"
            params.append(type)
        return {d: int(n) for d, n in self._tuples(sql + " GROUP BY 1", params)}

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]:
        sql = (
            "SELECT v.id, v.request_id, v.created_at, v.module, v.type, v.action, v.severity, v.detail, "
            "r.provider, r.model, r.tenant FROM violations v LEFT JOIN requests r ON r.id = v.request_id"
        )
        where: list[str] = []
        params: list[Any] = []
        for col, val in (("module", module), ("type", type), ("action", action)):
            if val is not None:
                where.append(f"v.{col} IS NOT DISTINCT FROM %s")
                params.append(val)
        sql += _where(where) + " ORDER BY v.created_at DESC, v.id DESC LIMIT %s"
        params.append(int(limit))
        return self._all(sql, params)
