"""Read queries over a PostgreSQL history: ``leash logs``, ``leash stats`` and the TUI.

The same queries as :mod:`leash_cli.store.queries` (same columns, order and
meaning), in PostgreSQL's SQL; all parameterised (``%s``), user text never
becomes SQL.  Those whose SQL differs only in spelling are written once in
:mod:`leash_cli.store.reader` (:data:`~leash_cli.store.dialect.POSTGRES`).  The filter language (:mod:`leash_cli.store.filters`) is parsed
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

from leash_cli.store.backend import ListFilter, Row
from leash_cli.store.dialect import POSTGRES
from leash_cli.store.filters import SqlCompiler, has_wildcard, parse
from leash_cli.store.pg_schema import SEARCH_VECTOR, WORD_BREAKS
from leash_cli.store.queries import _filters as _option_filters
from leash_cli.store.reader import (
    LIST_COLUMNS,
    SqlReader,
    export_sql,
    parse_json_columns,
    replay_batch,
    replay_sql,
    replay_violations_sql,
    stats_sql,
)

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


class _PgSql(SqlCompiler):
    dialect = POSTGRES
    false = "false"

    def match(self, column: str, value: str) -> str:
        if has_wildcard(value):
            self.params.append(_like(value))
            return f"{column} LIKE %s"
        self.params.append(value)
        return f"{column} = %s"

    def search(self, text: str) -> str:
        sql, p = search_sql(text, self.alias)
        self.params.extend(p)
        return sql


def compile_pg_filter(text: str | None, alias: str = "r") -> PgFilter:
    """The filter language (raises ``FilterError`` as :func:`~leash_cli.store.filters.compile_filter` does)
    compiled to PostgreSQL; an empty expression matches everything."""
    text = text or ""
    node = parse(text)
    if node is None:
        return PgFilter(text, "true", ())
    compiler = _PgSql(alias)
    sql = compiler.sql(node)
    return PgFilter(text, sql, tuple(compiler.params))


def _as_pg(flt: ListFilter) -> PgFilter:
    """A filter compiled for SQLite (the TUI compiles with ``compile_filter``) recompiled from its text."""
    if isinstance(flt, PgFilter):
        return flt
    return compile_pg_filter(str(getattr(flt, "text", "") or ""))


# -- arguments ----------------------------------------------------------------------------------


def _filters(query: str | None = None, expr: str | None = None, **options: Any) -> tuple[list[str], list[Any]]:
    """The WHERE conditions and parameters of ``leash logs``' options (as SQLite's), its filter expression
    and its search."""
    where, params = _option_filters(**options, ph="%s")
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


_LIST = "SELECT r.rowid AS _rowid, " + ", ".join(f"r.{c}" for c in LIST_COLUMNS) + " FROM requests r"
_WHERE = " WHERE "
#: ``leash stats``' percentiles: ``percentile_disc`` is the nearest rank the SQLite reader computes
_PERCENTILES = (
    ", percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_latency_ms"
    ", percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms"
    ", percentile_disc(0.5) WITHIN GROUP (ORDER BY overhead_ms) AS p50_overhead_ms"
    ", percentile_disc(0.95) WITHIN GROUP (ORDER BY overhead_ms) AS p95_overhead_ms"
)


def _where(conds: list[str]) -> str:
    return (_WHERE + " AND ".join(conds)) if conds else ""


# -- the reader -------------------------------------------------------------------------------


class PostgresReader(SqlReader):
    """:class:`~leash_cli.store.backend.HistoryReader` over a PostgreSQL history.

    A small connection pool (``psycopg_pool``), autocommit; every method may be
    called from any thread.
    """

    dialect = POSTGRES

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def _conn(self) -> contextlib.AbstractContextManager[Any]:
        conn: contextlib.AbstractContextManager[Any] = self._pool.connection()
        return conn

    def _filter(self, flt: ListFilter) -> tuple[str, list[Any]]:
        f = _as_pg(flt)
        return f.sql, list(f.params)

    def close(self) -> None:
        self._pool.close()

    # -- what differs from SQLite: full-text search, percentiles, streaming ----------------------------
    def list_requests(self, n: int = 20, **filters: Any) -> list[Row]:
        where, params = _filters(**filters)
        # a search lists matches newest-written first, as SQLite's does; a listing newest started first
        order = "r.rowid DESC" if filters.get("query") else "r.started_at DESC, r.rowid DESC"
        return self._all(f"{_LIST}{_where(where)} ORDER BY {order} LIMIT %s", [*params, int(n)])

    def new_requests(self, after_rowid: int, limit: int = 1000, **filters: Any) -> list[Row]:
        where, params = _filters(**filters)
        where.insert(0, "r.rowid > %s")
        return self._all(f"{_LIST}{_where(where)} ORDER BY r.rowid LIMIT %s", [after_rowid, *params, int(limit)])

    def stats(self, since: str | None = None, by: str | None = None) -> list[Row]:
        sql, params = stats_sql(POSTGRES, since, by, _PERCENTILES)
        out = []
        for r in self._all(sql, params):
            # same keys in the same order as the SQLite reader (percentile_disc is its nearest rank)
            g = r.pop("grp")
            pct = {k: r.pop(k) for k in ("p50_latency_ms", "p95_latency_ms", "p50_overhead_ms", "p95_overhead_ms")}
            r["group"] = g
            r.update(pct)
            out.append(r)
        return out

    def export_rows(self, since: str | None = None, *, parse_json: bool = True) -> Iterator[Row]:
        from psycopg.rows import dict_row

        sql, params = export_sql(POSTGRES, since)
        with self._conn() as conn, conn.transaction(), conn.cursor("leash_export", row_factory=dict_row) as cur:
            cur.itersize = 500  # a server-side cursor: streams, no big lists
            cur.execute(sql, params)
            for row in cur:
                yield parse_json_columns(row) if parse_json else row

    def replay_rows(
        self, since: str | None = None, tenant: str | None = None, last: int | None = None
    ) -> Iterator[Row]:
        """As the SQLite reader's: oldest first, ``request_headers`` parsed, each row with its
        recorded ``violations`` as ``(module, type, action, detail)``; read through a server-side
        cursor in batches, so a long history is never held in memory."""
        sql, params = replay_sql(POSTGRES, since, tenant, last)
        with self._conn() as conn, conn.transaction(), conn.cursor(name="leash_replay") as cur:
            cur.itersize = 500
            cur.execute(sql, params)
            while True:
                batch = cur.fetchmany(500)
                if not batch:
                    return
                yield from replay_batch(batch, conn.execute(*replay_violations_sql(POSTGRES, [r[0] for r in batch])))
