"""Which store a location names: today every location is a SQLite file path.

A ``postgresql://`` URL (``storage.url``) is the next backend to land here.
"""

from __future__ import annotations

from pathlib import Path

from leash_cli.store.backend import Store
from leash_cli.store.sqlite import SqliteStore

__all__ = ["open_store"]


def open_store(location: Path | str | Store) -> Store:
    """The store at ``location`` (a path, or a store already made, returned as it is).  Nothing is opened yet."""
    if isinstance(location, (str, Path)):
        return SqliteStore(location)
    return location
