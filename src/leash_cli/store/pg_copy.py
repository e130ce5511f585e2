"""Copying histories between SQLite and PostgreSQL.

- :func:`copy_from_sqlite` (``leash db migrate-sqlite PATH``): an existing
  SQLite history into PostgreSQL, in ``rowid`` order (so ``leash logs`` and the
  TUI list it as before), chunk by chunk, each chunk one transaction.  It is
  idempotent: a request whose id is already in PostgreSQL is left as it is
  (with its violations), audit rows already there are not added again, and
  virtual keys already there are kept — running it twice, or again after an
  interruption, copies each record exactly once.
- :func:`backup_to_sqlite` (``leash backup`` on a PostgreSQL store): one
  consistent snapshot (``REPEATABLE READ``) of the PostgreSQL history written
  as a new SQLite history file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import orjson

from leash_cli.store.backend import StoreError
from leash_cli.store.pg_chain import PgChain, next_ids
from leash_cli.store.pg_schema import WRITE_LOCK, migrate
from leash_cli.store.pg_values import STAGE, clean_row
from leash_cli.store.rows import iso_utc
from leash_cli.store.schema import (
    AUDIT_COLUMNS,
    REQUEST_COLUMNS,
    VIOLATION_COLUMNS,
    open_readonly,
    open_writable,
)


class PostgresTarget(Protocol):
    """What the copiers need of a :class:`~leash_cli.store.postgres.PostgresStore`."""

    where: str

    def connect(self) -> Any: ...


__all__ = ["backup_to_sqlite", "copy_from_sqlite"]

_REQ_COLS = ", ".join(REQUEST_COLUMNS)
_VIO_COLS = ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS)
_AUD_COLS = ", ".join(AUDIT_COLUMNS)
_KEY_COLS = "id, tenant, key_hash, prefix, description, created_at, expires_at, revoked_at"


def copy_from_sqlite(store: PostgresTarget, path: Path, *, chunk: int = 2000) -> dict[str, int]:
    """Copy the SQLite history at ``path`` into ``store``; returns counts of what was copied and skipped."""
    src = open_readonly(path)  # StoreError: missing, not a leash history, older or newer leash
    counts = {"requests": 0, "requests_skipped": 0, "violations": 0, "audit_log": 0, "virtual_keys": 0}
    conn = store.connect()
    try:
        migrate(conn, store.where)
        conn.execute(STAGE)
        # the copied rows are chained as they arrive (a writer id of the copy's own): verification covers them
        # from now on (the SQLite file's own chain proves what came before: verify it first)
        chain = PgChain(conn, now=iso_utc(time.time()) or "")
        cur = src.conn.execute(f"SELECT {_REQ_COLS} FROM requests ORDER BY rowid")
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                break
            with conn.transaction(), conn.cursor() as pg:
                cleaned = [clean_row(row) for row in rows]
                with pg.copy(f"COPY leash_stage ({_REQ_COLS}, ord) FROM STDIN") as cp:
                    for i, row in enumerate(cleaned):
                        cp.write_row((*row, i))
                pg.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                pg.execute(
                    f"INSERT INTO requests ({_REQ_COLS}) SELECT {_REQ_COLS} FROM leash_stage ORDER BY ord "
                    "ON CONFLICT (id) DO NOTHING RETURNING id"
                )
                new_ids = [r[0] for r in pg.fetchall()]
                counts["requests"] += len(new_ids)
                counts["requests_skipped"] += len(rows) - len(new_ids)
                vios: list[Any] = []
                if new_ids:  # the violations of the requests copied now (never twice)
                    vrows = src.conn.execute(
                        f"SELECT {_VIO_COLS} FROM violations WHERE request_id IN (SELECT value FROM json_each(?)) "
                        "ORDER BY id",
                        [orjson.dumps(new_ids).decode()],
                    ).fetchall()
                    if vrows:
                        vios = [(i, *clean_row(v)) for i, v in zip(next_ids(pg, "violations", len(vrows)), vrows)]
                        with pg.copy(f"COPY violations (id, {_VIO_COLS}) FROM STDIN") as cp:
                            for v in vios:
                                cp.write_row(v)
                        counts["violations"] += len(vios)
                fresh = set(new_ids)
                state = chain.append(pg, [r for r in cleaned if r[0] in fresh], vios, ())
            chain.advance(state)
        audits = src.conn.execute(f"SELECT {_AUD_COLS} FROM audit_log ORDER BY id").fetchall()
        with conn.transaction(), conn.cursor() as pg:
            pg.execute(
                "CREATE TEMP TABLE leash_audit_stage ON COMMIT DROP AS "
                f"SELECT {_AUD_COLS}, 0::integer AS ord FROM audit_log WITH NO DATA"
            )
            with pg.copy(f"COPY leash_audit_stage ({_AUD_COLS}, ord) FROM STDIN") as cp:
                for i, a in enumerate(audits):
                    cp.write_row((*clean_row(a), i))
            pg.execute(
                f"INSERT INTO audit_log ({_AUD_COLS}) SELECT {_AUD_COLS} FROM leash_audit_stage s WHERE NOT EXISTS "
                "(SELECT 1 FROM audit_log a WHERE a.created_at = s.created_at AND a.event = s.event "
                "AND a.actor IS NOT DISTINCT FROM s.actor AND a.detail IS NOT DISTINCT FROM s.detail) ORDER BY s.ord "
                f"RETURNING id, {_AUD_COLS}"
            )
            copied = sorted(pg.fetchall())
            counts["audit_log"] = len(copied)
            state = chain.append(pg, (), (), copied)
        chain.advance(state)
        if "virtual_keys" in src.table_names():
            keys = src.conn.execute(f"SELECT {_KEY_COLS} FROM virtual_keys ORDER BY created_at").fetchall()
            with conn.transaction(), conn.cursor() as pg:
                for k in keys:
                    pg.execute(
                        f"INSERT INTO virtual_keys ({_KEY_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        list(k),
                    )
                    counts["virtual_keys"] += max(pg.rowcount, 0)
    finally:
        conn.close()
        src.close()
    return counts


def backup_to_sqlite(store: PostgresTarget, dest: Path) -> int:
    """Write one consistent snapshot of ``store`` as a new SQLite history at ``dest``; returns its size."""
    import psycopg
    from psycopg.rows import tuple_row

    from leash_cli.store.sqlite import INSERT_AUDIT, INSERT_REQUEST, INSERT_VIOLATION

    if dest.exists():
        raise StoreError(f"{dest} already exists; choose a new file")
    conn = store.connect()
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = open_writable(dest)
        try:
            with conn.transaction():
                names = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
                if names is None:
                    raise StoreError(f"no history yet at {store.where}")

                def copy(sql: str, insert: str, name: str) -> None:
                    with conn.cursor(name, row_factory=tuple_row) as cur:
                        cur.itersize = 2000
                        cur.execute(sql)
                        batch: list[Any] = []
                        for row in cur:
                            batch.append(row)
                            if len(batch) >= 2000:
                                out.conn.executemany(insert, batch)
                                batch.clear()
                        if batch:
                            out.conn.executemany(insert, batch)

                out.conn.execute("BEGIN")
                copy(f"SELECT {_REQ_COLS} FROM requests ORDER BY rowid", INSERT_REQUEST, "leash_b1")
                copy(f"SELECT {_VIO_COLS} FROM violations ORDER BY id", INSERT_VIOLATION, "leash_b2")
                copy(f"SELECT {_AUD_COLS} FROM audit_log ORDER BY id", INSERT_AUDIT, "leash_b3")
                copy(
                    f"SELECT {_KEY_COLS} FROM virtual_keys ORDER BY created_at",
                    f"INSERT INTO virtual_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    "leash_b4",
                )
                out.conn.execute("COMMIT")
        except BaseException:
            out.close()
            dest.unlink(missing_ok=True)
            raise
        out.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        out.close()
    finally:
        conn.close()
    return dest.stat().st_size
