"""The audit chain in PostgreSQL: one writer's chains, appended in the writer's transaction; checkpoints;
retention by segments; and reading every writer's chains back for ``leash audit verify`` / ``export``.

Several gateways may write to one database at once, so each keeps chains of its own
(:func:`leash_cli.store.chain.chain_names`): a writer claims a **writer id** — its host name and the first
free slot number, ``gw1.example.com-0``, ``gw1.example.com-1``… — by holding a session advisory lock on it
for as long as it writes (:class:`PgChain`).  Nobody else appends to a chain whose id is held, so the writer
keeps its heads in memory: appending costs the hashing and one ``COPY`` of the entries, with no read of the
head and no lock shared with the other writers.  A gateway that restarts on the same host takes its slot
(and its chains) back; the slot's row in ``audit_writers`` says which process holds it.

Hashing is :mod:`leash_cli.store.chain`'s, over the same canonical row form as SQLite's, so one verifier and
one export format serve both stores.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from leash_cli.store.backend import StoreError
from leash_cli.store.chain import (
    CHAINS,
    AuditKey,
    Checkpoint,
    chain_names,
    chain_rows,
    checkpoint_mac,
    make_entries,
)
from leash_cli.store.chain_sql import ChainReader, head, oldest_segment, save_tombstone, tombstones
from leash_cli.store.dialect import POSTGRES
from leash_cli.store.pg_schema import CHAIN_LOCK, WRITE_LOCK, applied, check_usable
from leash_cli.store.schema import AUDIT_COLUMNS

__all__ = ["PgChain", "PgChainSource", "prune_segments", "next_ids", "sign_idle_writers"]

_AUD_COLS = ", ".join(AUDIT_COLUMNS)
_COPY_ENTRIES = "COPY audit_chain (writer, seq, chain, kind, ref, created_at, row_hash, prev_hash, hash) FROM STDIN"
#: how many slots of one host a writer tries before giving up
MAX_SLOTS = 1000


def next_ids(cur: Any, table: str, n: int) -> list[int]:
    """``n`` new ids of ``table``'s identity column (so a row's chain entry can name it before it is copied in;
    ``COPY`` writes an identity column's given values)."""
    cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
    return [int(r[0]) for r in cur.fetchall()]


def _host() -> str:
    return (socket.gethostname() or "localhost").replace("@", "_")


class PgChain:
    """One writer's chains on one connection (an autocommit psycopg connection the writer keeps open): the
    claimed writer id, the heads of its two chains and the MAC of its last checkpoint."""

    def __init__(self, conn: Any, *, host: str | None = None, now: str = "", writer: str | None = None) -> None:
        """Claim a writer id of ``host``; or, with ``writer``, take that one (its lock already held)."""
        self.conn = conn
        self.writer = writer if writer is not None else self._claim(host or _host(), now)
        self.heads, self.next_seq = self._heads()
        row = conn.execute(
            "SELECT mac FROM audit_checkpoints WHERE writer = %s ORDER BY id DESC LIMIT 1", [self.writer]
        ).fetchone()
        self.prev_mac = str(row[0]) if row else ""

    def _claim(self, host: str, now: str) -> str:
        for n in range(MAX_SLOTS):
            writer = f"{host}-{n}"
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [CHAIN_LOCK, writer]).fetchone()
            if got[0]:
                self.conn.execute(
                    "INSERT INTO audit_writers (writer, host, pid, started_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (writer) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at",
                    [writer, host, os.getpid(), now],
                )
                return writer
        raise StoreError(f"no free audit writer id on host {host} ({MAX_SLOTS} in use)")

    def _heads(self) -> tuple[dict[str, tuple[int, str]], int]:
        conn, w = self.conn, self.writer
        names = chain_names(w)
        tombs = tombstones(conn)
        heads: dict[str, tuple[int, str]] = {}
        for chain in CHAINS:
            # the audit head by its partial index; the decision head walking back from the newest seq
            sql = (
                "SELECT seq, hash FROM audit_chain WHERE writer = %s AND kind = 'audit' ORDER BY seq DESC LIMIT 1"
                if chain == "audit"
                else "SELECT seq, hash FROM audit_chain WHERE writer = %s AND chain = %s ORDER BY seq DESC LIMIT 1"
            )
            row = conn.execute(sql, [w] if chain == "audit" else [w, names[chain]]).fetchone()
            heads[chain] = head(row, tombs.get(names[chain]))
        top = int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_chain WHERE writer = %s", [w]).fetchone()[0])
        top = max(top, *(h[0] for h in heads.values()))
        return heads, top + 1

    def append(
        self,
        cur: Any,
        requests: Sequence[Sequence[Any]],
        violations: Sequence[Sequence[Any]],
        audits: Sequence[Sequence[Any]],
    ) -> tuple[dict[str, tuple[int, str]], int]:
        """Copy the entries of a batch's rows (as stored; violation and audit rows with their ids) in, inside
        the caller's transaction; returns the new heads and next seq, for :meth:`advance` once it commits."""
        heads = dict(self.heads)
        entries = make_entries(heads, self.next_seq, chain_rows(requests, violations, audits), self.writer)
        if not entries:
            return heads, self.next_seq
        w = self.writer
        with cur.copy(_COPY_ENTRIES) as cp:
            for e in entries:
                cp.write_row((w, *e))
        return heads, entries[-1][0] + 1

    def advance(self, state: tuple[dict[str, tuple[int, str]], int]) -> None:
        self.heads, self.next_seq = state

    def checkpoint(self, key: AuditKey, reason: str, now: str) -> Checkpoint:
        """Sign this writer's heads (and its previous checkpoint)."""
        hs, prev = self.heads, self.prev_mac
        mac = checkpoint_mac(key, now, reason, hs, prev, self.writer)
        row = self.conn.execute(
            "INSERT INTO audit_checkpoints (writer, created_at, reason, audit_seq, audit_hash, decision_seq, "
            "decision_hash, prev_mac, key_id, mac) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [self.writer, now, reason, hs["audit"][0], hs["audit"][1], hs["decision"][0], hs["decision"][1], prev]
            + [key.id, mac],
        ).fetchone()
        self.prev_mac = mac
        a, d = hs["audit"], hs["decision"]
        return Checkpoint(int(row[0]), now, reason, a[0], a[1], d[0], d[1], prev, key.id, mac, self.writer)

    def record_audit(self, row: Sequence[Any]) -> None:
        """Write one ``audit_log`` row (``AUDIT_COLUMNS`` order) with its entry, inside the caller's transaction
        on this chain's connection (``leash keys create`` / ``revoke``, ``leash logs vacuum``)."""
        with self.conn.cursor() as cur:
            (aid,) = next_ids(cur, "audit_log", 1)
            cur.execute(
                f"INSERT INTO audit_log (id, {_AUD_COLS}) OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s)",
                [aid, *row],
            )
            self.advance(self.append(cur, (), (), [(aid, *row)]))

    def release(self) -> None:
        """Give the writer id back (closing the connection does too)."""
        self.conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [CHAIN_LOCK, self.writer])


def sign_idle_writers(conn: Any, key: AuditKey, now: str, own: str) -> int:
    """Sign the unsigned heads of every writer id nobody holds (reason ``adopted``): a gateway that stopped
    without its shutdown checkpoint, or ``leash keys create`` run while the gateway wrote.  A running writer
    does this at each of its own checkpoints, as SQLite's writer signs whatever was appended to its chain.
    Returns how many were signed."""
    signed = 0
    # the ids with entries after their last checkpoint (one query: the newest seq of each by its primary key);
    # a chain whose newest entry is below its last signed head was cut, and is never signed again as it is
    idle = conn.execute(
        "SELECT w.writer FROM audit_writers w WHERE w.writer <> %s AND "
        "coalesce((SELECT max(c.seq) FROM audit_chain c WHERE c.writer = w.writer), 0) > "
        "coalesce((SELECT greatest(k.audit_seq, k.decision_seq) FROM audit_checkpoints k "
        "WHERE k.writer = w.writer ORDER BY k.id DESC LIMIT 1), 0) ORDER BY w.writer",
        [own],
    ).fetchall()
    for (w,) in idle:
        if not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [CHAIN_LOCK, w]).fetchone()[0]:
            continue  # its writer runs and signs its own
        try:
            PgChain(conn, writer=w).checkpoint(key, "adopted", now)
            signed += 1
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [CHAIN_LOCK, w])
    return signed


def prune_segments(conn: Any, cutoff: str, key: AuditKey | None, now: str, *, chunk: int, max_chunks: int) -> int:
    """Retention over every writer's decision chain: remove its oldest segment whose entries are all older than
    ``cutoff`` (at most ``chunk`` entries per transaction), the rows they name, and upsert the chain's signed
    tombstone.  A request row another entry still names (written again later, by any writer) stays.  Returns
    how many ``requests`` rows were removed."""
    removed_requests = 0
    writers = [r[0] for r in conn.execute("SELECT writer FROM audit_writers ORDER BY writer").fetchall()]
    for w in writers:
        name = chain_names(w)["decision"]
        for _ in range(max_chunks):
            with conn.transaction():
                # two recorders pruning the same chain take turns
                conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CHAIN_LOCK + 1, name])
                # and wait for request upserts in flight (they hold WRITE_LOCK until they commit): a row
                # written again right now has its new entry committed, and seen below, before it is judged
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                segment = oldest_segment(
                    conn.execute(
                        "SELECT seq, hash, created_at FROM audit_chain WHERE writer = %s AND chain = %s "
                        "ORDER BY seq LIMIT %s",
                        [w, name, chunk],
                    ).fetchall(),
                    cutoff,
                )
                if segment is None:
                    break
                upto, last_hash, n = segment
                cur = conn.execute(
                    "DELETE FROM requests WHERE id IN (SELECT c.ref FROM audit_chain c WHERE c.writer = %s "
                    "AND c.chain = %s AND c.kind = 'request' AND c.seq <= %s AND NOT EXISTS (SELECT 1 FROM "
                    "audit_chain d WHERE d.kind = 'request' AND d.ref = c.ref AND (d.writer <> %s OR d.seq > %s)))",
                    [w, name, upto, w, upto],
                )
                removed_requests += max(cur.rowcount, 0)
                conn.execute(
                    "DELETE FROM violations WHERE id IN (SELECT ref::bigint FROM audit_chain WHERE writer = %s "
                    "AND chain = %s AND kind = 'violation' AND seq <= %s)",
                    [w, name, upto],
                )
                conn.execute("DELETE FROM audit_chain WHERE writer = %s AND chain = %s AND seq <= %s", [w, name, upto])
                old = conn.execute("SELECT removed FROM audit_tombstones WHERE chain = %s", [name]).fetchone()
                save_tombstone(POSTGRES, conn, name, upto, last_hash, (int(old[0]) if old else 0) + n, key, now)
            if n < chunk:
                break
    return removed_requests


class PgChainSource(ChainReader):
    """Every writer's chains of one PostgreSQL history, read in one snapshot
    (:class:`~leash_cli.store.chain.ChainSource`)."""

    ITERSIZE = 2000
    dialect = POSTGRES
    writers = True

    def __init__(self, conn: Any, where: str) -> None:
        import psycopg

        self.conn = conn
        try:
            check_usable(applied(conn), where, writing=False)
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            # one snapshot for every read: rows a running gateway commits meanwhile are not half seen
            self._tx = conn.transaction()
            self._tx.__enter__()
            conn.execute("SELECT 1")  # the snapshot is taken now, not at the first read
        except BaseException:
            conn.close()
            raise
        self._names = itertools.count()

    def close(self) -> None:
        try:
            self._tx.__exit__(None, None, None)
        finally:
            self.conn.close()

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        with self.conn.cursor(f"leash_chain_{next(self._names)}") as cur:
            cur.itersize = self.ITERSIZE
            cur.execute(sql)
            yield from cur
