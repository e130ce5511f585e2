"""Telling a PostgreSQL URL from a SQLite path, and showing one without its password (no psycopg needed)."""

from __future__ import annotations

import re

__all__ = ["is_postgres_url", "redact_url"]

_URL = re.compile(r"^postgres(?:ql)?://", re.IGNORECASE)


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and bool(_URL.match(location))


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)
