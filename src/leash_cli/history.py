"""Queries over the history database, for ``leash logs``, ``leash stats`` and the TUI.

Readers only: every function takes a database opened with
``store.open_readonly`` (except :func:`vacuum`, a maintenance write).  All SQL
is parameterised; user-supplied text never becomes SQL.

Full-text search and rows not indexed yet: the recorder adds rows to
``requests_fts`` in bulk when the gateway is idle (see ``store``), so the
newest rows (those above ``store.fts_watermark``) may not be in the index.
:func:`list_requests` and :func:`new_requests` search both; other readers
use :func:`search_clause` (or :func:`unindexed_matches`) the same way.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from leash_cli.config import parse_duration
from leash_cli.store import (
    REQUEST_COLUMNS,
    StoreError,
    fts_watermark,
    iso_utc,
    open_readonly,
    open_writable,
)

__all__ = [
    "LIST_COLUMNS",
    "JSON_COLUMNS",
    "STATS_GROUPS",
    "parse_since",
    "fts_query",
    "search_clause",
    "unindexed_matches",
    "list_requests",
    "new_requests",
    "get_request",
    "stats",
    "export_rows",
    "vacuum",
    "backup",
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
        raise ValueError(f"expected a duration such as 24h or 7d, or an ISO time such as 2025-05-01T12:00, got {text!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)  # stored times are UTC; a bare time is read as UTC
    return iso_utc(when.timestamp())


def fts_query(text: str) -> str:
    """Plain words -> an FTS5 query matching rows that contain all of them.

    Each word is quoted, so punctuation in a search (``foo-bar``, ``a:b``)
    is never FTS syntax.  A trailing ``*`` on a word keeps prefix search.
    """
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        w = word[:-1] if prefix else word
        terms.append('"' + w.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise ValueError("empty search")
    return " ".join(terms)


_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")
_NON_ASCII = "length(CAST({c} AS BLOB)) <> length({c})"


def _prefilter(text: str, alias: str) -> tuple[str, list]:
    """SQL true for every row whose texts could match ``fts_query(text)`` (a superset).

    FTS5's default tokenizer (unicode61) folds case and diacritics, so a word
    of ASCII letters and digits can only match a row that holds each of its
    tokens as a substring (ASCII case folded) — unless the row has non-ASCII
    text, which is always kept for the exact check.
    """
    p, r = f"{alias}.prompt_text", f"{alias}.response_text"
    conds: list[str] = []
    params: list = []
    for word in text.split():
        w = word[:-1] if word.endswith("*") and len(word) > 1 else word
        if not w.isascii():
            continue
        for tok in _ASCII_TOKEN.findall(w):
            conds.append(f"({p} LIKE ? OR {r} LIKE ?)")
            params += [f"%{tok}%", f"%{tok}%"]
    if not conds:
        return "1", []
    non_ascii = f"{_NON_ASCII.format(c=p)} OR {_NON_ASCII.format(c=r)}"
    return f"({non_ascii} OR ({' AND '.join(conds)}))", params


def unindexed_matches(
    db: sqlite_utils.Database | sqlite3.Connection,
    text: str,
    *,
    after: int | None = None,
    where: list[str] | tuple = (),
    params: list | tuple = (),
    alias: str = "r",
    newest: int | None = None,
) -> list[int]:
    """Rowids (ascending) of rows not yet in ``requests_fts`` that a search for
    ``text`` (plain words, as :func:`fts_query` takes them) matches — exactly as
    ``requests_fts MATCH fts_query(text)`` would once they are indexed.

    Only rows above ``after`` (default: the index watermark) are looked at;
    ``where``/``params`` are extra conditions on ``alias``; ``newest``: only
    the newest that many matches are wanted.  A cheap substring pre-filter
    picks candidates; an in-memory FTS5 table with the same tokenizer decides,
    newest candidates first when ``newest`` is given.  The unindexed rows are few unless the gateway is
    saturated (the recorder keeps them under about 55,000).
    """
    match = fts_query(text)
    if after is None:
        after = fts_watermark(db)
    pre, pre_params = _prefilter(text, alias)
    conds = [f"{alias}.rowid > ?", pre, *where]
    cur = db.execute(
        f"SELECT {alias}.rowid, {alias}.prompt_text, {alias}.response_text FROM requests {alias} "
        f"WHERE {' AND '.join(conds)} ORDER BY {alias}.rowid DESC",
        [after, *pre_params, *params],
    )
    found: list[int] = []
    mem = None
    size = 256 if newest else 1 << 30
    try:
        while True:
            chunk = cur.fetchmany(size)
            if not chunk:
                break
            if mem is None:
                mem = sqlite3.connect(":memory:")
                mem.execute("CREATE VIRTUAL TABLE t USING fts5 (prompt_text, response_text)")
            else:
                mem.execute("DELETE FROM t")
            mem.executemany("INSERT INTO t (rowid, prompt_text, response_text) VALUES (?, ?, ?)", chunk)
            found += [r[0] for r in mem.execute("SELECT rowid FROM t WHERE t MATCH ?", [match])]
            if newest and len(found) >= newest:
                break
            size = min(size * 4, 16384)
    finally:
        cur.close()
        if mem is not None:
            mem.close()
    found.sort()
    return found[-newest:] if newest else found


def search_clause(db: sqlite_utils.Database | sqlite3.Connection, text: str, alias: str = "r") -> tuple[str, list]:
    """A WHERE fragment (and its parameters) for rows of ``requests {alias}`` whose
    prompt or completion text matches the words ``text``, indexed or not yet.

    Compute it when the query runs (the unindexed rows change as the gateway
    writes)::

        sql, params = search_clause(db, "llama sqlite")
        db.execute(f"SELECT ... FROM requests r WHERE {sql} ORDER BY r.started_at DESC", params)
    """
    upto = fts_watermark(db)
    tail = unindexed_matches(db, text, after=upto, alias=alias)
    sql = (f"({alias}.rowid IN (SELECT rowid FROM requests_fts WHERE requests_fts MATCH ? AND rowid <= ?)"
           f" OR {alias}.rowid IN (SELECT value FROM json_each(?)))")
    return sql, [fts_query(text), upto, orjson.dumps(tail).decode()]


_STATUS = re.compile(r"^([1-5])xx$", re.I)


def _status_clause(status: str | int) -> tuple[str, list]:
    s = str(status).strip()
    m = _STATUS.match(s)
    if m:
        lo = int(m.group(1)) * 100
        return "r.status BETWEEN ? AND ?", [lo, lo + 99]
    if s.isdigit():
        return "r.status = ?", [int(s)]
    raise ValueError(f"expected a status such as 200, 429 or 5xx, got {status!r}")


def _filters(
    provider: str | None = None,
    model: str | None = None,
    tenant: str | None = None,
    status: str | int | None = None,
    outcome: str | None = None,
    since: str | None = None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for col, val in (("provider", provider), ("model", model), ("tenant", tenant), ("outcome", outcome)):
        if val is not None:
            where.append(f"r.{col} = ?")
            params.append(val)
    if status is not None:
        clause, p = _status_clause(status)
        where.append(clause)
        params.extend(p)
    if since is not None:
        where.append("r.started_at >= ?")
        params.append(since)
    return where, params


def _add_expr(db: Any, expr: str | None, where: list[str], params: list[Any]) -> None:
    """AND a filter-language expression into ``where`` (raises ``FilterError``)."""
    if not expr or not expr.strip():
        return
    from leash_cli.filters import compile_filter

    flt = compile_filter(expr, alias="r")
    where.append(f"({flt.sql})")
    params.extend(flt.params_for(db))


def _row(cur, row) -> dict[str, Any]:
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

    ``expr`` is an expression of the filter language (``leash_cli.filters``),
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


def new_requests(db: sqlite_utils.Database, after_rowid: int, limit: int = 1000, **filters: Any) -> list[dict]:
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
    return db.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]


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
               sum(cost_usd IS NULL) AS unpriced
        FROM requests {where}
        GROUP BY grp
        ORDER BY requests DESC
        """,
        params,
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


def export_rows(db: sqlite_utils.Database, since: str | None = None, *, parse_json: bool = True) -> Iterator[dict]:
    """Every column of every exchange since ``since``, oldest first (streams; no big lists)."""
    cols = ", ".join(REQUEST_COLUMNS)
    sql = f"SELECT {cols} FROM requests"
    params: list = []
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


def _size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total


def vacuum(path: Path, actor: str | None = "cli") -> tuple[int, int]:
    """VACUUM the database and record it in ``audit_log``: (bytes before, bytes after)."""
    if not Path(path).is_file():
        raise StoreError(f"no history yet at {path}")
    before = _size(path)
    db = open_writable(path, timeout=30.0)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = _size(path)
        db.execute(
            "INSERT INTO audit_log (created_at, event, actor, detail) VALUES (?, ?, ?, ?)",
            [iso_utc(time.time()), "vacuum", actor, orjson.dumps({"bytes_before": before, "bytes_after": after}).decode()],
        )
    finally:
        db.close()
    return before, after


def backup(path: Path, dest: Path) -> int:
    """A consistent copy of the database at ``dest`` (``VACUUM INTO``); returns its size."""
    dest = Path(dest)
    if dest.exists():
        raise StoreError(f"{dest} already exists; choose a new file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    db = open_readonly(path)
    try:
        db.execute("VACUUM INTO ?", [str(dest)])
    finally:
        db.close()
    return dest.stat().st_size
