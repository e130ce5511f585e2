"""Leash virtual keys: ``lk-<id>-<secret>``, one per app or team, mapped to a tenant.

A client sends its virtual key where its SDK sends a provider key; leash
takes the tenant from it and injects the provider key held on the gateway, so
apps never see real provider keys.  Only a SHA-256 hash of each key is stored
(the keys are 192-bit random, so a fast hash is enough); a key is shown once,
when it is created, and can be revoked or given an expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from leash_cli.store import StoreError, iso_utc, open_readonly, open_writable

PREFIX = "lk-"


@dataclass(frozen=True, slots=True)
class VirtualKey:
    id: str
    tenant: str
    prefix: str
    description: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    def usable(self, now_iso: str) -> str | None:
        """None when usable, else why not."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now_iso:
            return "expired"
        return None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db_path: Path, tenant: str, *, expires_in: float | None = None,
               description: str | None = None) -> tuple[str, VirtualKey]:
    """A new key (returned once, never stored) and its record."""
    key_id = secrets.token_hex(4)
    key = f"{PREFIX}{key_id}-{secrets.token_urlsafe(24)}"
    now = time.time()
    vk = VirtualKey(key_id, tenant, key[:12], description, iso_utc(now),
                    iso_utc(now + expires_in) if expires_in else None, None)
    db = open_writable(db_path)
    try:
        db.execute(
            "INSERT INTO virtual_keys (id, tenant, key_hash, prefix, description, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [vk.id, tenant, hash_key(key), vk.prefix, description, vk.created_at, vk.expires_at],
        )
        db.execute(
            "INSERT INTO audit_log (created_at, event, actor, detail) VALUES (?, ?, ?, ?)",
            [vk.created_at, "key_created", "cli", f'{{"key_id": "{vk.id}", "tenant": "{_esc(tenant)}"}}'],
        )
        db.conn.commit()
    finally:
        db.close()
    return key, vk


def revoke_key(db_path: Path, key_id: str) -> bool:
    db = open_writable(db_path)
    try:
        now = iso_utc(time.time())
        cur = db.execute("UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, key_id])
        if cur.rowcount:
            db.execute("INSERT INTO audit_log (created_at, event, actor, detail) VALUES (?, ?, ?, ?)",
                       [now, "key_revoked", "cli", f'{{"key_id": "{_esc(key_id)}"}}'])
        db.conn.commit()
        return bool(cur.rowcount)
    finally:
        db.close()


def list_keys(db_path: Path) -> list[VirtualKey]:
    if not Path(db_path).exists():
        return []
    db = open_readonly(db_path)
    try:
        if "virtual_keys" not in db.table_names():
            return []
        rows = db.execute("SELECT id, tenant, prefix, description, created_at, expires_at, revoked_at "
                          "FROM virtual_keys ORDER BY created_at").fetchall()
    finally:
        db.close()
    return [VirtualKey(*r) for r in rows]


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


class KeyRing:
    """The gateway's view of the keys: reloaded from the store at most once a second."""

    def __init__(self, db_path: Path | None, refresh: float = 1.0) -> None:
        self.db_path = db_path
        self.refresh = refresh
        self._by_hash: dict[str, VirtualKey] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()

    def _load(self) -> None:
        if self.db_path is None or not Path(self.db_path).exists():
            return
        try:
            db = open_readonly(self.db_path)
        except StoreError:
            return
        try:
            if "virtual_keys" not in db.table_names():
                return
            rows = db.execute("SELECT key_hash, id, tenant, prefix, description, created_at, expires_at, revoked_at "
                              "FROM virtual_keys").fetchall()
        finally:
            db.close()
        self._by_hash = {r[0]: VirtualKey(*r[1:]) for r in rows}

    def lookup(self, key: str) -> tuple[VirtualKey | None, str]:
        now = time.monotonic()
        if now - self._loaded > self.refresh:
            with self._lock:
                if now - self._loaded > self.refresh:
                    self._load()
                    self._loaded = now
        h = hash_key(key)
        vk = self._by_hash.get(h)  # a lookup by hash: timing reveals nothing of the key
        if vk is None:
            return None, "unknown leash key"
        why = vk.usable(iso_utc(time.time()))
        if why:
            return None, f"leash key {vk.prefix}… is {why}"
        return vk, ""
