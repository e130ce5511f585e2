"""The audit chain in SQLite: appending entries in the writer's transaction, checkpoints, retention by
segments, and reading it back for ``leash audit verify`` (:mod:`leash_cli.store.chain` does the hashing).

Every function that writes takes a connection already inside a write transaction (``BEGIN IMMEDIATE``):
the chain's head is read and extended under SQLite's write lock, so even a second writer (``leash keys
create`` while the gateway records) appends to the same head.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from leash_cli.store.backend import AuditRow, RequestRow, ViolationRow
from leash_cli.store.chain import (
    CHAINS,
    AuditKey,
    Checkpoint,
    chain_rows,
    checkpoint_mac,
    make_entries,
)
from leash_cli.store.chain_sql import ChainReader, head, oldest_segment, save_tombstone, tombstones
from leash_cli.store.dialect import SQLITE
from leash_cli.store.schema import AUDIT_COLUMNS, VIOLATION_COLUMNS, open_readonly

__all__ = [
    "write_chained",
    "record_audit",
    "write_checkpoint",
    "prune_segments",
    "SqliteChainSource",
]

_INSERT_VIOLATION_ID = "INSERT INTO violations (id, {}) VALUES (?, {})".format(
    ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS), ", ".join("?" * len(VIOLATION_COLUMNS))
)
_INSERT_AUDIT_ID = "INSERT INTO audit_log (id, {}) VALUES (?, {})".format(
    ", ".join(AUDIT_COLUMNS), ", ".join("?" * len(AUDIT_COLUMNS))
)
_INSERT_ENTRY = (
    "INSERT INTO audit_chain (seq, chain, kind, ref, created_at, row_hash, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD_AUDIT = "SELECT seq, hash FROM audit_chain WHERE chain = 'audit' ORDER BY seq DESC LIMIT 1"
_HEAD_DECISION = "SELECT seq, hash FROM audit_chain WHERE chain = 'decision' ORDER BY seq DESC LIMIT 1"


def heads(conn: sqlite3.Connection) -> tuple[dict[str, tuple[int, str]], int]:
    """Each chain's head (seq, hash) and the next free seq."""
    tombs = tombstones(conn)
    # literal chain names: the audit chain's lookup uses its partial index (schema 004)
    out = {
        chain: head(conn.execute(_HEAD_AUDIT if chain == "audit" else _HEAD_DECISION).fetchone(), tombs.get(chain))
        for chain in CHAINS
    }
    top = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_chain").fetchone()[0]
    top = max(int(top), *(t.upto_seq for t in tombs.values()), 0)
    return out, top + 1


def write_chained(
    conn: sqlite3.Connection,
    insert_request: str,
    requests: Sequence[RequestRow],
    violations: Sequence[ViolationRow],
    audits: Sequence[AuditRow],
) -> None:
    """Insert the rows and their chain entries (inside the caller's transaction).  Violation and audit rows
    get their ids here, so each entry can name its row."""
    with_ids: list[tuple[Any, ...]] = []
    a_ids: list[tuple[Any, ...]] = []
    if violations:
        vid = int(conn.execute("SELECT coalesce(max(id), 0) FROM violations").fetchone()[0])
        with_ids = [(vid + i, *v) for i, v in enumerate(violations, 1)]
        conn.executemany(_INSERT_VIOLATION_ID, with_ids)
    if requests:
        conn.executemany(insert_request, requests)
    if audits:
        aid = int(conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0])
        a_ids = [(aid + i, *a) for i, a in enumerate(audits, 1)]
        conn.executemany(_INSERT_AUDIT_ID, a_ids)
    # each exchange's findings follow it in the chain: retention keeps them together
    rows = chain_rows(requests, with_ids, a_ids)
    if rows:
        hs, seq = heads(conn)
        conn.executemany(_INSERT_ENTRY, make_entries(hs, seq, rows))


def _in_transaction(conn: sqlite3.Connection, fn: Any) -> Any:
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn()
        if own:
            conn.execute("COMMIT")
        return out
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def record_audit(conn: sqlite3.Connection, row: AuditRow) -> None:
    """Write one ``audit_log`` row (``AUDIT_COLUMNS`` order) with its chain entry (a transaction of its own
    unless the caller is in one)."""
    _in_transaction(conn, lambda: write_chained(conn, "", (), (), (row,)))


def write_checkpoint(conn: sqlite3.Connection, key: AuditKey, reason: str, now: str) -> Checkpoint:
    """Sign the heads of both chains (and the previous checkpoint) with the key."""

    def go() -> Checkpoint:
        hs, _ = heads(conn)
        row = conn.execute("SELECT mac FROM audit_checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        prev = str(row[0]) if row else ""
        mac = checkpoint_mac(key, now, reason, hs, prev)
        cur = conn.execute(
            "INSERT INTO audit_checkpoints (created_at, reason, audit_seq, audit_hash, decision_seq, decision_hash, "
            "prev_mac, key_id, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, reason, hs["audit"][0], hs["audit"][1], hs["decision"][0], hs["decision"][1], prev, key.id, mac),
        )
        return Checkpoint(
            int(cur.lastrowid or 0),
            now,
            reason,
            hs["audit"][0],
            hs["audit"][1],
            hs["decision"][0],
            hs["decision"][1],
            prev,
            key.id,
            mac,
        )

    out: Checkpoint = _in_transaction(conn, go)
    return out


def prune_segments(
    conn: sqlite3.Connection, cutoff: str, key: AuditKey | None, now: str, *, chunk: int, max_chunks: int
) -> int:
    """Retention over the decision chain: remove its oldest segment whose entries are all older than ``cutoff``
    (at most ``chunk`` entries per transaction), the rows they name, and leave a signed tombstone.  Returns how
    many ``requests`` rows were removed."""
    removed_requests = 0
    for _ in range(max_chunks):
        head_rows = conn.execute(
            "SELECT seq, hash, created_at FROM audit_chain WHERE chain = 'decision' ORDER BY seq LIMIT ?", (chunk,)
        ).fetchall()
        segment = oldest_segment(head_rows, cutoff)
        if segment is None:
            break
        upto, last_hash, n = segment

        def go(upto: int = upto, last_hash: str = last_hash, n: int = n) -> int:
            # a row written again later (a resubmitted exchange) has a younger entry: it stays
            cur = conn.execute(
                "DELETE FROM requests WHERE id IN (SELECT ref FROM audit_chain c WHERE chain = 'decision' "
                "AND kind = 'request' AND seq <= ? AND NOT EXISTS (SELECT 1 FROM audit_chain d "
                "WHERE d.kind = 'request' AND d.ref = c.ref AND d.seq > ?))",
                (upto, upto),
            )
            gone = cur.rowcount
            conn.execute(
                "DELETE FROM violations WHERE id IN (SELECT CAST(ref AS INTEGER) FROM audit_chain "
                "WHERE chain = 'decision' AND kind = 'violation' AND seq <= ?)",
                (upto,),
            )
            conn.execute("DELETE FROM audit_chain WHERE chain = 'decision' AND seq <= ?", (upto,))
            old = tombstones(conn).get("decision")
            save_tombstone(SQLITE, conn, "decision", upto, last_hash, (old.removed if old else 0) + n, key, now)
            return gone

        removed_requests += _in_transaction(conn, go)
        if n < chunk:
            break
    return removed_requests


class SqliteChainSource(ChainReader):
    """The chain of one SQLite history file, read-only (:class:`~leash_cli.store.chain.ChainSource`)."""

    dialect = SQLITE

    def __init__(self, path: Path | str) -> None:
        self.db = open_readonly(path)
        self.conn = self.db.conn
        # one snapshot for every read: rows a running gateway commits meanwhile are not half seen
        # (a row without its entry would read as inserted)
        self.conn.execute("BEGIN")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.db.close()

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        return iter(self.conn.execute(sql))
