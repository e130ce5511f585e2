"""The SQLite schema: tables, indexes and the ordered migrations, and opening the file.

Readers open the file with :func:`open_readonly` (``mode=ro``) and migrate
nothing; the writer applies the ordered migrations below on open
(:func:`open_writable`).  A file that is not SQLite, or that a newer leash
wrote, raises :class:`~leash_cli.store.backend.StoreError` with a message fit
for users.  The file is in WAL mode with ``synchronous=NORMAL``: readers (the
CLI, the TUI, ``datasette leash.db``) never block the writer, and a committed
batch survives a crash of leash (a power cut may lose the last commits).  The
WAL is checkpointed every 100 pages (SQLite's default is 1,000): ten times as
often, each a tenth as long — a 4 MB checkpoint every second under load was
what the slowest 1 % of requests waited behind on a 2-core machine.

Tables (names and columns are a public interface; times are UTC ISO 8601 with
milliseconds and a ``Z``, e.g. ``2025-05-01T12:00:00.123Z``, so they sort as
text):

``requests`` — one row per exchange

======================== ======= ==============================================
column                   type    meaning
======================== ======= ==============================================
id                       TEXT PK the request id (``x-leash-request-id``)
started_at               TEXT    when leash received the request
ended_at                 TEXT    when the response to the client ended
tenant                   TEXT    tenant name (``default`` when none)
key_id                   TEXT    leash virtual key id, when one was used
provider                 TEXT    configured provider name (``openai``, ``groq``…)
kind                     TEXT    provider kind: openai | anthropic | google | mock
model                    TEXT    model asked for (else the one that answered)
method                   TEXT    HTTP method
path                     TEXT    path below the provider (``chat/completions``)
query                    TEXT    query string, credentials removed
status                   INTEGER HTTP status returned to the client
stream                   INTEGER 1 for a streamed response, else 0
outcome                  TEXT    ok | upstream_error | blocked | error | client_cancelled
verdict                  TEXT    allowed | blocked | redacted | shadow_blocked
latency_ms               REAL    total time in leash, request in to response out
upstream_ms              REAL    time spent waiting on the provider
overhead_ms              REAL    latency_ms - upstream_ms: leash's own cost
ttft_ms                  REAL    time to the first streamed token
input_tokens             INTEGER all prompt tokens, cached and cache writes included
output_tokens            INTEGER all output tokens, reasoning included
cached_input_tokens      INTEGER prompt tokens read from a cache
cache_write_tokens       INTEGER prompt tokens written to a cache
reasoning_tokens         INTEGER reasoning/thinking part of output_tokens
cost_usd                 REAL    exact cost in USD; NULL = unpriced (never 0)
client                   TEXT    client address
error                    TEXT    error message, when the exchange failed
cost_detail              TEXT    JSON: per-part USD, per-million prices, source
module_timings           TEXT    JSON: module name -> milliseconds
request_headers          TEXT    JSON: request headers, credentials removed
response_headers         TEXT    JSON: response headers, credentials removed
request_body_truncated   INTEGER 1 when request_body was cut at storage.max_body_bytes
response_body_truncated  INTEGER 1 when response_body was cut at storage.max_body_bytes
request_body             TEXT    body as sent upstream (see storage.bodies)
response_body            TEXT    body (or stream) as the client received it
response_text            TEXT    the completion text, reassembled from streams
prompt_text              TEXT    the prompt as plain text (messages, system, contents, input)
stream_events            TEXT    JSON list of raw SSE events (only with bodies: full)
======================== ======= ==============================================

``storage.bodies``: ``full`` stores everything; ``redacted`` stores bodies and
texts as they went upstream (after transforms) with credential-looking strings
and the values a module listed in ``annotations["redactions"]`` masked, and no
``stream_events``; ``none`` stores no bodies, texts or events (token counts,
cost, headers and timings are kept).  Bodies, texts and the event list are each
cut at ``storage.max_body_bytes``.

``violations`` — one row per policy finding: ``id`` INTEGER PK, ``request_id``
(→ requests.id), ``created_at`` (the request's ``started_at``), ``module``,
``type``, ``action`` (block | redact | log | shadow_block | alert),
``severity``, ``detail``, ``start``/``end`` (character offsets; quote ``"end"``
in SQL), ``field``, ``score`` REAL.

``audit_log`` — gateway events: ``id`` INTEGER PK, ``created_at``, ``event``
(``config_loaded``, ``config_reloaded``, ``config_rejected``, ``blocked``,
``key_created``, ``key_revoked``, ``vacuum``…), ``actor``, ``detail`` (JSON).
Never pruned.

``audit_chain``, ``audit_checkpoints``, ``audit_tombstones``, ``audit_chain_start``
(schema 004) — the tamper-evident chain over ``audit_log``, ``requests`` and
``violations``: see :mod:`leash_cli.store.chain` and ``docs/audit.md``.

``requests_fts`` — FTS5 index over ``prompt_text`` and ``response_text``
(external content on ``requests.rowid``).  Since schema 003 it is filled off
the insert path: ``fts_state.indexed_upto`` is a rowid watermark — rows at or
below it are indexed, rows above it not yet.  The recorder indexes in bulk
when idle (or when far behind); with no recorder running the insert trigger
indexes as before.  A search must cover the rows above the watermark too:
``store.fts.search_clause`` / ``store.fts.unindexed_matches`` do.

Retention: ``storage.retention`` (e.g. ``30d``) and ``storage.max_rows`` are
applied by the writer thread at most once a minute, in small chunks
(:mod:`leash_cli.store.retention`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from leash_cli.paths import secure_db_files, secure_db_path
from leash_cli.store.backend import StoreError

__all__ = [
    "migrations",
    "KNOWN_MIGRATIONS",
    "SCHEMA_VERSION",
    "REQUEST_COLUMNS",
    "VIOLATION_COLUMNS",
    "AUDIT_COLUMNS",
    "FTS_NAME",
    "open_readonly",
    "open_writable",
]

migrations = Migrations("leash")


@migrations(name="001_initial")
def _m001_initial(db: sqlite_utils.Database) -> None:
    # small columns first, large text last: scans for lists and stats then
    # never read overflow pages
    db.execute(
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            tenant TEXT,
            key_id TEXT,
            provider TEXT,
            kind TEXT,
            model TEXT,
            method TEXT,
            path TEXT,
            query TEXT,
            status INTEGER,
            stream INTEGER NOT NULL DEFAULT 0,
            outcome TEXT,
            verdict TEXT,
            latency_ms REAL,
            upstream_ms REAL,
            overhead_ms REAL,
            ttft_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_input_tokens INTEGER,
            cache_write_tokens INTEGER,
            reasoning_tokens INTEGER,
            cost_usd REAL,
            client TEXT,
            error TEXT,
            cost_detail TEXT,
            module_timings TEXT,
            request_headers TEXT,
            response_headers TEXT,
            request_body_truncated INTEGER NOT NULL DEFAULT 0,
            response_body_truncated INTEGER NOT NULL DEFAULT 0,
            request_body TEXT,
            response_body TEXT,
            response_text TEXT,
            prompt_text TEXT,
            stream_events TEXT
        )
        """
    )
    # newest-first listing and time-window stats (covering the stats columns)
    db.execute(
        "CREATE INDEX requests_started_at ON requests (started_at, provider, model, tenant, outcome, "
        "status, latency_ms, overhead_ms, input_tokens, output_tokens, cost_usd)"
    )
    for col in ("provider", "model", "tenant", "outcome", "status"):
        db.execute(f"CREATE INDEX requests_{col} ON requests ({col}, started_at)")
    db.execute(
        """
        CREATE TABLE violations (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            module TEXT,
            type TEXT,
            action TEXT,
            severity TEXT,
            detail TEXT,
            start INTEGER,
            "end" INTEGER,
            field TEXT,
            score REAL
        )
        """
    )
    db.execute("CREATE INDEX violations_request_id ON violations (request_id)")
    db.execute("CREATE INDEX violations_created_at ON violations (created_at)")
    db.execute(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            event TEXT NOT NULL,
            actor TEXT,
            detail TEXT
        )
        """
    )
    db.execute("CREATE INDEX audit_log_created_at ON audit_log (created_at)")
    db.execute("CREATE VIRTUAL TABLE requests_fts USING fts5 (prompt_text, response_text, content=requests)")
    db.execute(
        """
        CREATE TRIGGER requests_ai AFTER INSERT ON requests BEGIN
          INSERT INTO requests_fts (rowid, prompt_text, response_text)
          VALUES (new.rowid, new.prompt_text, new.response_text);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER requests_ad AFTER DELETE ON requests BEGIN
          INSERT INTO requests_fts (requests_fts, rowid, prompt_text, response_text)
          VALUES ('delete', old.rowid, old.prompt_text, old.response_text);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER requests_au AFTER UPDATE OF prompt_text, response_text ON requests BEGIN
          INSERT INTO requests_fts (requests_fts, rowid, prompt_text, response_text)
          VALUES ('delete', old.rowid, old.prompt_text, old.response_text);
          INSERT INTO requests_fts (rowid, prompt_text, response_text)
          VALUES (new.rowid, new.prompt_text, new.response_text);
        END
        """
    )


@migrations(name="002_virtual_keys")
def _m002_virtual_keys(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE virtual_keys (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            description TEXT,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_virtual_keys_tenant ON virtual_keys (tenant)")


#: the row of ``fts_state`` that describes ``requests_fts``
FTS_NAME = "requests_fts"
_FTS_UPTO = f"(SELECT indexed_upto FROM fts_state WHERE name = '{FTS_NAME}')"


@migrations(name="003_deferred_fts")
def _m003_deferred_fts(db: sqlite_utils.Database) -> None:
    """Full-text indexing leaves the insert path; the three (col, started_at) indexes
    that ``leash logs`` does not need are dropped.

    ``fts_state.indexed_upto`` is a rowid watermark: every ``requests`` row with
    ``rowid <= indexed_upto`` is in ``requests_fts`` and no row above it is.
    While ``deferred`` is 1 (a leash recorder is running) new rows are left
    above the watermark and the recorder indexes them in bulk when it is idle;
    with ``deferred`` 0 (no gateway running: scripts, tests, other tools) the
    insert trigger indexes each new row, with any unindexed rows before it, as
    before.  Deletes and updates touch the index only for rows below the
    watermark (deleting a never-indexed row from an external-content FTS5 table
    corrupts it), and a delete of the newest rows pulls the watermark down so a
    reused rowid can never land below it.
    """
    for name in ("requests_ai", "requests_ad", "requests_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    for col in ("provider", "outcome", "status"):
        db.execute(f"DROP INDEX IF EXISTS requests_{col}")
    db.execute(
        """
        CREATE TABLE fts_state (
            name TEXT PRIMARY KEY,
            indexed_upto INTEGER NOT NULL,
            deferred INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    # the old triggers indexed every row there is
    db.execute(
        "INSERT INTO fts_state (name, indexed_upto, deferred) "
        "VALUES (?, (SELECT coalesce(max(rowid), 0) FROM requests), 0)",
        [FTS_NAME],
    )
    db.execute(
        f"""
        CREATE TRIGGER requests_ai AFTER INSERT ON requests
        WHEN (SELECT deferred FROM fts_state WHERE name = '{FTS_NAME}') = 0 BEGIN
          INSERT INTO requests_fts (rowid, prompt_text, response_text)
            SELECT rowid, prompt_text, response_text FROM requests
            WHERE rowid > {_FTS_UPTO} OR rowid = new.rowid;
          UPDATE fts_state SET indexed_upto = max(indexed_upto, (SELECT max(rowid) FROM requests))
            WHERE name = '{FTS_NAME}';
        END
        """
    )
    db.execute(
        f"""
        CREATE TRIGGER requests_ad AFTER DELETE ON requests BEGIN
          INSERT INTO requests_fts (requests_fts, rowid, prompt_text, response_text)
            SELECT 'delete', old.rowid, old.prompt_text, old.response_text
            WHERE old.rowid <= {_FTS_UPTO};
          UPDATE fts_state SET indexed_upto = (SELECT coalesce(max(rowid), 0) FROM requests)
            WHERE name = '{FTS_NAME}' AND indexed_upto > (SELECT coalesce(max(rowid), 0) FROM requests);
        END
        """
    )
    db.execute(
        f"""
        CREATE TRIGGER requests_au AFTER UPDATE OF prompt_text, response_text ON requests
        WHEN old.rowid <= {_FTS_UPTO} BEGIN
          INSERT INTO requests_fts (requests_fts, rowid, prompt_text, response_text)
          VALUES ('delete', old.rowid, old.prompt_text, old.response_text);
          INSERT INTO requests_fts (rowid, prompt_text, response_text)
          VALUES (new.rowid, new.prompt_text, new.response_text);
        END
        """
    )


@migrations(name="004_audit_chain")
def _m004_audit_chain(db: sqlite_utils.Database) -> None:
    """The tamper-evident audit chain (:mod:`leash_cli.store.chain`): one entry per chained row, signed
    checkpoints, retention tombstones, and where the chain began (rows already there are not chained)."""
    db.execute(
        """
        CREATE TABLE audit_chain (
            seq INTEGER PRIMARY KEY,
            chain TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            created_at TEXT NOT NULL,
            row_hash TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX audit_chain_ref ON audit_chain (kind, ref)")
    # the audit chain's head: a partial index (audit rows are few); the decision chain's head is found walking
    # back from the newest seq.  An index of (chain, seq) over every entry doubled the chain's write cost.
    db.execute("CREATE INDEX audit_chain_audit ON audit_chain (seq) WHERE chain = 'audit'")
    db.execute(
        """
        CREATE TABLE audit_checkpoints (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            audit_seq INTEGER NOT NULL,
            audit_hash TEXT NOT NULL,
            decision_seq INTEGER NOT NULL,
            decision_hash TEXT NOT NULL,
            prev_mac TEXT NOT NULL,
            key_id TEXT NOT NULL,
            mac TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE audit_tombstones (
            chain TEXT PRIMARY KEY,
            upto_seq INTEGER NOT NULL,
            last_hash TEXT NOT NULL,
            removed INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            key_id TEXT,
            mac TEXT
        )
        """
    )
    db.execute("CREATE TABLE audit_chain_start (kind TEXT PRIMARY KEY, upto INTEGER NOT NULL)")
    for kind, table in (("request", "requests"), ("violation", "violations"), ("audit", "audit_log")):
        db.execute(
            f"INSERT INTO audit_chain_start (kind, upto) VALUES (?, (SELECT coalesce(max(rowid), 0) FROM {table}))",
            [kind],
        )


# Add new migrations above this line; never edit one that has been released.
KNOWN_MIGRATIONS = tuple(m.name for m in migrations._migrations)
SCHEMA_VERSION = len(KNOWN_MIGRATIONS)

REQUEST_COLUMNS = (
    "id",
    "started_at",
    "ended_at",
    "tenant",
    "key_id",
    "provider",
    "kind",
    "model",
    "method",
    "path",
    "query",
    "status",
    "stream",
    "outcome",
    "verdict",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "client",
    "error",
    "cost_detail",
    "module_timings",
    "request_headers",
    "response_headers",
    "request_body_truncated",
    "response_body_truncated",
    "request_body",
    "response_body",
    "response_text",
    "prompt_text",
    "stream_events",
)
VIOLATION_COLUMNS = (
    "request_id",
    "created_at",
    "module",
    "type",
    "action",
    "severity",
    "detail",
    "start",
    "end",
    "field",
    "score",
)
AUDIT_COLUMNS = ("created_at", "event", "actor", "detail")


# -- opening -------------------------------------------------------------------


def read_only_reason(path: Path | str) -> str | None:
    """Why the database file or its folder cannot be written (read-only file system, immutable,
    permissions), or None when both can.  SQLite reports these as "unable to open database file"
    (a WAL database needs its -shm and -wal files) or "attempt to write a readonly database"."""
    import tempfile

    p = Path(path)
    try:
        with open(p, "r+b"):
            pass
    except FileNotFoundError:
        pass
    except OSError as e:
        return f"the file cannot be opened for writing: {e.strerror or e}"
    try:
        with tempfile.TemporaryFile(dir=p.parent):
            pass
    except OSError as e:
        return f"its folder {p.parent} cannot be written: {e.strerror or e}"
    return None


def _describe_path(path: Path | str) -> str:
    return str(path)


def _check_readable(db: sqlite_utils.Database, path: Path | str) -> None:
    """Raise StoreError for a file that is not SQLite or that a newer leash wrote."""
    try:
        user_version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        why = read_only_reason(path) if isinstance(e, sqlite3.OperationalError) else None
        if why is not None:  # transient (the writer retries; storage.on_error decides meanwhile), not corrupt
            raise sqlite3.OperationalError(
                f"database {_describe_path(path)} is read-only ({why}): leash cannot write the history "
                "there; make it writable (the writer retries) or point storage.path elsewhere"
            ) from None
        raise StoreError(
            f"database {_describe_path(path)} cannot be read: {e} "
            "(not a SQLite file, or it is corrupt; move it away and leash will start a new one)"
        ) from None
    newer = user_version > SCHEMA_VERSION
    if not newer:
        try:
            applied = {m.name for m in migrations.applied(db)}
        except sqlite3.DatabaseError as e:
            raise StoreError(f"database {_describe_path(path)} cannot be read: {e}") from None
        newer = bool(applied - set(KNOWN_MIGRATIONS))
    if newer:
        raise StoreError(
            f"database {_describe_path(path)} was written by a newer leash "
            f"(schema {user_version}, this leash knows {SCHEMA_VERSION}); upgrade leash to read it"
        )


def _connect(path: Path, *, timeout: float = 5.0) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
    return conn


def open_writable(path: Path | str, *, timeout: float = 5.0) -> sqlite_utils.Database:
    """Open (creating it and its folder if needed) and migrate the database for writing.

    Raises StoreError for a corrupt or newer database; ``sqlite3.Error`` and
    ``OSError`` for everything transient (read-only file, disk full, locked).
    """
    path = Path(path)
    secure_db_path(path)  # a private folder, the file 0600 (stored prompts are private)
    conn = _connect(path, timeout=timeout)
    try:
        db = sqlite_utils.Database(conn, execute_plugins=False)
        _check_readable(db, path)
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            db.execute("PRAGMA journal_mode=wal")
        secure_db_files(path)  # the -wal and -shm files exist now
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        db.execute("PRAGMA wal_autocheckpoint=100")  # short checkpoints (see the module docstring)
        if migrations.pending(db):
            migrations.apply(db)
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return db
    except BaseException:
        conn.close()
        raise


def open_readonly(path: Path | str) -> sqlite_utils.Database:
    """A read-only connection (``mode=ro``) for readers; migrates nothing.

    Raises StoreError when the file is missing, is not a leash database, or
    was written by a newer leash.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no history yet at {path}")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5.0)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open database {path}: {e}") from None
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    try:
        _check_readable(db, path)
        if not db["requests"].exists():
            raise StoreError(f"{path} is a SQLite file but not a leash history database")
        if migrations.pending(db):
            raise StoreError(f"database {path} was written by an older leash; start `leash up` once to upgrade it")
    except BaseException:
        conn.close()
        raise
    return db
