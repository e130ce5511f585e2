"""A real PostgreSQL server for the store tests (127.0.0.1:5432, trust auth, user postgres).

The session gets a database of its own (``leash_test_<random>``, dropped at the end); each test
gets an empty schema in it (:func:`pg_url`), so tests never see each other's rows.  Without a
server (or without psycopg) these tests skip and say why; with ``LEASH_REQUIRE_POSTGRES=1``
(CI, ``.ci/run``) they fail instead.  ``$LEASH_TEST_POSTGRES`` names another server
(default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

ADMIN_URL = os.environ.get("LEASH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _unavailable(why: str) -> None:
    if os.environ.get("LEASH_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"LEASH_REQUIRE_POSTGRES=1 but {why}")
    pytest.skip(f"PostgreSQL tests skipped: {why} (set LEASH_REQUIRE_POSTGRES=1 to make this a failure)")


def _with_db(url: str, db: str, search_path: str | None = None) -> str:
    """``url`` naming database ``db``; its sessions put their tables in schema ``search_path`` and do
    not wait for each commit to reach the disk (``synchronous_commit=off``: the tests never crash the
    server, and a DDL-heavy migration per test otherwise spends most of its time in the WAL's fsync)."""
    base, _, _ = url.rpartition("/")
    out = f"{base}/{db}"
    if search_path:
        out += "?options=" + quote(f"-csearch_path={search_path} -csynchronous_commit=off", safe="")
    return out


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of this test session's own database (created here, dropped at the end)."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        _unavailable(f"no PostgreSQL server answers at {ADMIN_URL}: {str(e).strip()}")
    name = f"leash_test_{secrets.token_hex(4)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_db(ADMIN_URL, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URL whose tables live in a new, empty schema of the session's database."""
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return _with_db(pg_database, pg_database.rpartition("/")[2], schema)
