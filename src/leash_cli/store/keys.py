"""Virtual keys in the SQLite history database (table ``virtual_keys``, migration 002).

Only a SHA-256 hash of each key is stored (see :mod:`leash_cli.keys`, which
makes the keys and holds the gateway's key ring).  Creating and revoking a
key writes an ``audit_log`` row in the same transaction.
"""

from __future__ import annotations

from pathlib import Path

from leash_cli.store.backend import VirtualKey
from leash_cli.store.schema import open_readonly, open_writable
from leash_cli.store.sqlite_chain import record_audit

__all__ = ["insert_key", "revoke_key", "list_keys", "load_keys"]

_KEY_COLUMNS = "id, tenant, prefix, description, created_at, expires_at, revoked_at"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def insert_key(db_path: Path, vk: VirtualKey, key_hash: str) -> None:
    """Store a new key and its ``key_created`` audit row."""
    db = open_writable(db_path)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO virtual_keys (id, tenant, key_hash, prefix, description, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [vk.id, vk.tenant, key_hash, vk.prefix, vk.description, vk.created_at, vk.expires_at],
        )
        record_audit(db.conn, (vk.created_at, "key_created", "cli",
                               f'{{"key_id": "{vk.id}", "tenant": "{_esc(vk.tenant)}"}}'))
        db.conn.execute("COMMIT")
    finally:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        db.close()


def revoke_key(db_path: Path, key_id: str, now: str) -> bool:
    """Revoke a usable key (and write a ``key_revoked`` audit row); False when there is none."""
    db = open_writable(db_path)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        cur = db.execute("UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, key_id])
        if cur.rowcount:
            record_audit(db.conn, (now, "key_revoked", "cli", f'{{"key_id": "{_esc(key_id)}"}}'))
        db.conn.execute("COMMIT")
        return bool(cur.rowcount)
    finally:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        db.close()


def list_keys(db_path: Path) -> list[VirtualKey]:
    """Every key, oldest first (none when there is no history yet)."""
    if not Path(db_path).exists():
        return []
    db = open_readonly(db_path)
    try:
        if "virtual_keys" not in db.table_names():
            return []
        rows = db.execute(f"SELECT {_KEY_COLUMNS} FROM virtual_keys ORDER BY created_at").fetchall()
    finally:
        db.close()
    return [VirtualKey(*r) for r in rows]


def load_keys(db_path: Path) -> dict[str, VirtualKey]:
    """Every key by its hash, for the gateway's key ring.  Raises StoreError for an unusable file."""
    if not Path(db_path).exists():
        return {}
    db = open_readonly(db_path)
    try:
        if "virtual_keys" not in db.table_names():
            return {}
        rows = db.execute(f"SELECT key_hash, {_KEY_COLUMNS} FROM virtual_keys").fetchall()
    finally:
        db.close()
    return {r[0]: VirtualKey(*r[1:]) for r in rows}
