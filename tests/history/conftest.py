"""Fixtures of the history tests: a real PostgreSQL server for the PostgreSQL store (pg_support.py)."""

from .pg_support import pg_database, pg_url  # noqa: F401  (pytest finds fixtures by name here)
