"""The store seam: what the rest of leash needs from a history store.

SQLite (:mod:`leash_cli.store.sqlite`) is the only implementation today; a
PostgreSQL store implements the same three protocols next:

- :class:`Store` — one history database, named by its ``location`` (a file
  path, later a ``postgresql://`` URL): migrate it, open a writer for the
  recorder, open a reader for ``leash logs`` / ``leash stats`` / the TUI,
  manage virtual keys, and the maintenance commands (vacuum, backup).
- :class:`StoreWriter` — the one write connection a recorder owns: write a
  batch of rows in one transaction, apply retention, keep the full-text
  search index up to date.
- :class:`HistoryReader` — the read queries: listing, following, one exchange
  in full, stats, export, and the TUI's views.

The gateway itself sees only a :class:`HistoryRecorder` (``make_recorder``:
the writer thread or the writer process, over any store).

Rows travel as plain tuples built once by :mod:`leash_cli.store.rows` in the
column order of :data:`leash_cli.store.schema.REQUEST_COLUMNS` (and
``VIOLATION_COLUMNS`` / ``AUDIT_COLUMNS``), so every backend stores exactly
the same values.  Times are UTC ISO 8601 strings with milliseconds and a
``Z`` (they sort as text).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from leash_cli.config import StorageConfig
    from leash_cli.exchange import Exchange

__all__ = [
    "StoreError",
    "RequestRow",
    "ViolationRow",
    "AuditRow",
    "Row",
    "VirtualKey",
    "Store",
    "StoreWriter",
    "HistoryReader",
    "HistoryRecorder",
    "ListFilter",
]


class StoreError(Exception):
    """The history database cannot be used (corrupt, not SQLite, newer schema)."""


#: one ``requests`` row, in ``REQUEST_COLUMNS`` order
RequestRow = tuple[Any, ...]
#: one ``violations`` row, in ``VIOLATION_COLUMNS`` order
ViolationRow = tuple[Any, ...]
#: one ``audit_log`` row, in ``AUDIT_COLUMNS`` order
AuditRow = tuple[Any, ...]
#: a row read back: column name -> value
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """One leash virtual key as stored (never the key itself: only its hash is kept)."""

    id: str
    tenant: str
    prefix: str
    description: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    def usable(self, now_iso: str) -> str | None:
        """None when usable, else why not."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now_iso:
            return "expired"
        return None


class ListFilter(Protocol):
    """A compiled filter expression (``leash_cli.store.filters.Filter``) as a reader takes it."""

    @property
    def sql(self) -> str: ...

    def params_for(self, db: Any) -> list[Any]: ...


class StoreWriter(Protocol):
    """The one write connection of a recorder (used from one thread only).

    It keeps the tamper-evident audit chain (:mod:`leash_cli.store.chain`): ``write_batch`` appends a chain
    entry for every row in the same transaction, ``prune`` removes whole chain segments and leaves a signed
    tombstone, ``checkpoint`` signs the chains' heads with ``audit_key``."""

    #: the ``leash_cli.store.chain.AuditKey`` checkpoints and tombstones are signed with (the recorder sets
    #: it; None: unsigned).  Typed loosely: the chain module sits above this seam.
    audit_key: Any

    def write_batch(
        self, requests: Sequence[RequestRow], violations: Sequence[ViolationRow], audits: Sequence[AuditRow]
    ) -> None:
        """Write the rows in one transaction (a request row with a known id replaces it, keeping its place)."""
        ...

    def prune(self, cutoff: str | None, max_rows: int | None, *, chunk: int, max_chunks: int) -> int:
        """Retention: delete requests (and violations) older than ``cutoff`` and beyond the newest
        ``max_rows``, at most ``chunk * max_chunks`` rows per table; returns the requests deleted."""
        ...

    def checkpoint(self, reason: str, now: float) -> Any:
        """Sign the heads of the audit chains and store the checkpoint (a ``chain.Checkpoint``; None without
        ``audit_key``)."""
        ...

    def search_backlog(self) -> int:
        """How many written rows the full-text search index does not cover yet."""
        ...

    def index_search(self, chunk: int, max_rows: int | None = None, deadline: float | None = None) -> int:
        """Add up to ``max_rows`` (all with None) waiting rows to the search index before ``deadline``
        (``time.monotonic()``); returns how many were added."""
        ...

    def close(self) -> None:
        """Leave the store as a store without a recorder expects it, then close the connection."""
        ...

    def abandon(self) -> None:
        """Close after a failure, touching nothing (the next attempt opens a new writer)."""
        ...


class HistoryReader(Protocol):
    """Read queries over the history (thread-safe: the TUI calls them from worker threads)."""

    # -- leash logs / leash stats --------------------------------------------------------
    def list_requests(
        self,
        n: int = 20,
        *,
        provider: str | None = None,
        model: str | None = None,
        tenant: str | None = None,
        status: str | int | None = None,
        outcome: str | None = None,
        query: str | None = None,
        since: str | None = None,
        expr: str | None = None,
    ) -> list[Row]: ...

    def new_requests(self, after_rowid: int, limit: int = 1000, **filters: Any) -> list[Row]: ...

    def max_rowid(self) -> int: ...

    def get_request(self, request_id: str) -> Row | None: ...

    def stats(self, since: str | None = None, by: str | None = None) -> list[Row]: ...

    def export_rows(self, since: str | None = None, *, parse_json: bool = True) -> Iterator[Row]: ...

    # -- leash policy test ----------------------------------------------------------------
    def count_replay(self, since: str | None = None, tenant: str | None = None, last: int | None = None) -> int: ...

    def replay_rows(
        self, since: str | None = None, tenant: str | None = None, last: int | None = None
    ) -> Iterator[Row]:
        """Exchanges oldest first (``store.reader.REPLAY_COLUMNS``, ``request_headers`` parsed), each with its
        recorded ``violations`` as ``(module, type, action, detail)`` tuples; ``last``: only the newest N."""
        ...

    # -- the TUI ---------------------------------------------------------------------------
    def page(self, flt: ListFilter, before: tuple[str, str] | None = None, limit: int = 200) -> list[Row]: ...

    def newer(self, flt: ListFilter, after_rowid: int, limit: int = 5000) -> list[Row]: ...

    def providers(self) -> list[tuple[str, str]]: ...

    def recent_outcomes(self, since: str) -> list[tuple[Any, ...]]: ...

    def cost_totals(self, since: str) -> Row: ...

    def cost_by(self, column: str, since: str, limit: int = 50) -> list[Row]: ...

    def spend_by_day(self, since: str) -> dict[str, float]: ...

    def tenant_spend(self, tenant: str, since: str) -> float: ...

    def violation_groups(self, day_ago: str, week_ago: str) -> list[Row]: ...

    def violations_by_day(self, since: str, module: str | None = None, type: str | None = None) -> dict[str, int]: ...

    def recent_violations(
        self, module: str | None = None, type: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[Row]: ...

    def close(self) -> None: ...


class Store(Protocol):
    """One history database."""

    #: what names the database: a file path (SQLite) or a URL; a writer process is given it
    location: str
    #: errors that say the database cannot be written right now (locked, read-only, disk full):
    #: the recorder keeps its rows and retries
    transient_errors: tuple[type[BaseException], ...]
    #: errors that come from one row's values: retrying cannot help (the row is dropped)
    bad_row_errors: tuple[type[BaseException], ...]

    def exists(self) -> bool:
        """Whether there is a history yet (readers say "no history yet" when not)."""
        ...

    def migrate(self) -> None:
        """Create the schema or bring it up to date.  Raises StoreError for a database this leash
        cannot use (corrupt, not a leash store, written by a newer leash)."""
        ...

    def open_writer(self) -> StoreWriter:
        """Migrate, then open the recorder's write connection (StoreError as for migrate)."""
        ...

    def open_reader(self) -> HistoryReader:
        """Read-only access; migrates nothing.  StoreError when there is no usable history."""
        ...

    def open_chain(self) -> Any:
        """The audit chain, read-only, for ``leash audit verify`` / ``export``: a
        ``leash_cli.store.chain.ChainSource`` with a ``close()``.  StoreError when there is no usable history."""
        ...

    # -- virtual keys ------------------------------------------------------------------------
    def create_key(self, key: VirtualKey, key_hash: str) -> None:
        """Store a new key (and a ``key_created`` audit row)."""
        ...

    def revoke_key(self, key_id: str, now: str) -> bool:
        """Revoke a key (and write a ``key_revoked`` audit row); False when there is no such usable key."""
        ...

    def list_keys(self) -> list[VirtualKey]: ...

    def load_keys(self) -> dict[str, VirtualKey]:
        """Every key by its hash (the gateway's key ring); empty when there is no store yet."""
        ...

    # -- maintenance ---------------------------------------------------------------------------
    def vacuum(self, actor: str | None = "cli") -> tuple[int, int]:
        """Compact the store and note it in ``audit_log``: (bytes before, bytes after)."""
        ...

    def backup(self, dest: Path) -> int:
        """A consistent copy at ``dest``; returns its size in bytes."""
        ...


class HistoryRecorder(Protocol):
    """What the gateway hands finished exchanges to (``leash_cli.store.make_recorder``).

    ``submit`` and ``audit`` never block and never raise; writing happens off the hot path.
    """

    #: the storage settings rows are built with (assigned on a config reload)
    storage: StorageConfig
    rows_written: int
    write_errors: int
    dropped: int
    pruned: int

    @property
    def state(self) -> str:
        """``ok``, ``degraded`` (writes failing; rows kept in memory) or ``disabled``."""
        ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def queue_depth(self) -> int:
        """Exchanges and audit events not yet committed."""
        ...

    def start(self) -> None:
        """Migrate the store (StoreError for an unusable one), then start writing."""
        ...

    def submit(self, ex: Exchange) -> None: ...

    def audit(self, event: str, detail: dict[str, Any] | None = None, actor: str | None = None) -> None: ...

    def flush(self, timeout: float = 5.0) -> bool: ...

    def prune(self, timeout: float = 30.0) -> bool: ...

    def index(self, timeout: float = 30.0) -> bool: ...

    def close(self, timeout: float = 10) -> None: ...
