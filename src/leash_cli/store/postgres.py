"""The PostgreSQL store: one history database shared by any number of gateways (``storage.url``).

``storage.url: postgresql://user@host:5432/leash`` (or ``$LEASH_DATABASE_URL``)
selects it; any libpq connection URL works (``sslmode``, ``options``…), and a
password is best left to ``PGPASSWORD`` or ``~/.pgpass`` rather than the URL.
Requires the ``postgres`` extra (``pip install 'leash-cli[postgres]'``:
``psycopg`` 3 and ``psycopg-pool``).

Same tables, values and meaning as the SQLite store (:mod:`leash_cli.store.pg_schema`).

Writing (:class:`PostgresWriter`, the recorder's one connection): a batch is
one transaction — request rows go through ``COPY`` into a temporary staging
table and then ``INSERT … SELECT … ON CONFLICT (id) DO UPDATE`` (a
resubmitted exchange replaces its row in place, keeping its ``rowid``), and
violations and audit rows are ``COPY``-ed straight in.  Several gateways may
write to one database at once: request ids are the primary key, so a row is
never stored twice and an upsert is idempotent; the request-row insert of each
batch holds a transaction-scoped advisory lock, so ``rowid`` order is commit
order and a follower (``leash logs --follow``, the TUI) that reads rows above
the last ``rowid`` it saw never skips a row another gateway committed later.
Every row also gets its audit-chain entry in the batch's transaction
(:mod:`leash_cli.store.pg_chain`): each writer keeps chains of its own under a
writer id it holds while it writes, so gateways never contend for one head.
Full-text indexing runs off the insert path (:meth:`PostgresWriter.index_search`,
``FOR UPDATE SKIP LOCKED``, so several recorders share the work).

PostgreSQL text cannot hold NUL characters: a NUL in a stored text becomes
U+FFFD (the SQLite store keeps it).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from leash_cli.store.backend import (
    AuditRow,
    RequestRow,
    StoreError,
    ViolationRow,
    VirtualKey,
)
from leash_cli.store.chain import AuditKey, Checkpoint
from leash_cli.store.pg_chain import PgChain, PgChainSource, next_ids, prune_segments, sign_idle_writers
from leash_cli.store.pg_copy import backup_to_sqlite
from leash_cli.store.pg_copy import copy_from_sqlite as _copy_from_sqlite
from leash_cli.store.pg_queries import PostgresReader
from leash_cli.store.pg_schema import (
    SEARCH_VECTOR,
    WRITE_LOCK,
    applied,
    check_usable,
    migrate,
)
from leash_cli.store.pg_url import is_postgres_url, redact_url
from leash_cli.store.pg_values import STAGE, clean_row, keep_row
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import AUDIT_COLUMNS, REQUEST_COLUMNS, VIOLATION_COLUMNS

__all__ = ["PostgresStore", "PostgresWriter", "copy_from_sqlite", "is_postgres_url", "redact_url"]

_KEY_COLUMNS = "id, tenant, prefix, description, created_at, expires_at, revoked_at"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the install
        raise StoreError(
            "storage.url names a PostgreSQL database but psycopg is not installed: pip install 'leash-cli[postgres]'"
        ) from None
    return psycopg


_REQ_COLS = ", ".join(REQUEST_COLUMNS)
_VIO_COLS = ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS)
_AUD_COLS = ", ".join(AUDIT_COLUMNS)
_UPSERT = (
    f"INSERT INTO requests ({_REQ_COLS}) SELECT {_REQ_COLS} FROM leash_stage ORDER BY ord "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in REQUEST_COLUMNS[1:])
    + ", search_vector = NULL"  # indexed again off the insert path (searches cover it meanwhile)
)


class PostgresWriter:
    """The recorder's write connection (:class:`~leash_cli.store.backend.StoreWriter`)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        #: signs audit checkpoints and retention tombstones (set by the recorder; None: unsigned)
        self.audit_key: AuditKey | None = None
        self.conn = store.connect()
        try:
            migrate(self.conn, store.where)
            self.conn.execute(STAGE)
            #: this writer's audit chains (its writer id is held while the connection lives)
            self.chain = PgChain(self.conn, now=iso_utc(time.time()) or "")
        except BaseException:
            self.conn.close()
            raise

    def write_batch(
        self, requests: Sequence[RequestRow], violations: Sequence[ViolationRow], audits: Sequence[AuditRow]
    ) -> None:
        if not (requests or violations or audits):
            return
        try:
            self._write(requests, violations, audits, keep_row)
        except _psycopg().DataError as e:
            if "NUL" not in str(e):
                raise
            self._write(requests, violations, audits, clean_row)  # rare: pay for the check only then

    def _write(
        self,
        requests: Sequence[RequestRow],
        violations: Sequence[ViolationRow],
        audits: Sequence[AuditRow],
        clean: Callable[[Sequence[Any]], Sequence[Any]],
    ) -> None:
        conn = self.conn
        # rows as stored (the chain hashes what a reader gets back); violation and audit rows with their ids
        reqs: list[Sequence[Any]] = []
        vios: list[Sequence[Any]] = []
        auds: list[Sequence[Any]] = []
        with conn.transaction(), conn.cursor() as cur:
            if requests:
                # the same id twice in a batch: one row, first place, last values (as SQLite's upsert)
                latest: dict[Any, Sequence[Any]] = {}
                for req in requests:
                    latest[req[0]] = req
                reqs = [clean(r) for r in latest.values()]
                with cur.copy(f"COPY leash_stage ({_REQ_COLS}, ord) FROM STDIN") as cp:
                    for i, staged in enumerate(reqs):
                        cp.write_row((*staged, i))
                # rowids are handed out in commit order across every writer of the database
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                cur.execute(_UPSERT)
            if violations:
                vios = [(i, *clean(v)) for i, v in zip(next_ids(cur, "violations", len(violations)), violations)]
                with cur.copy(f"COPY violations (id, {_VIO_COLS}) FROM STDIN") as cp:
                    for row in vios:
                        cp.write_row(row)
            if audits:
                auds = [(i, *clean(a)) for i, a in zip(next_ids(cur, "audit_log", len(audits)), audits)]
                with cur.copy(f"COPY audit_log (id, {_AUD_COLS}) FROM STDIN") as cp:
                    for row in auds:
                        cp.write_row(row)
            # every row's chain entry, in the same transaction (store/chain.py)
            state = self.chain.append(cur, reqs, vios, auds)
        self.chain.advance(state)

    def checkpoint(self, reason: str, now: float) -> Checkpoint | None:
        """Sign the heads of this writer's audit chains (None without a key)."""
        if self.audit_key is None:
            return None
        at = iso_utc(now) or ""
        out = self.chain.checkpoint(self.audit_key, reason, at)
        sign_idle_writers(self.conn, self.audit_key, at, self.chain.writer)  # tails nobody else will sign
        return out

    def prune(self, cutoff: str | None, max_rows: int | None, *, chunk: int, max_chunks: int) -> int:
        """Retention: chained rows go in whole segments of each writer's decision chain, leaving a signed
        tombstone (:func:`~leash_cli.store.pg_chain.prune_segments`); rows outside the chain (older than it) by
        age.  ``audit_log`` is never pruned."""
        conn = self.conn
        if max_rows is not None:
            row = conn.execute(
                "SELECT started_at FROM requests ORDER BY started_at DESC LIMIT 1 OFFSET %s", [max_rows]
            ).fetchone()
            if row is not None:
                # keep the newest max_rows: remove everything at or before the (max_rows+1)-th (times have one
                # length, so the text just after it is itself + "\x01"; PostgreSQL text holds no NUL)
                limit_cut = row[0] + "\x01"
                cutoff = max(cutoff, limit_cut) if cutoff else limit_cut
        if cutoff is None:
            return 0
        pruned = prune_segments(
            conn, cutoff, self.audit_key, iso_utc(time.time()) or "", chunk=chunk, max_chunks=max_chunks
        )
        for table, col, key, kind, ref in (
            ("requests", "started_at", "rowid", "request", "t.id"),
            ("violations", "created_at", "id", "violation", "t.id::text"),
        ):
            for _ in range(max_chunks):
                with conn.transaction():
                    cur = conn.execute(
                        f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} t WHERE {col} < %s AND NOT "
                        f"EXISTS (SELECT 1 FROM audit_chain c WHERE c.kind = '{kind}' AND c.ref = {ref}) LIMIT %s)",
                        [cutoff, chunk],
                    )
                n = max(cur.rowcount, 0)
                if table == "requests":
                    pruned += n
                if n < chunk:
                    break
        return pruned

    def search_backlog(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM requests WHERE search_vector IS NULL").fetchone()[0])

    #: rows per indexing transaction, and how long one call for a limited number of rows may take (the
    #: recorder asks for a chunk between write rounds: PostgreSQL's text parser costs ~0.2-0.5 ms a row, so
    #: a saturated gateway's rows are indexed a little at a time and writing is never held up for long)
    INDEX_STEP = 1000
    INDEX_BUDGET_S = 0.25

    def index_search(self, chunk: int, max_rows: int | None = None, deadline: float | None = None) -> int:
        done = 0
        vector = SEARCH_VECTOR.format(a="")
        if deadline is None and max_rows is not None:
            deadline = time.monotonic() + self.INDEX_BUDGET_S
        while max_rows is None or done < max_rows:
            if deadline is not None and time.monotonic() >= deadline:
                break
            n = min(chunk, self.INDEX_STEP) if max_rows is None else min(chunk, self.INDEX_STEP, max_rows - done)
            with self.conn.transaction():
                cur = self.conn.execute(
                    f"UPDATE requests SET search_vector = {vector} WHERE rowid IN (SELECT rowid FROM requests "
                    "WHERE search_vector IS NULL ORDER BY rowid LIMIT %s FOR UPDATE SKIP LOCKED)",
                    [max(n, 1)],
                )
            got = max(cur.rowcount, 0)
            done += got
            if got == 0:
                break
        return done

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class PostgresStore:
    """One PostgreSQL history database (:class:`~leash_cli.store.backend.Store`)."""

    #: every other database error (server down, restarting, failing over, the connection dropped, a
    #: permission or a table missing): the recorder keeps its rows and tries again, as for a locked SQLite file
    transient_errors: tuple[type[BaseException], ...]
    #: a value PostgreSQL refuses (out of range, a constraint): retrying cannot help, the row is dropped
    bad_row_errors: tuple[type[BaseException], ...]

    def __init__(self, url: str) -> None:
        self.location = url
        self.where = redact_url(url)
        psycopg = _psycopg()
        self.transient_errors = (psycopg.Error,)
        self.bad_row_errors = (psycopg.DataError, psycopg.IntegrityError, ValueError, TypeError, OverflowError)
        self._pool: Any = None  # for the gateway's key ring and exists(): connections kept, not made per call
        self._lock = threading.Lock()
        self._exists = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

    def __str__(self) -> str:
        return self.where

    # -- connections ---------------------------------------------------------------------------
    def connect(self) -> Any:
        """A new autocommit connection (StoreError when the server cannot be reached)."""
        psycopg = _psycopg()
        try:
            return psycopg.connect(self.location, autocommit=True, connect_timeout=10, application_name="leash")
        except psycopg.OperationalError as e:
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: {str(e).strip()}") from None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _pooled(self, timeout: float = 1.0) -> Iterator[Any]:
        """A kept connection for the calls the gateway makes while serving (the key ring reloads every
        second): no connection set-up per call, and a server that is down costs at most ``timeout``
        (StoreError), while the pool reconnects in the background."""
        psycopg = _psycopg()
        from psycopg_pool import ConnectionPool, PoolTimeout

        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.location,
                    min_size=1,
                    max_size=2,
                    open=False,
                    name="leash-store",
                    kwargs={"autocommit": True, "application_name": "leash", "connect_timeout": 10},
                )
                self._pool.open(wait=False)
                atexit.register(self._close_pool)
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as e:
            raise StoreError(f"PostgreSQL at {self.where}: {str(e).strip()}") from None

    def _close_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close(timeout=1.0)

    def exists(self) -> bool:
        """Whether the database holds a leash history.  True when the server cannot be reached, so that
        :meth:`open_reader` reports why instead of a reader saying "no history yet"."""
        if self._exists:
            return True
        try:
            with self._pooled() as conn:
                self._exists = applied(conn) is not None
        except StoreError:
            return True
        return self._exists

    def migrate(self) -> None:
        with self._connection() as conn:
            migrate(conn, self.where)

    def migrate_report(self) -> list[str]:
        """Migrate; the names of the migrations applied now (``leash db migrate``)."""
        with self._connection() as conn:
            return migrate(conn, self.where)

    def open_writer(self) -> PostgresWriter:
        return PostgresWriter(self)

    def open_chain(self) -> PgChainSource:
        """Every writer's audit chains, read in one snapshot (``leash audit verify`` / ``export``)."""
        return PgChainSource(self.connect(), self.where)

    def _record_audit(self, conn: Any, event: str, actor: str | None, detail: dict[str, Any], now: str) -> None:
        """One ``audit_log`` row with its chain entry, in the caller's transaction (a writer id of its own:
        the gateway may be writing meanwhile)."""
        PgChain(conn, now=now).record_audit((now, event, actor, orjson.dumps(detail).decode()))

    def open_reader(self) -> PostgresReader:
        with self._connection() as conn:
            check_usable(applied(conn), self.where, writing=False)
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            self.location,
            min_size=1,
            max_size=4,
            open=True,
            name="leash-reader",
            kwargs={"autocommit": True, "application_name": "leash"},
        )
        return PostgresReader(pool)

    # -- virtual keys -------------------------------------------------------------------------
    def create_key(self, key: VirtualKey, key_hash: str) -> None:
        with self._connection() as conn:
            migrate(conn, self.where)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO virtual_keys (id, tenant, key_hash, prefix, description, created_at, expires_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [key.id, key.tenant, key_hash, key.prefix, key.description, key.created_at, key.expires_at],
                )
                self._record_audit(conn, "key_created", "cli", {"key_id": key.id, "tenant": key.tenant}, key.created_at)

    def revoke_key(self, key_id: str, now: str) -> bool:
        with self._connection() as conn:
            migrate(conn, self.where)
            with conn.transaction():
                cur = conn.execute(
                    "UPDATE virtual_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL", [now, key_id]
                )
                if cur.rowcount:
                    self._record_audit(conn, "key_revoked", "cli", {"key_id": key_id}, now)
                return bool(cur.rowcount)

    def _key_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._pooled() as conn:
            names = applied(conn)
            if names is None or "002_virtual_keys" not in names:
                return []
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def list_keys(self) -> list[VirtualKey]:
        return [VirtualKey(*r) for r in self._key_rows(f"SELECT {_KEY_COLUMNS} FROM virtual_keys ORDER BY created_at")]

    def load_keys(self) -> dict[str, VirtualKey]:
        return {r[0]: VirtualKey(*r[1:]) for r in self._key_rows(f"SELECT key_hash, {_KEY_COLUMNS} FROM virtual_keys")}

    def audit_events(self) -> list[tuple[str, str, str | None, str | None]]:
        """Every ``audit_log`` row, oldest first: (created_at, event, actor, detail)."""
        with self._connection() as conn:
            if applied(conn) is None:
                return []
            return [tuple(r) for r in conn.execute(f"SELECT {_AUD_COLS} FROM audit_log ORDER BY id").fetchall()]

    # -- maintenance ----------------------------------------------------------------------------
    _SIZE = (
        "SELECT coalesce(sum(pg_total_relation_size(c)), 0)::bigint FROM unnest("
        "ARRAY['requests', 'violations', 'audit_log', 'virtual_keys']) AS t(c) WHERE to_regclass(c) IS NOT NULL"
    )

    def vacuum(self, actor: str | None = "cli") -> tuple[int, int]:
        """``VACUUM (ANALYZE)`` the tables (a plain VACUUM: space is reused, not handed back; no lock that
        stops the gateways' writes) and note it in ``audit_log``."""
        with self._connection() as conn:
            check_usable(applied(conn), self.where, writing=False)
            before = int(conn.execute(self._SIZE).fetchone()[0])
            conn.execute("VACUUM (ANALYZE) requests, violations, audit_log, virtual_keys")
            after = int(conn.execute(self._SIZE).fetchone()[0])
            with conn.transaction():
                self._record_audit(
                    conn, "vacuum", actor, {"bytes_before": before, "bytes_after": after}, iso_utc(time.time()) or ""
                )
        return before, after

    def backup(self, dest: Path) -> int:
        """A consistent copy of the history as a SQLite history file at ``dest`` (one snapshot of the database:
        readable by ``leash logs --db``, ``datasette``, or ``leash db migrate-sqlite`` back into PostgreSQL)."""
        return backup_to_sqlite(self, Path(dest))


def copy_from_sqlite(store: PostgresStore, path: Path, *, chunk: int = 2000) -> dict[str, int]:
    """``leash db migrate-sqlite``: see :func:`leash_cli.store.pg_copy.copy_from_sqlite`."""
    return _copy_from_sqlite(store, path, chunk=chunk)
