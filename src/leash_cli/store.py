"""The history: every exchange in one SQLite file (``~/.leash/leash.db``).

One writer, many readers.  The proxy hands each finished exchange to
:class:`Recorder` (``submit`` never blocks and never raises); a single thread
owns the write connection and inserts batches in one transaction every
``storage.flush_interval_ms`` (default 5 ms) or every ``storage.batch_size``
rows (default 500), whichever comes first.  A SIGKILL therefore loses at most
the exchanges of the last ≤ 5 ms (or ≤ 500 rows); a clean ``close()`` loses
nothing.  In the writer process (``writer.py``) the same class commits every
``storage.commit_interval_ms`` (default 50 ms) instead: the rows it holds do not
die with the gateway.  The file is in WAL mode with ``synchronous=NORMAL``: readers (the CLI,
the TUI, ``datasette leash.db``) never block the writer, and a committed batch
survives a crash of leash (a power cut may lose the last commits).  The WAL is
checkpointed every 100 pages (SQLite's default is 1,000): ten times as often,
each a tenth as long — a 4 MB checkpoint every second under load was what the
slowest 1 % of requests waited behind on a 2-core machine.

Readers open the file with :func:`open_readonly` (``mode=ro``) and migrate
nothing; the writer applies the ordered migrations below on open.  A file that
is not SQLite, or that a newer leash wrote, raises :class:`StoreError` with a
message fit for users.

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

``requests_fts`` — FTS5 index over ``prompt_text`` and ``response_text``
(external content on ``requests.rowid``).  Since schema 003 it is filled off
the insert path: ``fts_state.indexed_upto`` is a rowid watermark — rows at or
below it are indexed, rows above it not yet.  The recorder indexes in bulk
when idle (or when far behind); with no recorder running the insert trigger
indexes as before.  A search must cover the rows above the watermark too:
``history.search_clause`` / ``history.unindexed_matches`` do.

Retention: ``storage.retention`` (e.g. ``30d``) and ``storage.max_rows`` are
applied by the writer thread at most once a minute, in small chunks.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import sqlite_utils
from sqlite_utils.migrations import Migrations

from leash_cli.config import StorageConfig, parse_duration
from leash_cli.exchange import CREDENTIAL_HEADERS, CREDENTIAL_PARAMS, Exchange

__all__ = [
    "Recorder",
    "StoreError",
    "open_readonly",
    "open_writable",
    "REQUEST_COLUMNS",
    "SCHEMA_VERSION",
    "iso_utc",
]

log = logging.getLogger("leash.store")


class StoreError(Exception):
    """The history database cannot be used (corrupt, not SQLite, newer schema)."""


# -- schema --------------------------------------------------------------------

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
    db.execute(
        "CREATE VIRTUAL TABLE requests_fts USING fts5 (prompt_text, response_text, content=requests)"
    )
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

#: a new row, or the same id again (a resubmitted exchange): update it in place, keeping its rowid
_INSERT_REQUEST = "INSERT INTO requests ({cols}) VALUES ({qs}) ON CONFLICT(id) DO UPDATE SET {sets}".format(
    cols=", ".join(REQUEST_COLUMNS),
    qs=", ".join("?" * len(REQUEST_COLUMNS)),
    sets=", ".join(f"{c} = excluded.{c}" for c in REQUEST_COLUMNS[1:]),
)
_INSERT_VIOLATION = "INSERT INTO violations ({}) VALUES ({})".format(
    ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS), ", ".join("?" * len(VIOLATION_COLUMNS))
)
_INSERT_AUDIT = "INSERT INTO audit_log ({}) VALUES ({})".format(
    ", ".join(AUDIT_COLUMNS), ", ".join("?" * len(AUDIT_COLUMNS))
)


# -- opening -------------------------------------------------------------------


def _describe_path(path: Path | str) -> str:
    return str(path)


def _check_readable(db: sqlite_utils.Database, path: Path | str) -> None:
    """Raise StoreError for a file that is not SQLite or that a newer leash wrote."""
    try:
        user_version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, timeout=timeout)
    try:
        db = sqlite_utils.Database(conn, execute_plugins=False)
        _check_readable(db, path)
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            db.execute("PRAGMA journal_mode=wal")
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
            raise StoreError(
                f"database {path} was written by an older leash; start `leash up` once to upgrade it"
            )
    except BaseException:
        conn.close()
        raise
    return db


# -- the full-text index ---------------------------------------------------------
#
# ``requests_fts`` is filled off the insert path (migration 003): rows with
# ``rowid <= fts_watermark()`` are indexed, rows above it are not yet.  Readers
# that search must cover both: ``history.search_clause`` does.


def fts_watermark(conn: Any) -> int:
    """The highest rowid of ``requests`` known to be in ``requests_fts``."""
    row = conn.execute("SELECT indexed_upto FROM fts_state WHERE name = ?", [FTS_NAME]).fetchone()
    return int(row[0]) if row else 0


def unindexed_rows(conn: Any) -> int:
    """How many ``requests`` rows are not in ``requests_fts`` yet."""
    return conn.execute("SELECT count(*) FROM requests WHERE rowid > ?", [fts_watermark(conn)]).fetchone()[0]


def set_fts_deferred(conn: Any, deferred: bool) -> None:
    """1: new rows wait for :func:`index_fts` (the recorder); 0: the insert trigger indexes them."""
    conn.execute("UPDATE fts_state SET deferred = ? WHERE name = ?", [1 if deferred else 0, FTS_NAME])


def index_fts(conn: sqlite3.Connection, *, chunk: int = 5000, max_rows: int | None = None,
              deadline: float | None = None) -> int:
    """Add the rows above the watermark to ``requests_fts``, ``chunk`` rowids per
    transaction, oldest first; stop after ``max_rows`` rowids or at ``deadline``
    (``time.monotonic()``).  Returns how many rows were indexed.  Bulk indexing
    costs a fifth of what a per-row trigger does.
    """
    done = 0
    while max_rows is None or done < max_rows:
        if deadline is not None and time.monotonic() >= deadline:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            upto = fts_watermark(conn)
            top = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
            if top <= upto:
                conn.execute("COMMIT")
                break
            n = chunk if max_rows is None else min(chunk, max_rows - done)
            hi = min(upto + max(n, 1), top)
            cur = conn.execute(
                "INSERT INTO requests_fts (rowid, prompt_text, response_text) "
                "SELECT rowid, prompt_text, response_text FROM requests WHERE rowid > ? AND rowid <= ?",
                [upto, hi],
            )
            conn.execute("UPDATE fts_state SET indexed_upto = ? WHERE name = ?", [hi, FTS_NAME])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done += max(cur.rowcount, 0)
    return done


def rebuild_fts(conn: sqlite3.Connection) -> None:
    """Rebuild ``requests_fts`` from every row (repair) and move the watermark to the top."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"INSERT INTO {FTS_NAME} ({FTS_NAME}) VALUES ('rebuild')")
        conn.execute(
            "UPDATE fts_state SET indexed_upto = (SELECT coalesce(max(rowid), 0) FROM requests) WHERE name = ?",
            [FTS_NAME],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- rows ----------------------------------------------------------------------


_ISO_SECONDS: dict[int, str] = {}  # whole second -> "2025-05-01T12:00:00" (a few recent ones)


def iso_utc(ts: float | None) -> str | None:
    """Epoch seconds -> ``2025-05-01T12:00:00.123Z``."""
    if ts is None:
        return None
    secs = int(ts)
    ms = int(round((ts - secs) * 1000))
    if ms >= 1000:
        secs, ms = secs + 1, ms - 1000
    head = _ISO_SECONDS.get(secs)
    if head is None:
        if len(_ISO_SECONDS) >= 64:
            _ISO_SECONDS.clear()
        head = _ISO_SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{head}.{ms:03d}Z"


#: credential-looking strings, masked in ``redacted`` mode and in header values
CREDENTIAL_PATTERN = re.compile(
    r"""
      sk-(?:ant-|proj-|svcacct-|or-)?[A-Za-z0-9_\-]{16,}       # OpenAI, Anthropic, OpenRouter
    | lk-[0-9a-f]{8}-[A-Za-z0-9_\-]{16,}                        # leash virtual keys
    | AIza[0-9A-Za-z_\-]{30,}                                   # Google API key
    | gh[pousr]_[A-Za-z0-9]{30,}                                # GitHub
    | xox[abprs]-[A-Za-z0-9\-]{10,}                             # Slack
    | (?:AKIA|ASIA)[0-9A-Z]{16}                                 # AWS access key id
    | gsk_[A-Za-z0-9]{20,}                                      # Groq
    | eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}   # JWT
    | (?i:bearer)\s+[A-Za-z0-9._~+/=\-]{12,}
    | -----BEGIN[A-Z ]*PRIVATE\ KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE\ KEY-----
    """,
    re.X,
)
MASK = "[REDACTED]"
_SECRET_HEADER = re.compile(
    r"(authorization|api[-_]?key|secret|password|passwd|cookie|session|access[-_]?token|auth[-_]?token|(^|[-_])token$|x-.*-key$)",
    re.I,
)


def mask_credentials(text: str) -> str:
    return CREDENTIAL_PATTERN.sub(MASK, text)


_DROP = object()
_HEADER_CACHE: dict[tuple, Any] = {}  # (name, value) -> value to store, or _DROP


def _clean_header(k: str, v: Any) -> Any:
    if k.lower() in CREDENTIAL_HEADERS or _SECRET_HEADER.search(k):
        return _DROP
    v = str(v)
    return CREDENTIAL_PATTERN.sub(MASK, v) if len(v) >= 12 else v


def clean_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """``strip_credentials`` plus a defensive second pass (names and values)."""
    out: dict[str, str] = {}
    if not headers:
        return out
    cache = _HEADER_CACHE
    for k, v in headers.items():
        # the same few headers come with every request: remember short pairs
        key = (k, v) if type(v) is str and len(v) <= 256 else None
        c = cache.get(key) if key is not None else None
        if c is None:
            c = _clean_header(k, v)
            if key is not None:
                if len(cache) >= 4096:
                    cache.clear()
                cache[key] = c
        if c is not _DROP:
            out[k] = c
    return out


def clean_query(query: str | None) -> str | None:
    if not query:
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True)
    except ValueError:
        return mask_credentials(query)
    kept = [(k, mask_credentials(v)) for k, v in pairs if k.lower() not in CREDENTIAL_PARAMS]
    return urlencode(kept) or None


def _decode(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", errors="replace")


def _cut_bytes(b: bytes | None, limit: int) -> tuple[str | None, int]:
    if b is None:
        return None, 0
    if isinstance(b, str):
        b = b.encode("utf-8", "replace")
    elif isinstance(b, (bytearray, memoryview)):
        b = bytes(b)
    elif not isinstance(b, bytes):  # never lose the row over an odd body
        return None, 0
    if len(b) > limit:
        return b[:limit].decode("utf-8", errors="ignore"), 1
    return _decode(b), 0


def _cut_text(s: str | None, limit: int) -> str | None:
    if s is None or len(s) <= limit // 4:  # fast path: cannot exceed limit bytes
        return s
    b = s.encode("utf-8")
    if len(b) <= limit:
        return s
    return b[:limit].decode("utf-8", errors="ignore")


def _dumps(v: Any) -> str | None:
    if v is None:
        return None
    return orjson.dumps(v, default=str).decode()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _redaction_values(ex: Exchange) -> list[str]:
    items = ex.annotations.get("redactions") or ()
    out: list[str] = []
    if isinstance(items, (str, bytes)):
        items = [items]
    for it in items if isinstance(items, (list, tuple, set)) else ():
        if isinstance(it, dict):
            it = it.get("text") or it.get("value") or it.get("original")
        if isinstance(it, bytes):
            it = it.decode("utf-8", "replace")
        if isinstance(it, str) and len(it) >= 3:
            out.append(it)
    return sorted(set(out), key=len, reverse=True)


def _secret_values(ex: Exchange) -> list[str]:
    """Credentials a security module found (``annotations["secrets"]``), as they may
    appear in stored text: raw, JSON-escaped, and escaped twice (inside stored events)."""
    vals = ex.annotations.get("secrets")
    if not vals:
        return []
    out: set[str] = set()
    for v in vals:
        if isinstance(v, str) and len(v) >= 8:
            out.add(v)
            once = orjson.dumps(v).decode()[1:-1]
            out.add(once)
            out.add(orjson.dumps(once).decode()[1:-1])
    return sorted(out, key=len, reverse=True)


def _replace_all(s: str | None, literals: list[str]) -> str | None:
    if not s:
        return s
    for lit in literals:
        if lit in s:
            s = s.replace(lit, MASK)
    return s


def _mask_all(s: str | None, literals: list[str]) -> str | None:
    if s is None:
        return None
    for lit in literals:
        s = s.replace(lit, MASK)
    return mask_credentials(s)


_NO_FAST_PATH = object()


def _fast_prompt_text(ex: Exchange) -> Any:
    """``ex.prompt_text`` without building the ``Text`` list, for the plain shapes
    (every message a dict with a string ``content`` and no tool calls); else
    ``_NO_FAST_PATH``.  Must give exactly what ``"\\n".join(t.text for t in ex.texts())`` does."""
    body = ex.json()
    if type(body) is not dict:
        return _NO_FAST_PATH
    api = ex.api
    if api == "google":
        return _NO_FAST_PATH
    out: list[str] = []
    if api == "anthropic":
        system = body.get("system")
        if type(system) is str:
            out.append(system)
        elif system is not None:
            return _NO_FAST_PATH
    elif "instructions" in body or "prompt" in body or "input" in body:
        return _NO_FAST_PATH
    msgs = body.get("messages")
    if msgs is None:
        return "\n".join(out)
    if type(msgs) is not list:
        return _NO_FAST_PATH
    for m in msgs:
        if type(m) is not dict:
            continue  # skipped by request_texts too
        c = m.get("content")
        if type(c) is not str or m.get("tool_calls") or "function_call" in m:
            return _NO_FAST_PATH
        out.append(c)
    return "\n".join(out)


def _prompt_text(ex: Exchange, fallback) -> str | None:
    """The exchange's own normalised prompt text when it has one, else ``usage.prompt_text``."""
    texts = getattr(ex, "_texts", None)
    if texts is not None:  # a module already listed the texts: join them
        return "\n".join(t.text for t in texts)
    if type(ex) is Exchange:
        fast = _fast_prompt_text(ex)
        if fast is not _NO_FAST_PATH:
            return fast
    if isinstance(getattr(type(ex), "prompt_text", None), property):
        try:
            return ex.prompt_text  # type: ignore[attr-defined]
        except Exception:
            pass
    return fallback(ex.json())


def _events_json(stream_events: list, limit: int) -> str:
    """The raw SSE events as a JSON list of strings, cut at ``limit`` (bytes, counted per event)."""
    try:
        if sum(map(len, stream_events)) <= limit:  # the usual case: all of them, all UTF-8 bytes
            return orjson.dumps([raw.decode() for raw in stream_events]).decode()
    except (AttributeError, TypeError, UnicodeDecodeError):
        pass
    kept, size = [], 0
    for raw in stream_events:
        size += len(raw)
        if size > limit:
            break
        kept.append(_decode(raw) if isinstance(raw, (bytes, bytearray)) else str(raw))
    return orjson.dumps(kept).decode()


_PARSE_LATER = "parse-later"


def snapshot(ex: Exchange, storage: StorageConfig) -> tuple:
    """What the ``requests`` row needs from one exchange, as plain values (cheap: the gateway
    takes it; the formatting in :func:`row_from_snapshot` can then run in the writer process).

    Only attribute reads: the timings go as the exchange's clock readings, and the prompt
    text is read off the request body by :func:`row_from_snapshot` unless the parsed body
    has edits not yet serialized.  The exchange must not change once it is taken."""
    if storage.bodies == "none":
        bodies = (None, None, None, None, None, None, None)
    else:
        if type(ex) is Exchange and not ex._dirty:
            prompt = (_PARSE_LATER, ex.api)  # the body's bytes are what was sent: the writer parses them
        else:
            from leash_cli.usage import prompt_text

            try:
                prompt = _prompt_text(ex, prompt_text)
            except Exception:  # a strange body must not lose the row
                prompt = None
        notes = ex.annotations
        bodies = (ex.request_body, ex.response_body, ex.response_text, prompt,
                  ex.stream_events if storage.bodies == "full" else None,
                  _redaction_values(ex) if storage.bodies == "redacted" and notes else None,
                  _secret_values(ex) if notes else None)
    u = ex.usage
    return (
        ex.id, ex.started_at, (ex.t_start, ex.t_upstream_start, ex.t_upstream_end, ex.t_first_token, ex.t_end),
        ex.tenant, ex.key_id, ex.provider, ex.kind, ex.model, ex.method, ex.path, ex.query, ex.status, ex.stream,
        ex.outcome, ex.verdict, u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_write_tokens,
        u.reasoning_tokens, ex.cost_usd, ex.client, ex.error, ex.cost_detail, ex.module_timings or None,
        ex.request_headers, ex.response_headers or None, *bodies,
    )


#: where :func:`snapshot` puts the prompt text (or the note to parse it later)
SNAPSHOT_PROMPT = 30


def _durations(clock: tuple) -> tuple:
    """(total, upstream, overhead, time to first token) in seconds from an exchange's
    clock readings, as ``Exchange``'s properties compute them."""
    start, up_start, up_end, first, end = clock
    total = end - start if end is not None else None
    upstream = up_end - up_start if up_start is not None and up_end is not None else None
    overhead = max(total - (upstream or 0.0), 0.0) if total is not None else None
    ttft = first - start if first is not None else None
    return total, upstream, overhead, ttft


def row_from_snapshot(snap: tuple, storage: StorageConfig) -> tuple:
    """The ``requests`` row, in ``REQUEST_COLUMNS`` order, from :func:`snapshot`."""
    (rid, started, clock, tenant, key_id, provider, kind, model, method, path, query, status, stream, outcome,
     verdict, inp, outp, cached, cache_write, reasoning, cost, client, error, cost_detail, timings, req_headers,
     resp_headers, req_raw, resp_raw, resp_text, prompt, stream_events, lits, secrets) = snap
    total, upstream_s, overhead_s, ttft_s = _durations(clock)
    limit = storage.max_body_bytes
    mode = storage.bodies
    ended = started + total if total is not None else None
    if type(prompt) is tuple:  # (_PARSE_LATER, api): the prompt text from the request body, here
        from leash_cli.usage import prompt_text

        try:
            prompt = _prompt_text(Exchange(id=rid, provider=provider, kind=kind, api=prompt[1], method=method,
                                           path=path, request_body=req_raw or b""), prompt_text)
        except Exception:
            prompt = None
    events = None
    if mode == "none":
        req_body = resp_body = resp_text = prompt = None
        req_trunc = resp_trunc = 0
    else:
        req_body, req_trunc = _cut_bytes(req_raw, limit)
        resp_body, resp_trunc = _cut_bytes(resp_raw, limit)
        resp_text = _cut_text(resp_text, limit)
        prompt = _cut_text(prompt, limit) if prompt else None
        if mode == "redacted":
            lits = lits or []
            req_body = _mask_all(req_body, lits)
            resp_body = _mask_all(resp_body, lits)
            resp_text = _mask_all(resp_text, lits)
            prompt = _mask_all(prompt, lits)
        elif stream_events:
            events = _events_json(stream_events, limit)
        if secrets:  # credentials a module found are masked in every storage mode, `full` included
            req_body, resp_body, resp_text, prompt, events = (
                _replace_all(s, secrets) for s in (req_body, resp_body, resp_text, prompt, events))
    return (
        rid,
        iso_utc(started),
        iso_utc(ended),
        tenant,
        key_id,
        provider,
        kind,
        model,
        method,
        path,
        clean_query(query),
        status,
        1 if stream else 0,
        outcome,
        verdict,
        _ms(total),
        _ms(upstream_s),
        _ms(overhead_s),
        _ms(ttft_s),
        inp,
        outp,
        cached,
        cache_write,
        reasoning,
        cost,
        client,
        mask_credentials(error) if error else None,
        _dumps(cost_detail),
        _dumps({k: _ms(v) for k, v in timings.items()}) if timings else None,
        _dumps(clean_headers(req_headers)),
        _dumps(clean_headers(resp_headers)) if resp_headers else None,
        req_trunc,
        resp_trunc,
        req_body,
        resp_body,
        resp_text,
        prompt,
        events,
    )


def build_request_row(ex: Exchange, storage: StorageConfig) -> tuple:
    """The ``requests`` row for one exchange, in ``REQUEST_COLUMNS`` order."""
    return row_from_snapshot(snapshot(ex, storage), storage)


def audit_row(created: float, event: str, actor: str | None, detail: dict | None) -> tuple:
    """The ``audit_log`` row for one event."""
    text = _dumps(detail)
    return (iso_utc(created), event, actor, text and mask_credentials(text))


def build_violation_rows(ex: Exchange) -> list[tuple]:
    if not ex.violations:
        return []
    created = iso_utc(ex.started_at)
    return [
        (ex.id, created, v.module, v.type, v.action, v.severity, v.detail, v.start, v.end, v.field, v.score)
        for v in ex.violations
    ]


# -- the recorder ----------------------------------------------------------------


@dataclass(slots=True)
class _Audit:
    created: float
    event: str
    actor: str | None
    detail: dict | None


@dataclass(slots=True)
class _Flush:
    done: threading.Event
    prune: bool = False
    index: bool = False


_STOP = object()

# errors that come from one row's values, not from the disk: retrying cannot help
_BAD_ROW = (sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.IntegrityError, ValueError, TypeError,
            OverflowError)


class Recorder:
    """The only writer of the history database.

    ``submit(ex)`` puts the exchange on a queue and returns; building the row
    (JSON, truncation, redaction, pricing) and writing happen in one thread.

    When a write fails (read-only file, disk full, locked) the rows stay in
    memory (at most ``max_pending``; beyond that the oldest are dropped and
    counted in ``dropped``), ``state`` becomes ``"degraded"`` with
    ``last_error`` set, the failure is logged on ``leash.store`` and the write
    is retried with backoff (0.1 s doubling to 5 s).  ``storage.on_error:
    block`` is enforced by the proxy reading ``state``.
    """

    PRUNE_EVERY = 60.0  # seconds
    PRUNE_CHUNK = 2000  # rows per delete statement (one short transaction each)
    PRUNE_MAX_CHUNKS = 10  # per pass: at most 20k rows a minute, so the writer stays responsive
    MAX_BACKOFF = 5.0
    # full-text indexing happens off the insert path, in bulk (about 5 µs a row instead of
    # 25-40 µs in a trigger): when nothing has arrived for FTS_IDLE seconds, or when more
    # than FTS_MAX_LAG rows wait (a saturated gateway: then one chunk per write round, so
    # searches never scan more than about FTS_MAX_LAG + FTS_CHUNK unindexed rows)
    FTS_IDLE = 0.2  # seconds without a new message
    FTS_CHUNK = 5000  # rows per indexing transaction (about 25 ms of writer time)
    FTS_MAX_LAG = 50_000

    def __init__(
        self,
        path: Path | str,
        storage: StorageConfig | None = None,
        *,
        pricer: Any = None,
        max_pending: int = 100_000,
    ):
        self.path = Path(path)
        self._storage = storage or StorageConfig()
        self.pricer = pricer  # optional: prices exchanges that arrive without cost_usd
        self.max_pending = max_pending
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: collections.deque = collections.deque()
        self._thread: threading.Thread | None = None
        self._db: sqlite_utils.Database | None = None
        self._closed = False
        self._failing = False
        self._last_error: str | None = None
        self._last_error_log = 0.0
        self._last_prune = 0.0
        self._stop_deadline = 0.0
        self._backoff = 0.0
        self._next_try = 0.0
        self._retention = parse_duration(self._storage.retention) if self._storage.retention else None
        self._fts_lag = 0  # rows written and not yet full-text indexed (an upper bound)
        self._fts_retry_at = 0.0
        self._last_msg = 0.0  # monotonic time the last message arrived
        self.rows_written = 0  # requests rows committed
        self.write_errors = 0  # failed write attempts
        self.build_errors = 0  # exchanges that could not be turned into a row
        self.in_writer_process = False  # then it commits every storage.commit_interval_ms
        self.dropped = 0  # rows dropped because the in-memory backlog was full
        self.pruned = 0  # rows removed by retention
        self.finished = 0  # items that left the backlog: written, or dropped
        self.on_round: Any = None  # called after every writer round (the writer process reports its status)

    # -- status -----------------------------------------------------------------
    @property
    def storage(self) -> StorageConfig:
        return self._storage

    @storage.setter
    def storage(self, value: StorageConfig) -> None:  # a reload: bodies, retention and row cap apply to what follows
        self._storage = value
        self._retention = parse_duration(value.retention) if value.retention else None

    @property
    def enabled(self) -> bool:
        return bool(self.storage.enabled)

    @property
    def state(self) -> str:
        """``ok``, ``degraded`` (writes failing; rows kept in memory) or ``disabled``."""
        if not self.enabled:
            return "disabled"
        return "degraded" if self._failing else "ok"

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def queue_depth(self) -> int:
        """Exchanges and audit events not yet committed (queued plus backlog)."""
        return self._q.qsize() + len(self._pending)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Open and migrate the database, then start the writer thread.

        Raises StoreError for a corrupt or newer database.  Any other failure
        (permissions, disk, lock) leaves the recorder ``degraded`` and retrying.
        """
        if not self.enabled or self._thread is not None:
            return
        try:
            self._open()
        except StoreError:
            raise
        except (sqlite3.Error, OSError) as e:
            self._fail(e, "open")
        self._thread = threading.Thread(target=self._run, name="leash-store-writer", daemon=True)
        self._thread.start()

    def submit(self, ex: Exchange) -> None:
        """Queue a finished exchange (never blocks, never raises).  Do not mutate it afterwards."""
        if self._closed or not self.enabled:
            return
        self._q.put_nowait(ex)

    def submit_item(self, item: Any) -> None:
        """Queue a row item built elsewhere (``("r", row, violations)``, ``("a", row)``) or a ``_Flush``."""
        self._q.put_nowait(item)

    def audit(self, event: str, detail: dict | None = None, actor: str | None = None) -> None:
        """Queue an ``audit_log`` row."""
        if self._closed or not self.enabled:
            return
        self._q.put_nowait(_Audit(time.time(), event, actor, detail))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been written.  False: not (yet) written."""
        if self._thread is None or not self._thread.is_alive():
            return self.queue_depth == 0
        done = threading.Event()
        self._q.put_nowait(_Flush(done))
        if not done.wait(timeout):
            return False
        return not self._pending

    def prune(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then apply retention now (in the writer thread).  False: timed out."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._q.put_nowait(_Flush(done, prune=True))
        return done.wait(timeout)

    def index(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then full-text index every row now (in the writer thread)."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._q.put_nowait(_Flush(done, index=True))
        return done.wait(timeout)

    def close(self, timeout: float = 10) -> None:
        """Write everything queued, then stop the writer (waits at most ``timeout`` seconds)."""
        if self._closed:
            return
        self._closed = True
        t = self._thread
        if t is None:
            return
        self._stop_deadline = time.monotonic() + timeout
        self._q.put_nowait(_STOP)
        t.join(timeout + 0.5)
        if t.is_alive() or self._pending:
            log.error(
                "history: %d rows could not be written to %s before shutdown%s",
                self.queue_depth,
                self.path,
                f" ({self._last_error})" if self._last_error else "",
            )

    # -- writer thread --------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while True:
            st = self.storage  # read each round: a reload's settings apply to the next one
            interval = (st.commit_interval_ms if self.in_writer_process else st.flush_interval_ms) / 1000.0
            try:
                stopping = self._step(interval, st.batch_size, stopping)
            except Exception as e:  # never let the writer die silently
                log.exception("history: writer error: %s", e)
                self._failing, self._last_error = True, f"writer error: {e}"
                stopping = stopping or self._closed
                time.sleep(0.5)
            if self.on_round is not None:
                self.on_round()
            if stopping:
                break
        self._drain()

    def _step(self, interval: float, batch: int, stopping: bool) -> bool:
        """One round: gather, write (or retry), maybe prune.  True once asked to stop."""
        backoff, next_try = self._backoff, self._next_try
        now = time.monotonic()
        if self._failing and self._pending:
            wait = max(min(next_try - now, 1.0), 0.0)
        elif self._fts_lag > 0 and not self._failing:  # wake up once idle, to index
            wait = min(max(self.FTS_IDLE - (now - self._last_msg), 0.0, self._fts_retry_at - now), 1.0)
        else:
            wait = 1.0
        flushes: list[_Flush] = []
        stopping = self._gather(wait, interval, batch, flushes) or stopping
        now = time.monotonic()
        if self._pending and (not self._failing or now >= next_try or stopping or flushes):
            if self._write_pending():
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, 0.1), self.MAX_BACKOFF)
                next_try = time.monotonic() + backoff
        if not self._failing and (
            now - self._last_prune >= self.PRUNE_EVERY or any(f.prune for f in flushes)
        ):
            self._last_prune = now
            self._prune()
        if self._fts_lag > 0 and not self._failing and not stopping:
            if any(f.index for f in flushes):
                self._index(None)
            elif time.monotonic() >= self._fts_retry_at:
                idle = not self._pending and self._q.empty() and time.monotonic() - self._last_msg >= self.FTS_IDLE
                if idle or self._fts_lag > self.FTS_MAX_LAG:
                    self._index(self.FTS_CHUNK)
        for f in flushes:
            f.done.set()
        self._backoff, self._next_try = backoff, next_try
        return stopping

    def _open(self) -> None:
        self._db = open_writable(self.path)
        conn = self._db.conn
        set_fts_deferred(conn, True)  # this recorder indexes new rows itself, in bulk
        top = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
        self._fts_lag = max(top - fts_watermark(conn), 0)

    def _index(self, max_rows: int | None, deadline: float | None = None) -> None:
        """Full-text index up to ``max_rows`` waiting rows (all with None)."""
        if self._db is None:
            return
        conn = self._db.conn
        try:
            index_fts(conn, chunk=self.FTS_CHUNK, max_rows=max_rows, deadline=deadline)
            top = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()[0]
            self._fts_lag = max(top - fts_watermark(conn), 0)
        except sqlite3.Error as e:
            self._fts_retry_at = time.monotonic() + 5.0
            log.warning("history: full-text indexing %s failed (will retry): %s", self.path, e)

    def _drain(self) -> None:
        """After stop: keep trying until the deadline given to close(), then close the file."""
        deadline = self._stop_deadline
        while True:
            flushes = []
            self._gather(0.0, 0.0, 1 << 30, flushes)
            done = not self._pending or self._write_pending() or time.monotonic() >= deadline
            for f in flushes:
                f.done.set()
            if done:
                break
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        if self._db is not None:
            if self._fts_lag > 0 and not self._failing:
                self._index(None, deadline)  # what is left is indexed by the next recorder
            try:
                set_fts_deferred(self._db.conn, False)  # no recorder: the insert trigger indexes
                self._db.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            self._db.close()
            self._db = None

    def _gather(self, wait: float, interval: float, batch: int, flushes: list) -> bool:
        """Move queued messages into the backlog: the first within ``wait``, then
        more until ``batch`` rows or ``interval`` seconds.  True on stop.

        After the first message the thread sleeps and drains the queue in bulk,
        rather than waking for every row: a wake-up per request would cost the
        gateway a thread switch (and the GIL) per request.
        """
        q = self._q
        try:
            msg = q.get(timeout=wait) if wait > 0 else q.get_nowait()
        except queue.Empty:
            return False
        deadline = self._last_msg = time.monotonic()
        deadline += interval
        n = 0
        flushing = False
        while True:
            if msg is _STOP:
                return True
            if isinstance(msg, _Flush):
                flushes.append(msg)
                flushing = True  # keep what is immediately available, then write
            else:
                self._take(msg)
                n += 1
                if n >= batch:
                    return False
            try:
                msg = q.get_nowait()
                continue
            except queue.Empty:
                pass
            if flushing:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, 0.01))
            try:
                msg = q.get_nowait()
            except queue.Empty:
                if deadline - time.monotonic() <= 0:
                    return False
                continue_wait = True
                while continue_wait:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    time.sleep(min(remaining, 0.01))
                    try:
                        msg = q.get_nowait()
                        continue_wait = False
                    except queue.Empty:
                        pass

    def _take(self, msg: Any) -> None:
        """Build the rows for one message (in this thread) and add them to the backlog."""
        try:
            if type(msg) is tuple:  # from the gateway (the writer process): ("s", snapshot, violations) | ("a", row)
                if msg[0] == "C":  # new storage settings (a reload), in line with the rows
                    self.storage = msg[1]
                    return
                item = ("r", row_from_snapshot(msg[1], self.storage), msg[2]) if msg[0] == "s" else msg
            elif isinstance(msg, _Audit):
                item = ("a", audit_row(msg.created, msg.event, msg.actor, msg.detail))
            else:
                ex: Exchange = msg
                if ex.cost_usd is None and self.pricer is not None and ex.usage.known:
                    try:
                        ex.cost_usd, ex.cost_detail = self.pricer.price(ex.kind, ex.model, ex.usage, ex.provider)
                    except Exception as e:  # pragma: no cover - pricing never loses a row
                        log.warning("history: pricing %s failed: %s", ex.id, e)
                item = ("r", build_request_row(ex, self.storage), build_violation_rows(ex))
        except Exception as e:
            self.build_errors += 1
            log.exception("history: cannot build a row for %r: %s", getattr(msg, "id", msg), e)
            item = ("x", None)  # counted as handled (the gateway counts the writer's items), written as nothing
        self._pending.append(item)
        if len(self._pending) > self.max_pending:
            self._pending.popleft()
            self.dropped += 1
            self.finished += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error(
                    "history: backlog full (%d rows), dropped %d oldest rows so far: %s",
                    self.max_pending,
                    self.dropped,
                    self._last_error,
                )

    def _write_pending(self) -> bool:
        """Commit the backlog (in chunks).  False when a write failed."""
        chunk = max(self.storage.batch_size, 1000)
        while self._pending:
            items = [self._pending[i] for i in range(min(chunk, len(self._pending)))]
            try:
                try:
                    self._write(items)
                except _BAD_ROW:
                    self._write_one_by_one(items)
            except (sqlite3.Error, OSError, StoreError) as e:
                self._fail(e, "write")
                return False
            for _ in range(len(items)):
                self._pending.popleft()
            self.finished += len(items)
            written = sum(1 for it in items if it[0] == "r")
            self.rows_written += written
            self._fts_lag += written
            if self._failing:
                self._failing = False
                log.warning("history: writing to %s again (%d rows written so far)", self.path, self.rows_written)
        return True

    def _write_one_by_one(self, items: list) -> None:
        """A batch with a row SQLite refuses: write the rows singly and drop the bad ones."""
        for i, item in enumerate(items):
            try:
                self._write([item])
            except _BAD_ROW as e:
                self.build_errors += 1
                log.error("history: dropping a row SQLite refuses (%s): %s", item[1][0] if item[1] else "?", e)
                items[i] = ("x", None)  # counted as handled, written as nothing

    def _write(self, items: list) -> None:
        if self._db is None:
            self._open()
        conn = self._db.conn
        reqs = [it[1] for it in items if it[0] == "r"]
        viols = [v for it in items if it[0] == "r" for v in it[2]]
        audits = [it[1] for it in items if it[0] == "a"]
        if not (reqs or audits):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if reqs:
                # the upsert costs what a plain INSERT does once the FTS trigger is gone
                # (bench/record_bench.py), and keeps a resubmitted exchange's rowid
                conn.executemany(_INSERT_REQUEST, reqs)
            if viols:
                conn.executemany(_INSERT_VIOLATION, viols)
            if audits:
                conn.executemany(_INSERT_AUDIT, audits)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def _fail(self, e: BaseException, what: str) -> None:
        self.write_errors += 1
        msg = f"{type(e).__name__}: {e}" if not isinstance(e, (sqlite3.Error, StoreError)) else str(e)
        first = not self._failing
        self._failing = True
        self._last_error = f"cannot {what} {self.path}: {msg}"
        now = time.monotonic()
        if first or now - self._last_error_log >= 30:
            self._last_error_log = now
            log.error(
                "history DEGRADED: %s — keeping %d rows in memory and retrying",
                self._last_error,
                len(self._pending),
            )
        # reopen on the next attempt (a read-only connection stays read-only)
        if self._db is not None:
            try:
                self._db.close()
            except Exception:
                pass
            self._db = None

    def _prune(self) -> None:
        """Apply retention and max_rows, a few chunks at a time."""
        if self._db is None or (self._retention is None and self.storage.max_rows is None):
            return
        conn = self._db.conn
        try:
            cutoff = None
            if self._retention is not None:
                cutoff = iso_utc(time.time() - self._retention)
            if self.storage.max_rows is not None:
                row = conn.execute(
                    "SELECT started_at FROM requests ORDER BY started_at DESC LIMIT 1 OFFSET ?",
                    (self.storage.max_rows,),
                ).fetchone()
                if row is not None:
                    # keep the newest max_rows: delete everything at or before the (max_rows+1)-th
                    limit_cut = row[0] + "\x00"
                    cutoff = max(cutoff, limit_cut) if cutoff else limit_cut
            if cutoff is None:
                return
            for table, col in (("requests", "started_at"), ("violations", "created_at")):
                for _ in range(self.PRUNE_MAX_CHUNKS):
                    cur = conn.execute(
                        f"DELETE FROM {table} WHERE rowid IN "
                        f"(SELECT rowid FROM {table} WHERE {col} < ? LIMIT ?)",
                        (cutoff, self.PRUNE_CHUNK),
                    )
                    if table == "requests":
                        self.pruned += cur.rowcount
                    if cur.rowcount < self.PRUNE_CHUNK:
                        break
        except sqlite3.Error as e:
            log.warning("history: pruning %s failed: %s", self.path, e)


def make_recorder(path: Path | str, storage: StorageConfig | None = None, **kw: Any) -> Any:
    """The history writer ``storage.writer`` asks for: a process of its own (``leash_cli.writer``) or a thread."""
    storage = storage or StorageConfig()
    if storage.writer == "process" and os.name == "posix":  # (non-blocking pipes and select on them)
        from leash_cli.writer import ProcessRecorder

        return ProcessRecorder(path, storage, **kw)
    return Recorder(path, storage, **kw)
