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
from pathlib import Path

from leash_cli.store.backend import Store, StoreError, VirtualKey
from leash_cli.store.factory import open_store
from leash_cli.store.rows import iso_utc

__all__ = ["PREFIX", "VirtualKey", "hash_key", "create_key", "revoke_key", "list_keys", "KeyRing"]

PREFIX = "lk-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    db_path: Path | str | Store, tenant: str, *, expires_in: float | None = None, description: str | None = None
) -> tuple[str, VirtualKey]:
    """A new key (returned once, never stored) and its record."""
    key_id = secrets.token_hex(4)
    key = f"{PREFIX}{key_id}-{secrets.token_urlsafe(24)}"
    now = time.time()
    created = iso_utc(now)
    assert created is not None
    vk = VirtualKey(
        key_id, tenant, key[:12], description, created, iso_utc(now + expires_in) if expires_in else None, None
    )
    open_store(db_path).create_key(vk, hash_key(key))
    return key, vk


def revoke_key(db_path: Path | str | Store, key_id: str) -> bool:
    now = iso_utc(time.time())
    assert now is not None
    return open_store(db_path).revoke_key(key_id, now)


def list_keys(db_path: Path | str | Store) -> list[VirtualKey]:
    return open_store(db_path).list_keys()


class KeyRing:
    """The gateway's view of the keys: reloaded from the store at most once a second."""

    def __init__(self, db_path: Path | Store | None, refresh: float = 1.0) -> None:
        self.db_path = db_path
        self.store: Store | None = open_store(db_path) if db_path is not None else None
        self.refresh = refresh
        self._by_hash: dict[str, VirtualKey] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()

    def _load(self) -> None:
        if self.store is None or not self.store.exists():
            return
        try:
            self._by_hash = self.store.load_keys()
        except StoreError:
            return

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
        why = vk.usable(iso_utc(time.time()) or "")
        if why:
            return None, f"leash key {vk.prefix}… is {why}"
        return vk, ""
