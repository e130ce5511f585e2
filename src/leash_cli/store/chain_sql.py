"""The audit chain's storage steps both backends share, written once over a :class:`SqlDialect`.

:mod:`leash_cli.store.sqlite_chain` (one writer, heads read under SQLite's write lock) and
:mod:`leash_cli.store.pg_chain` (many writers, each with chains of its own) differ in how they find and
lock a chain; what a head is, which segment retention removes, the tombstone it leaves and how the chain
is read back for ``leash audit verify`` are the same, and live here.  All SQL is parameterised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from leash_cli.store.chain import GENESIS, AuditKey, Checkpoint, Entry, Tombstone, tombstone_mac
from leash_cli.store.dialect import SqlDialect
from leash_cli.store.schema import AUDIT_COLUMNS, REQUEST_COLUMNS, VIOLATION_COLUMNS

__all__ = ["TOMBSTONES", "tombstones", "head", "oldest_segment", "save_tombstone", "ChainReader"]

TOMBSTONES = "SELECT chain, upto_seq, last_hash, removed, updated_at, key_id, mac FROM audit_tombstones"
_REQUEST_COLUMNS = ", ".join(REQUEST_COLUMNS)
_VIOLATION_COLUMNS = ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS)
_AUDIT_COLUMNS = ", ".join(AUDIT_COLUMNS)
_CHECKPOINT_COLUMNS = (
    "id, created_at, reason, audit_seq, audit_hash, decision_seq, decision_hash, prev_mac, key_id, mac"
)


def tombstones(conn: Any) -> dict[str, Tombstone]:
    """Every chain's tombstone by chain name."""
    return {r[0]: Tombstone(*r) for r in conn.execute(TOMBSTONES).fetchall()}


def head(newest: Any, tomb: Tombstone | None) -> tuple[int, str]:
    """A chain's head (seq, hash): its newest entry (a ``(seq, hash)`` row or None); without one, where
    retention cut it; else the start."""
    if newest is not None:
        return int(newest[0]), str(newest[1])
    if tomb is not None:
        return tomb.upto_seq, tomb.last_hash
    return 0, GENESIS


def oldest_segment(entries: Iterable[tuple[Any, Any, str]], cutoff: str) -> tuple[int, str, int] | None:
    """Of a chain's oldest ``(seq, hash, created_at)`` entries, the run older than ``cutoff``: the seq and hash
    of its last entry and its length; None when the oldest is not older."""
    last: tuple[int, str] | None = None
    n = 0
    for seq, h, created in entries:
        if created >= cutoff:
            break
        last = (int(seq), str(h))
        n += 1
    return None if last is None else (*last, n)


def save_tombstone(
    d: SqlDialect, conn: Any, chain: str, upto: int, last_hash: str, removed: int, key: AuditKey | None, now: str
) -> None:
    """Insert or replace ``chain``'s tombstone: retention removed ``removed`` entries in all, up to ``upto``
    (whose hash was ``last_hash``); signed with ``key`` when there is one.  In the caller's transaction."""
    mac = tombstone_mac(key, chain, upto, last_hash, removed) if key else None
    values = ", ".join([d.ph] * 7)
    conn.execute(
        f"INSERT INTO audit_tombstones (chain, upto_seq, last_hash, removed, updated_at, key_id, mac) "
        f"VALUES ({values}) ON CONFLICT (chain) DO UPDATE SET upto_seq = excluded.upto_seq, "
        "last_hash = excluded.last_hash, removed = excluded.removed, updated_at = excluded.updated_at, "
        "key_id = excluded.key_id, mac = excluded.mac",
        (chain, upto, last_hash, removed, now, key.id if key else None, mac),
    )


class ChainReader:
    """Reading a chain back (:class:`~leash_cli.store.chain.ChainSource`) in one snapshot: a backend sets
    :attr:`dialect` and :attr:`conn` and gives :meth:`_stream`."""

    dialect: SqlDialect
    conn: Any
    #: whether entries and checkpoints name their writer (several writers' chains: PostgreSQL)
    writers: bool = False

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError

    def entries(self) -> Iterator[Entry]:
        w, by = (", writer", "writer, ") if self.writers else ("", "")
        for r in self._stream(
            f"SELECT seq, chain, kind, ref, created_at, row_hash, prev_hash, hash{w} FROM audit_chain ORDER BY {by}seq"
        ):
            yield Entry(int(r[0]), *r[1:])

    def rows(self, kind: str) -> Iterator[tuple[int, str, str, tuple[Any, ...]]]:
        """Each stored row of ``kind``: (rowid, ref, created_at, the row as its entry hashes it)."""
        if kind == "request":
            for r in self._stream(f"SELECT rowid, {_REQUEST_COLUMNS} FROM requests"):
                yield int(r[0]), str(r[1]), r[2], tuple(r[1:])
        elif kind == "violation":
            for r in self._stream(f"SELECT id, {_VIOLATION_COLUMNS} FROM violations"):
                yield int(r[0]), str(r[0]), r[2], tuple(r)
        else:
            for r in self._stream(f"SELECT id, {_AUDIT_COLUMNS} FROM audit_log"):
                yield int(r[0]), str(r[0]), r[1], tuple(r)

    def pre_chain(self, kind: str) -> int:
        row = self.conn.execute(f"SELECT upto FROM audit_chain_start WHERE kind = {self.dialect.ph}", [kind]).fetchone()
        return int(row[0]) if row else 0

    def checkpoints(self) -> list[Checkpoint]:
        w, by = (", writer", "writer, ") if self.writers else ("", "")
        sql = f"SELECT {_CHECKPOINT_COLUMNS}{w} FROM audit_checkpoints ORDER BY {by}id"
        return [Checkpoint(*r) for r in self.conn.execute(sql).fetchall()]

    def tombstones(self) -> dict[str, Tombstone]:
        return tombstones(self.conn)
