"""Retention and maintenance of the SQLite history: pruning old rows, VACUUM, backups.

``storage.retention`` (e.g. ``30d``) and ``storage.max_rows`` are applied by
the recorder's writer at most once a minute (:func:`prune`), in small chunks so
the writer stays responsive.  ``audit_log`` is never pruned.  Rows in the audit
chain (:mod:`leash_cli.store.chain`) are removed in whole segments from the
oldest end of the decision chain, leaving a signed tombstone; rows outside the
chain (written before it began, or by other tools) are removed by age.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import sqlite_utils

from leash_cli.store.backend import StoreError
from leash_cli.store.chain import AuditKey
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import open_readonly, open_writable
from leash_cli.store.sqlite_chain import prune_segments, record_audit

__all__ = ["cutoff_for", "prune", "vacuum", "backup"]


def cutoff_for(retention_s: float | None, now: float | None = None) -> str | None:
    """The stored time before which ``storage.retention`` removes rows (None: keep them all)."""
    if retention_s is None:
        return None
    return iso_utc((time.time() if now is None else now) - retention_s)


def prune(db: sqlite_utils.Database, cutoff: str | None, max_rows: int | None, *, chunk: int,
          max_chunks: int, key: AuditKey | None = None) -> int:
    """Delete ``requests`` and ``violations`` rows older than ``cutoff`` and beyond the newest
    ``max_rows`` requests: at most ``max_chunks`` statements of ``chunk`` rows per table, each its
    own short transaction.  Returns how many requests rows were deleted."""
    conn = db.conn
    pruned = 0
    if max_rows is not None:
        row = conn.execute(
            "SELECT started_at FROM requests ORDER BY started_at DESC LIMIT 1 OFFSET ?",
            (max_rows,),
        ).fetchone()
        if row is not None:
            # keep the newest max_rows: delete everything at or before the (max_rows+1)-th
            limit_cut = row[0] + "\x00"
            cutoff = max(cutoff, limit_cut) if cutoff else limit_cut
    if cutoff is None:
        return 0
    pruned += prune_segments(conn, cutoff, key, iso_utc(time.time()) or "", chunk=chunk, max_chunks=max_chunks)
    # rows the chain does not hold (older than it, or written by other tools): by age
    for table, col, kind, ref in (("requests", "started_at", "request", "t.id"),
                                  ("violations", "created_at", "violation", "CAST(t.id AS TEXT)")):
        for _ in range(max_chunks):
            cur = conn.execute(
                f"DELETE FROM {table} WHERE rowid IN "
                f"(SELECT rowid FROM {table} t WHERE {col} < ? AND NOT EXISTS "
                f"(SELECT 1 FROM audit_chain c WHERE c.kind = '{kind}' AND c.ref = {ref}) LIMIT ?)",
                (cutoff, chunk),
            )
            if table == "requests":
                pruned += cur.rowcount
            if cur.rowcount < chunk:
                break
    return pruned


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
        record_audit(db.conn, (iso_utc(time.time()), "vacuum", actor,
                               orjson.dumps({"bytes_before": before, "bytes_after": after}).decode()))
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
