"""The PostgreSQL schema: the same tables, columns and meaning as the SQLite one, and its migrations.

Every table and column of :mod:`leash_cli.store.schema` exists here with the
same name and the same values (times are the same UTC ISO 8601 text, with
``COLLATE "C"`` so they and the ids compare byte by byte as in SQLite; REAL is
``double precision``; INTEGER counters are ``bigint``).  Differences, all
internal:

- ``requests.rowid`` is an explicit column (SQLite's implicit rowid): an
  identity that orders rows as they were first written (``leash logs
  --follow`` and the TUI follow it);
- full-text search is PostgreSQL's own: ``requests.search_vector`` (a
  ``tsvector`` of ``prompt_text`` and ``response_text``, ``simple``
  configuration) with a GIN index instead of the FTS5 table ``requests_fts``
  and ``fts_state``.  A NULL ``search_vector`` means "not indexed yet": the
  recorder fills it in bulk off the insert path, and searches compute it on the
  fly for those rows (:mod:`leash_cli.store.pg_queries`);
- ``violations.id`` and ``audit_log.id`` are identities.

Migrations are ordered, named, and never edited once released; the applied
ones are rows of ``schema_migrations`` (name, applied_at).  :func:`migrate`
runs them under an advisory lock, so several gateways starting at once apply
each exactly once.
"""

from __future__ import annotations

import time
from typing import Any

from leash_cli.store.backend import StoreError
from leash_cli.store.rows import iso_utc

__all__ = [
    "KNOWN_MIGRATIONS",
    "CHAIN_LOCK",
    "MIGRATE_LOCK",
    "MIGRATIONS",
    "SEARCH_VECTOR",
    "WORD_BREAKS",
    "WRITE_LOCK",
    "applied",
    "check_usable",
    "migrate",
]

#: advisory lock keys (pg_advisory_xact_lock): schema changes, and request-row inserts (see postgres.py)
MIGRATE_LOCK = 0x6C65617368_01  # "leash" 01
WRITE_LOCK = 0x6C65617368_02
#: the class of the two-key advisory locks of the audit chain: (class, hashtext(writer id)) is held by the
#: writer using that id for as long as it writes (a session lock); (class + 1, hashtext(chain)) by retention
CHAIN_LOCK = 0x6C650003

#: punctuation and spaces become word breaks before PostgreSQL's parser sees a text, as in SQLite's FTS5
#: (``unicode61``): ``ana@example.com`` is the words ana, example, com, found by any of them
WORD_BREAKS = "'[[:space:][:punct:]]+'"
#: the tsvector of a row's texts (``simple``: lower-cased words, no stemming, no stop words); each text is
#: cut at 500,000 characters for the index, so a row never exceeds the tsvector size limit (1 MB)
SEARCH_VECTOR = (
    f"(to_tsvector('simple'::regconfig, regexp_replace(left(coalesce({{a}}prompt_text, ''), 500000), {WORD_BREAKS}, "
    f"' ', 'g')) || to_tsvector('simple'::regconfig, regexp_replace(left(coalesce({{a}}response_text, ''), 500000), "
    f"{WORD_BREAKS}, ' ', 'g')))"
)

_M001 = [
    """
    CREATE TABLE requests (
        id text COLLATE "C" PRIMARY KEY,
        rowid bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        started_at text COLLATE "C" NOT NULL,
        ended_at text COLLATE "C",
        tenant text,
        key_id text,
        provider text,
        kind text,
        model text,
        method text,
        path text,
        query text,
        status integer,
        stream integer NOT NULL DEFAULT 0,
        outcome text,
        verdict text,
        latency_ms double precision,
        upstream_ms double precision,
        overhead_ms double precision,
        ttft_ms double precision,
        input_tokens bigint,
        output_tokens bigint,
        cached_input_tokens bigint,
        cache_write_tokens bigint,
        reasoning_tokens bigint,
        cost_usd double precision,
        client text,
        error text,
        cost_detail text,
        module_timings text,
        request_headers text,
        response_headers text,
        request_body_truncated integer NOT NULL DEFAULT 0,
        response_body_truncated integer NOT NULL DEFAULT 0,
        request_body text,
        response_body text,
        response_text text,
        prompt_text text,
        stream_events text
    )
    """,
    "CREATE INDEX requests_started_at ON requests (started_at)",
    "CREATE INDEX requests_model ON requests (model, started_at)",
    "CREATE INDEX requests_tenant ON requests (tenant, started_at)",
    """
    CREATE TABLE violations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        request_id text COLLATE "C" NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        module text,
        type text,
        action text,
        severity text,
        detail text,
        start bigint,
        "end" bigint,
        field text,
        score double precision
    )
    """,
    "CREATE INDEX violations_request_id ON violations (request_id)",
    "CREATE INDEX violations_created_at ON violations (created_at)",
    """
    CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        created_at text COLLATE "C" NOT NULL,
        event text NOT NULL,
        actor text,
        detail text
    )
    """,
    "CREATE INDEX audit_log_created_at ON audit_log (created_at)",
]

_M002 = [
    """
    CREATE TABLE virtual_keys (
        id text COLLATE "C" PRIMARY KEY,
        tenant text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        description text,
        created_at text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C",
        revoked_at text COLLATE "C"
    )
    """,
    "CREATE INDEX idx_virtual_keys_tenant ON virtual_keys (tenant)",
]

_M003 = [
    # NULL: not indexed yet (the recorder indexes in bulk, off the insert path)
    "ALTER TABLE requests ADD COLUMN search_vector tsvector",
    "CREATE INDEX requests_search ON requests USING gin (search_vector)",
    "CREATE INDEX requests_unindexed ON requests (rowid) WHERE search_vector IS NULL",
]

#: the tamper-evident audit chain (leash_cli.store.chain, pg_chain): as SQLite's 004, with a writer per chain —
#: every gateway writing to the database keeps chains of its own (``audit@<writer>``, ``decision@<writer>``),
#: numbered by its own ``seq`` and signed by its own checkpoints, so no two writers contend for one head
_M004 = [
    """
    CREATE TABLE audit_chain (
        writer text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        chain text COLLATE "C" NOT NULL,
        kind text COLLATE "C" NOT NULL,
        ref text COLLATE "C" NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        row_hash text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (writer, seq)
    )
    """,
    "CREATE INDEX audit_chain_ref ON audit_chain (kind, ref)",
    # the audit chain's head (read once when a writer opens): audit rows are few
    "CREATE INDEX audit_chain_audit ON audit_chain (writer, seq) WHERE kind = 'audit'",
    """
    CREATE TABLE audit_checkpoints (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        writer text COLLATE "C" NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        reason text NOT NULL,
        audit_seq bigint NOT NULL,
        audit_hash text NOT NULL,
        decision_seq bigint NOT NULL,
        decision_hash text NOT NULL,
        prev_mac text NOT NULL,
        key_id text NOT NULL,
        mac text NOT NULL
    )
    """,
    "CREATE INDEX audit_checkpoints_writer ON audit_checkpoints (writer, id)",
    """
    CREATE TABLE audit_tombstones (
        chain text COLLATE "C" PRIMARY KEY,
        upto_seq bigint NOT NULL,
        last_hash text NOT NULL,
        removed bigint NOT NULL,
        updated_at text COLLATE "C" NOT NULL,
        key_id text,
        mac text
    )
    """,
    'CREATE TABLE audit_chain_start (kind text COLLATE "C" PRIMARY KEY, upto bigint NOT NULL)',
    "INSERT INTO audit_chain_start (kind, upto) VALUES "
    "('request', (SELECT coalesce(max(rowid), 0) FROM requests)), "
    "('violation', (SELECT coalesce(max(id), 0) FROM violations)), "
    "('audit', (SELECT coalesce(max(id), 0) FROM audit_log))",
    # who writes: one row per writer id (host and slot), claimed with a session advisory lock while it writes
    """
    CREATE TABLE audit_writers (
        writer text COLLATE "C" PRIMARY KEY,
        host text NOT NULL,
        pid bigint,
        started_at text COLLATE "C" NOT NULL
    )
    """,
]

#: (name, statements) in order; the names match the SQLite migrations they mirror
MIGRATIONS: tuple[tuple[str, list[str]], ...] = (
    ("001_initial", _M001),
    ("002_virtual_keys", _M002),
    ("003_deferred_fts", _M003),
    ("004_audit_chain", _M004),
)
# Add new migrations above this line; never edit one that has been released.
KNOWN_MIGRATIONS = tuple(name for name, _ in MIGRATIONS)

_CREATE_MIGRATIONS = (
    'CREATE TABLE IF NOT EXISTS schema_migrations (name text COLLATE "C" PRIMARY KEY, applied_at text NOT NULL)'
)


def applied(conn: Any) -> set[str] | None:
    """The names of the applied migrations, or None when the database has no leash schema."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return None
    return {r[0] for r in conn.execute("SELECT name FROM schema_migrations").fetchall()}


def check_usable(names: set[str] | None, where: str, *, writing: bool) -> None:
    """StoreError for a database written by a newer leash; for readers also for a missing or older schema."""
    if names is None:
        if not writing:
            raise StoreError(f"no history yet at {where}")
        return
    newer = names - set(KNOWN_MIGRATIONS)
    if newer:
        raise StoreError(
            f"database {where} was written by a newer leash (migrations {', '.join(sorted(newer))} unknown to this "
            "leash); upgrade leash to use it"
        )
    if not writing and set(KNOWN_MIGRATIONS) - names:
        raise StoreError(f"database {where} was written by an older leash; run `leash db migrate` to upgrade it")


def migrate(conn: Any, where: str) -> list[str]:
    """Apply the pending migrations (in one transaction, under an advisory lock); returns their names.

    ``conn`` is a psycopg connection in autocommit mode.
    """
    done: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
        conn.execute(_CREATE_MIGRATIONS)
        names = applied(conn)
        check_usable(names, where, writing=True)
        have = names or set()
        for name, statements in MIGRATIONS:
            if name in have:
                continue
            for sql in statements:
                conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)", [name, iso_utc(time.time())]
            )
            done.append(name)
    return done
