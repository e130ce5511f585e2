"""The full-text index (``requests_fts``): keeping it up to date, and searching it.

``requests_fts`` is filled off the insert path (migration 003): rows with
``rowid <= fts_watermark()`` are indexed, rows above it are not yet.  The
recorder indexes in bulk when idle (:func:`index_fts`); readers that search
must cover both sides of the watermark: :func:`search_clause` and
:func:`unindexed_matches` do.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

import orjson
import sqlite_utils

from leash_cli.store.schema import FTS_NAME

__all__ = [
    "fts_watermark",
    "unindexed_rows",
    "set_fts_deferred",
    "index_fts",
    "rebuild_fts",
    "fts_query",
    "unindexed_matches",
    "search_clause",
]


def fts_watermark(conn: Any) -> int:
    """The highest rowid of ``requests`` known to be in ``requests_fts``."""
    row = conn.execute("SELECT indexed_upto FROM fts_state WHERE name = ?", [FTS_NAME]).fetchone()
    return int(row[0]) if row else 0


def unindexed_rows(conn: Any) -> int:
    """How many ``requests`` rows are not in ``requests_fts`` yet."""
    return int(conn.execute("SELECT count(*) FROM requests WHERE rowid > ?", [fts_watermark(conn)]).fetchone()[0])


def set_fts_deferred(conn: Any, deferred: bool) -> None:
    """1: new rows wait for :func:`index_fts` (the recorder); 0: the insert trigger indexes them."""
    conn.execute("UPDATE fts_state SET deferred = ? WHERE name = ?", [1 if deferred else 0, FTS_NAME])


def index_fts(
    conn: sqlite3.Connection, *, chunk: int = 5000, max_rows: int | None = None, deadline: float | None = None
) -> int:
    """Add the rows above the watermark to ``requests_fts``, ``chunk`` rowids per
    transaction, oldest first; stop after ``max_rows`` rowids or at ``deadline``
    (``time.monotonic()``).  Returns how many rows were indexed.  Bulk indexing
    costs a fifth of what a per-row trigger does.
    """
    done = 0
    while max_rows is None or done < max_rows:
        if deadline is not None and time.monotonic() >= deadline:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            upto = fts_watermark(conn)
            top = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
            if top <= upto:
                conn.execute("COMMIT")
                break
            n = chunk if max_rows is None else min(chunk, max_rows - done)
            hi = min(upto + max(n, 1), top)
            cur = conn.execute(
                "INSERT INTO requests_fts (rowid, prompt_text, response_text) "
                "SELECT rowid, prompt_text, response_text FROM requests WHERE rowid > ? AND rowid <= ?",
                [upto, hi],
            )
            conn.execute("UPDATE fts_state SET indexed_upto = ? WHERE name = ?", [hi, FTS_NAME])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done += max(cur.rowcount, 0)
    return done


def rebuild_fts(conn: sqlite3.Connection) -> None:
    """Rebuild ``requests_fts`` from every row (repair) and move the watermark to the top."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"INSERT INTO {FTS_NAME} ({FTS_NAME}) VALUES ('rebuild')")
        conn.execute(
            "UPDATE fts_state SET indexed_upto = (SELECT coalesce(max(rowid), 0) FROM requests) WHERE name = ?",
            [FTS_NAME],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- searching ---------------------------------------------------------------------


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


def _prefilter(text: str, alias: str) -> tuple[str, list[Any]]:
    """SQL true for every row whose texts could match ``fts_query(text)`` (a superset).

    FTS5's default tokenizer (unicode61) folds case and diacritics, so a word
    of ASCII letters and digits can only match a row that holds each of its
    tokens as a substring (ASCII case folded) — unless the row has non-ASCII
    text, which is always kept for the exact check.
    """
    p, r = f"{alias}.prompt_text", f"{alias}.response_text"
    conds: list[str] = []
    params: list[Any] = []
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
    where: list[str] | tuple[str, ...] = (),
    params: list[Any] | tuple[Any, ...] = (),
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


def search_clause(db: sqlite_utils.Database | sqlite3.Connection, text: str, alias: str = "r") -> tuple[str, list[Any]]:
    """A WHERE fragment (and its parameters) for rows of ``requests {alias}`` whose
    prompt or completion text matches the words ``text``, indexed or not yet.

    Compute it when the query runs (the unindexed rows change as the gateway
    writes)::

        sql, params = search_clause(db, "llama sqlite")
        db.execute(f"SELECT ... FROM requests r WHERE {sql} ORDER BY r.started_at DESC", params)
    """
    upto = fts_watermark(db)
    tail = unindexed_matches(db, text, after=upto, alias=alias)
    sql = (
        f"({alias}.rowid IN (SELECT rowid FROM requests_fts WHERE requests_fts MATCH ? AND rowid <= ?)"
        f" OR {alias}.rowid IN (SELECT value FROM json_each(?)))"
    )
    return sql, [fts_query(text), upto, orjson.dumps(tail).decode()]
