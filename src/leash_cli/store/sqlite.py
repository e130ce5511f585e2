"""The SQLite store: the :class:`~leash_cli.store.backend.Store` leash uses today.

One file (``~/.leash/leash.db`` by default), one writer, many readers: the
recorder's writer owns the only write connection (:class:`SqliteWriter`);
readers open the file read-only (:class:`~leash_cli.store.queries.SqliteReader`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from leash_cli.store import keys as _keys
from leash_cli.store import retention
from leash_cli.store.backend import AuditRow, RequestRow, ViolationRow, VirtualKey
from leash_cli.store.chain import AuditKey, Checkpoint
from leash_cli.store.fts import fts_watermark, index_fts, set_fts_deferred
from leash_cli.store.queries import SqliteReader
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import AUDIT_COLUMNS, REQUEST_COLUMNS, VIOLATION_COLUMNS, open_writable
from leash_cli.store.sqlite_chain import SqliteChainSource, write_chained, write_checkpoint

__all__ = ["SqliteStore", "SqliteWriter", "INSERT_REQUEST", "INSERT_VIOLATION", "INSERT_AUDIT"]

#: a new row, or the same id again (a resubmitted exchange): update it in place, keeping its rowid
INSERT_REQUEST = "INSERT INTO requests ({cols}) VALUES ({qs}) ON CONFLICT(id) DO UPDATE SET {sets}".format(
    cols=", ".join(REQUEST_COLUMNS),
    qs=", ".join("?" * len(REQUEST_COLUMNS)),
    sets=", ".join(f"{c} = excluded.{c}" for c in REQUEST_COLUMNS[1:]),
)
INSERT_VIOLATION = "INSERT INTO violations ({}) VALUES ({})".format(
    ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS), ", ".join("?" * len(VIOLATION_COLUMNS))
)
INSERT_AUDIT = "INSERT INTO audit_log ({}) VALUES ({})".format(
    ", ".join(AUDIT_COLUMNS), ", ".join("?" * len(AUDIT_COLUMNS))
)


class SqliteWriter:
    """The recorder's write connection (:class:`~leash_cli.store.backend.StoreWriter`).

    Opening it migrates the file and sets ``fts_state.deferred``: while a
    recorder runs, new rows wait above the watermark and the recorder indexes
    them in bulk (:meth:`index_search`); :meth:`close` hands indexing back to
    the insert trigger.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        #: signs audit checkpoints and retention tombstones (set by the recorder; None: unsigned)
        self.audit_key: AuditKey | None = None
        self.db = open_writable(path)
        try:
            set_fts_deferred(self.db.conn, True)  # this recorder indexes new rows itself, in bulk
        except BaseException:
            self.db.close()
            raise

    def write_batch(
        self, requests: Sequence[RequestRow], violations: Sequence[ViolationRow], audits: Sequence[AuditRow]
    ) -> None:
        if not (requests or audits):
            return
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # the upsert costs what a plain INSERT does once the FTS trigger is gone
            # (bench/record_bench.py), and keeps a resubmitted exchange's rowid; every row gets its
            # audit-chain entry in the same transaction (store/chain.py)
            write_chained(conn, INSERT_REQUEST, requests, violations, audits)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def prune(self, cutoff: str | None, max_rows: int | None, *, chunk: int, max_chunks: int) -> int:
        return retention.prune(self.db, cutoff, max_rows, chunk=chunk, max_chunks=max_chunks, key=self.audit_key)

    def checkpoint(self, reason: str, now: float) -> Checkpoint | None:
        """Sign the heads of the audit chains (None without a key)."""
        if self.audit_key is None:
            return None
        return write_checkpoint(self.db.conn, self.audit_key, reason, iso_utc(now) or "")

    def search_backlog(self) -> int:
        conn = self.db.conn
        top = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
        return max(int(top) - fts_watermark(conn), 0)

    def index_search(self, chunk: int, max_rows: int | None = None, deadline: float | None = None) -> int:
        return index_fts(self.db.conn, chunk=chunk, max_rows=max_rows, deadline=deadline)

    def close(self) -> None:
        try:
            set_fts_deferred(self.db.conn, False)  # no recorder: the insert trigger indexes
            self.db.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass
        self.db.close()

    def abandon(self) -> None:
        """Close after a failure, touching nothing (the next attempt opens a new connection)."""
        self.db.close()


class SqliteStore:
    """One SQLite history file (:class:`~leash_cli.store.backend.Store`)."""

    transient_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    # errors that come from one row's values, not from the disk: retrying cannot help
    bad_row_errors: tuple[type[BaseException], ...] = (
        sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.IntegrityError, ValueError, TypeError,
        OverflowError,
    )

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def __repr__(self) -> str:
        return f"SqliteStore({self.location!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    def migrate(self) -> None:
        open_writable(self.path).close()

    def open_writer(self) -> SqliteWriter:
        return SqliteWriter(self.path)

    def open_reader(self) -> SqliteReader:
        return SqliteReader(self.path)

    def open_chain(self) -> SqliteChainSource:
        return SqliteChainSource(self.path)

    # -- virtual keys -------------------------------------------------------------------------
    def create_key(self, key: VirtualKey, key_hash: str) -> None:
        _keys.insert_key(self.path, key, key_hash)

    def revoke_key(self, key_id: str, now: str) -> bool:
        return _keys.revoke_key(self.path, key_id, now)

    def list_keys(self) -> list[VirtualKey]:
        return _keys.list_keys(self.path)

    def load_keys(self) -> dict[str, VirtualKey]:
        return _keys.load_keys(self.path)

    # -- maintenance ----------------------------------------------------------------------------
    def vacuum(self, actor: str | None = "cli") -> tuple[int, int]:
        return retention.vacuum(self.path, actor)

    def backup(self, dest: Path) -> int:
        return retention.backup(self.path, dest)
