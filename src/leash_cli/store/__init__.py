"""The history store: every exchange, finding and gateway event, in one database.

One concept per module:

- :mod:`~leash_cli.store.backend` — the seam: the :class:`Store`,
  :class:`StoreWriter` and :class:`HistoryReader` protocols a backend
  implements (SQLite today, PostgreSQL next), :class:`StoreError`,
  :class:`VirtualKey`;
- :mod:`~leash_cli.store.sqlite` — the SQLite backend (:class:`SqliteStore`);
- :mod:`~leash_cli.store.schema` — the SQLite tables, indexes and ordered
  migrations (never edited once released), opening the file;
- :mod:`~leash_cli.store.rows` — what an exchange becomes as a row, for every
  backend (truncation, ``storage.bodies``, credential masking, times);
- :mod:`~leash_cli.store.writer` — the :class:`Recorder` (the writer thread)
  and :func:`make_recorder`; :mod:`~leash_cli.store.process` — the writer in a
  process of its own (``python -m leash_cli.store``);
- :mod:`~leash_cli.store.queries` — reads for ``leash logs``, ``leash stats``
  and the TUI; :mod:`~leash_cli.store.filters` — the filter language;
  :mod:`~leash_cli.store.fts` — the full-text index;
- :mod:`~leash_cli.store.keys` — virtual keys; :mod:`~leash_cli.store.retention`
  — pruning, VACUUM, backups.

The names below were all importable from the single ``leash_cli.store``
module this package replaces, and stay so.
"""

import sqlite_utils  # noqa: F401  (was importable from the module this package replaces)

from leash_cli.store.backend import (
    HistoryReader,
    HistoryRecorder,
    Store,
    StoreError,
    StoreWriter,
    VirtualKey,
)
from leash_cli.store.factory import open_store
from leash_cli.store.fts import (
    fts_watermark,
    index_fts,
    rebuild_fts,
    set_fts_deferred,
    unindexed_rows,
)
from leash_cli.store.process import ProcessRecorder
from leash_cli.store.rows import (
    _SECRET_HEADER as _SECRET_HEADER,
)
from leash_cli.store.rows import (
    CREDENTIAL_PATTERN,
    MASK,
    SNAPSHOT_PROMPT,
    audit_row,
    build_request_row,
    build_violation_rows,
    clean_headers,
    clean_query,
    iso_utc,
    mask_credentials,
    row_from_snapshot,
    snapshot,
)
from leash_cli.store.schema import (
    AUDIT_COLUMNS,
    FTS_NAME,
    KNOWN_MIGRATIONS,
    REQUEST_COLUMNS,
    SCHEMA_VERSION,
    VIOLATION_COLUMNS,
    migrations,
    open_readonly,
    open_writable,
)
from leash_cli.store.schema import (
    _connect as _connect,
)
from leash_cli.store.sqlite import INSERT_AUDIT, INSERT_REQUEST, INSERT_VIOLATION, SqliteStore
from leash_cli.store.writer import Recorder, make_recorder
from leash_cli.store.writer import _Audit as _Audit
from leash_cli.store.writer import _Flush as _Flush

# the old module's private names that tests and benchmarks use
_INSERT_REQUEST = INSERT_REQUEST
_INSERT_VIOLATION = INSERT_VIOLATION
_INSERT_AUDIT = INSERT_AUDIT

__all__ = [
    "Recorder",
    "StoreError",
    "open_readonly",
    "open_writable",
    "REQUEST_COLUMNS",
    "SCHEMA_VERSION",
    "iso_utc",
    # the seam
    "Store",
    "StoreWriter",
    "HistoryReader",
    "HistoryRecorder",
    "SqliteStore",
    "VirtualKey",
    "open_store",
    "make_recorder",
    "ProcessRecorder",
    # schema
    "migrations",
    "KNOWN_MIGRATIONS",
    "VIOLATION_COLUMNS",
    "AUDIT_COLUMNS",
    "FTS_NAME",
    # full-text index
    "fts_watermark",
    "unindexed_rows",
    "set_fts_deferred",
    "index_fts",
    "rebuild_fts",
    # rows
    "CREDENTIAL_PATTERN",
    "MASK",
    "mask_credentials",
    "clean_headers",
    "clean_query",
    "snapshot",
    "SNAPSHOT_PROMPT",
    "row_from_snapshot",
    "build_request_row",
    "audit_row",
    "build_violation_rows",
    "INSERT_REQUEST",
    "INSERT_VIOLATION",
    "INSERT_AUDIT",
]
