"""Which store a location names: a ``postgresql://`` URL (``storage.url``) is a PostgreSQL store
(:mod:`leash_cli.store.postgres`); anything else is the path of a SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from leash_cli.store.backend import Store
from leash_cli.store.pg_url import is_postgres_url
from leash_cli.store.sqlite import SqliteStore

__all__ = ["open_store", "label"]


def open_store(location: Path | str | Store) -> Store:
    """The store at ``location`` (a path, or a store already made, returned as it is).  Nothing is opened yet."""
    if isinstance(location, str) and is_postgres_url(location):
        from leash_cli.store.postgres import PostgresStore  # psycopg is imported only for a PostgreSQL store

        # The PostgreSQL store has no tamper-evident audit chain yet (no StoreWriter.checkpoint/audit_key chain
        # entries, no HistoryReader.replay_rows, no Store.open_chain): the recorder logs that once, and
        # `leash audit verify` / `leash policy test` say so and exit 2 (they look for the methods).
        return cast(Store, PostgresStore(location))
    if isinstance(location, (str, Path)):
        return SqliteStore(location)
    return location


def label(location: Path | str | Store, store: Store) -> Path | str:
    """How messages and logs name the store: a SQLite file's path, else the store's ``str`` (a PostgreSQL
    URL without its password)."""
    if isinstance(location, Path) or (isinstance(location, str) and not is_postgres_url(location)):
        return Path(location)
    return store.location if isinstance(store, SqliteStore) else str(store)
