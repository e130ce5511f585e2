"""Where the ``response-cache`` module keeps answers: SQLite (one host), Redis (shared), or memory.

An entry is one upstream answer that passed the policy unchanged: its status, content type
and body (a JSON body, or the SSE stream as sent).  Entries are found by a key the module
computes (a SHA-256 over the tenant and the canonical request), expire after a TTL, and are
bounded in count and bytes; the oldest go first.

Reads are point lookups by key (microseconds in SQLite's page cache); writes happen after the
client has its answer, in a thread (SQLite) or over the network (Redis), never on the
request's way in.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["CacheStore", "Entry", "MemoryCache", "RedisCache", "SqliteCache"]


@dataclass(slots=True, frozen=True)
class Entry:
    status: int
    content_type: str
    body: bytes
    created: float  # time.time() when stored


class CacheStore(Protocol):
    async def get(self, key: str) -> Entry | None: ...

    async def put(self, key: str, tenant: str, entry: Entry, ttl: float) -> None: ...

    def close(self) -> None: ...


class MemoryCache:
    """In this process only (lost on restart): tests, and one-off runs."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> Entry | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= time.time():
            self._drop(key)
            return None
        return item[0]

    async def put(self, key: str, tenant: str, entry: Entry, ttl: float) -> None:
        if key in self._items:
            self._drop(key)
        self._items[key] = (entry, time.time() + ttl)
        self._bytes += len(entry.body)
        while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
            self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        entry, _ = self._items.pop(key)
        self._bytes -= len(entry.body)

    def close(self) -> None:
        self._items.clear()
        self._bytes = 0


_SCHEMA = """
create table if not exists entries (
    key text primary key,
    tenant text not null,
    created real not null,
    expires real not null,
    size integer not null,
    status integer not null,
    content_type text not null,
    body blob not null
);
create index if not exists entries_created on entries (created);
create index if not exists entries_expires on entries (expires);
"""


class SqliteCache:
    """A SQLite file of its own (not the history database: no writer contention), WAL mode.

    Lookups use a connection of the event loop's thread; writes and eviction run in a worker
    thread on a second connection.
    """

    def __init__(self, path: Path, max_entries: int, max_bytes: int) -> None:
        self.path = path
        self.max_entries, self.max_bytes = max_entries, max_bytes
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)  # answers may hold personal data: owner only
            os.close(fd)
        self._write_lock = threading.Lock()
        w = self._writer = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        w.execute("pragma journal_mode=wal")
        w.execute("pragma synchronous=normal")
        w.executescript(_SCHEMA)
        self._local = threading.local()  # a reading connection per thread (each event loop's own)
        self._readers: list[sqlite3.Connection] = []

    def _read_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=0.05, check_same_thread=False
            )
            conn.execute("pragma query_only=1")
            with self._write_lock:
                self._readers.append(conn)
        return conn

    async def get(self, key: str) -> Entry | None:
        row = (
            self._read_conn()
            .execute(
                "select status, content_type, body, created from entries where key = ? and expires > ?",
                (key, time.time()),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Entry(row[0], row[1], bytes(row[2]), row[3])

    async def put(self, key: str, tenant: str, entry: Entry, ttl: float) -> None:
        await asyncio.to_thread(self._put, key, tenant, entry, ttl)

    def _put(self, key: str, tenant: str, entry: Entry, ttl: float) -> None:
        now = time.time()
        with self._write_lock:
            w = self._writer
            w.execute("begin immediate")
            try:
                w.execute(
                    "insert or replace into entries (key, tenant, created, expires, size, status, content_type, body)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, tenant, now, now + ttl, len(entry.body), entry.status, entry.content_type, entry.body),
                )
                w.execute("delete from entries where expires <= ?", (now,))
                count, total = w.execute("select count(*), coalesce(sum(size), 0) from entries").fetchone()
                if count > self.max_entries or total > self.max_bytes:
                    self._evict(w, count, total)
                w.execute("commit")
            except BaseException:
                w.execute("rollback")
                raise

    def _evict(self, w: sqlite3.Connection, count: int, total: int) -> None:
        """Drop the oldest entries until both limits hold."""
        doomed: list[str] = []
        for key, size in w.execute("select key, size from entries order by created"):
            if count <= self.max_entries and total <= self.max_bytes:
                break
            doomed.append(key)
            count -= 1
            total -= size
        w.executemany("delete from entries where key = ?", [(k,) for k in doomed])

    def stats(self) -> tuple[int, int]:
        """(entries, bytes) stored now."""
        with self._write_lock:
            n, b = self._writer.execute("select count(*), coalesce(sum(size), 0) from entries").fetchone()
        return int(n), int(b)

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
            readers, self._readers = self._readers, []
        for r in readers:
            try:
                r.close()
            except sqlite3.ProgrammingError:  # made in another thread: it goes with that thread
                pass


_HEAD = struct.Struct("!HdH")  # status, created, length of the content type


class RedisCache:
    """Entries as Redis strings with an expiry, shared by every gateway and module host.

    Redis bounds them by its own memory policy (``maxmemory`` with an LRU or TTL eviction
    policy is the usual setting); each entry still obeys ``max_entry_bytes`` and the TTL.
    """

    def __init__(self, redis: Any, prefix: str = "leash:cache:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> Entry | None:
        raw = await self.redis.get(self.prefix + key)
        if raw is None:
            return None
        status, created, n = _HEAD.unpack_from(raw)
        start = _HEAD.size
        ctype = bytes(raw[start : start + n]).decode()
        return Entry(status, ctype, bytes(raw[start + n :]), created)

    async def put(self, key: str, tenant: str, entry: Entry, ttl: float) -> None:
        ctype = entry.content_type.encode()
        value = _HEAD.pack(entry.status, time.time(), len(ctype)) + ctype + entry.body
        await self.redis.set(self.prefix + key, value, px=max(int(ttl * 1000), 1))

    def close(self) -> None:
        pass  # the connection belongs to the gateway's state
