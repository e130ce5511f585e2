"""The recorder: the one writer of the history, in a thread of the gateway.

The proxy hands each finished exchange to :class:`Recorder` (``submit`` never
blocks and never raises); a single thread owns the write connection (a
:class:`~leash_cli.store.backend.StoreWriter`) and inserts batches in one
transaction every ``storage.flush_interval_ms`` (default 5 ms) or every
``storage.batch_size`` rows (default 500), whichever comes first.  A SIGKILL
therefore loses at most the exchanges of the last ≤ 5 ms (or ≤ 500 rows); a
clean ``close()`` loses nothing.  In the writer process
(:mod:`leash_cli.store.process`) the same class commits every
``storage.commit_interval_ms`` (default 50 ms) instead: the rows it holds do
not die with the gateway.

:func:`make_recorder` picks what ``storage.writer`` asks for: the writer
process (``process``, the default for ``leash up``) or this thread.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leash_cli.config import StorageConfig, parse_duration
from leash_cli.exchange import Exchange
from leash_cli.store.backend import Store, StoreError, StoreWriter
from leash_cli.store.chain import AuditKey, KeyError_, load_key
from leash_cli.store.factory import label, open_store
from leash_cli.store.process import ProcessRecorder, _max_lag
from leash_cli.store.retention import cutoff_for
from leash_cli.store.rows import audit_row, build_request_row, build_violation_rows, row_from_snapshot

__all__ = ["Recorder", "make_recorder"]

log = logging.getLogger("leash.store")


@dataclass(slots=True)
class _Audit:
    created: float
    event: str
    actor: str | None
    detail: dict[str, Any] | None


@dataclass(slots=True)
class _Flush:
    done: Any  # a threading.Event, or what stands in for one (``set()``)
    prune: bool = False
    index: bool = False


_STOP = object()


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
        path: Path | str | Store,
        storage: StorageConfig | None = None,
        *,
        pricer: Any = None,
        max_pending: int = 100_000,
    ) -> None:
        self.store = open_store(path)
        self.path: Path | str = label(path, self.store)  # a PostgreSQL URL without its password
        self._storage = storage or StorageConfig()
        self.pricer = pricer  # optional: prices exchanges that arrive without cost_usd
        self.max_pending = max_pending
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._db: StoreWriter | None = None
        self._transient: tuple[type[BaseException], ...] = (*self.store.transient_errors, OSError, StoreError)
        self._bad_row: tuple[type[BaseException], ...] = self.store.bad_row_errors
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
        self._audit_key: AuditKey | None = None
        self._key_tried = False
        self._no_chain_logged = False
        self._last_checkpoint = time.monotonic()
        self._unsigned = 0  # rows written since the last checkpoint
        self.rows_written = 0  # requests rows committed
        self.write_errors = 0  # failed write attempts
        self.build_errors = 0  # exchanges that could not be turned into a row
        self.in_writer_process = False  # then it commits every storage.commit_interval_ms
        self.dropped = 0  # rows dropped because the in-memory backlog was full
        self.pruned = 0  # rows removed by retention
        self.finished = 0  # items that left the backlog: written, or dropped
        self._times: collections.deque[float] = collections.deque()  # when each waiting row arrived
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
        """``ok``, ``degraded`` (writes failing, rows kept in memory; or the oldest waiting row is
        older than ``storage.max_lag``) or ``disabled``."""
        if not self.enabled:
            return "disabled"
        return "degraded" if self._failing or self.lag_seconds > _max_lag(self.storage) else "ok"

    @property
    def lag_seconds(self) -> float:
        """How long the oldest row not yet written has waited (0 with none waiting)."""
        try:
            return max(time.monotonic() - self._times[0], 0.0) if self._times else 0.0
        except IndexError:
            return 0.0

    @property
    def failing(self) -> bool:
        """Writes are failing now (the rows wait in memory and the write is retried)."""
        return self._failing

    @property
    def last_error(self) -> str | None:
        if self._last_error is None and not self.in_writer_process:
            lag = self.lag_seconds
            if lag > _max_lag(self.storage):
                return f"the history writer is {lag:.1f} s behind (storage.max_lag: {self.storage.max_lag})"
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
        except self._transient as e:
            self._fail(e, "open")
        self._thread = threading.Thread(target=self._run, name="leash-store-writer", daemon=True)
        self._thread.start()

    def submit(self, ex: Exchange) -> None:
        """Queue a finished exchange (never blocks, never raises).  Do not mutate it afterwards."""
        if self._closed or not self.enabled:
            return
        self._times.append(time.monotonic())
        self._q.put_nowait(ex)

    def submit_item(self, item: Any) -> None:
        """Queue a row item built elsewhere (``("r", row, violations)``, ``("a", row)``) or a ``_Flush``."""
        self._q.put_nowait(item)

    def audit(self, event: str, detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
        """Queue an ``audit_log`` row."""
        if self._closed or not self.enabled:
            return
        self._times.append(time.monotonic())
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
        return self._flush_then(timeout, prune=True)

    def index(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then full-text index every row now (in the writer thread)."""
        return self._flush_then(timeout, index=True)

    def _flush_then(self, timeout: float, **then: bool) -> bool:
        """Write what is queued, then do ``then`` in the writer thread; False: no writer, or timed out."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._q.put_nowait(_Flush(done, **then))
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
        if (
            self._unsigned
            and not self._failing
            and (now - self._last_checkpoint >= parse_duration(self.storage.audit_checkpoint_interval))
        ):
            self._checkpoint("interval")
        if not self._failing and (now - self._last_prune >= self.PRUNE_EVERY or any(f.prune for f in flushes)):
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
        self._db = self.store.open_writer()
        self._db.audit_key = self._key()
        self._fts_lag = self._db.search_backlog()

    def _key(self) -> AuditKey | None:
        """The audit key (made on first use); None, logged once, when it cannot be had: rows are still
        chained, checkpoints and tombstones are not signed."""
        if not self._key_tried:
            self._key_tried = True
            try:
                self._audit_key = load_key(self.storage.audit_key_file, create=True)
            except KeyError_ as e:
                log.error("history: audit checkpoints are not signed: %s", e)
        return self._audit_key

    def _checkpoint(self, reason: str) -> None:
        """Sign the heads of the audit chains (interval: while rows arrive; shutdown: when the writer stops)."""
        self._last_checkpoint = time.monotonic()
        if self._db is None:
            return
        sign = getattr(self._db, "checkpoint", None)
        if sign is None:  # a backend without the audit chain yet
            if not self._no_chain_logged:
                self._no_chain_logged = True
                log.error("history: %s keeps no audit chain checkpoints", self.path)
            return
        try:
            if sign(reason, time.time()) is not None:
                self._unsigned = 0
        except self.store.transient_errors as e:
            log.warning("history: audit checkpoint of %s failed (will retry): %s", self.path, e)

    def _index(self, max_rows: int | None, deadline: float | None = None) -> None:
        """Full-text index up to ``max_rows`` waiting rows (all with None)."""
        if self._db is None:
            return
        try:
            self._db.index_search(self.FTS_CHUNK, max_rows, deadline)
            self._fts_lag = self._db.search_backlog()
        except self.store.transient_errors as e:
            self._fts_retry_at = time.monotonic() + 5.0
            log.warning("history: full-text indexing %s failed (will retry): %s", self.path, e)

    def _drain(self) -> None:
        """After stop: keep trying until the deadline given to close(), then close the file."""
        deadline = self._stop_deadline
        while True:
            flushes: list[_Flush] = []
            self._gather(0.0, 0.0, 1 << 30, flushes)
            done = not self._pending or self._write_pending() or time.monotonic() >= deadline
            for f in flushes:
                f.done.set()
            if done:
                break
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        if self._db is not None:
            if not self._failing:
                self._checkpoint("shutdown")
            if self._fts_lag > 0 and not self._failing:
                self._index(None, deadline)  # what is left is indexed by the next recorder
            self._db.close()  # no recorder: the store indexes new rows itself again
            self._db = None

    def _gather(self, wait: float, interval: float, batch: int, flushes: list[_Flush]) -> bool:
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
            # nothing queued: sleep in short steps until the next message, or the deadline
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(remaining, 0.01))
                try:
                    msg = q.get_nowait()
                    break
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
            self._done(1)
            self.dropped += 1
            self.finished += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error(
                    "history: backlog full (%d rows), dropped %d oldest rows so far: %s",
                    self.max_pending,
                    self.dropped,
                    self._last_error,
                )

    def _done(self, n: int) -> None:
        """`n` rows left the backlog (written or dropped): the lag is the next one's."""
        times = self._times
        for _ in range(min(n, len(times))):
            times.popleft()

    def _write_pending(self) -> bool:
        """Commit the backlog (in chunks).  False when a write failed."""
        chunk = max(self.storage.batch_size, 1000)
        while self._pending:
            items = [self._pending[i] for i in range(min(chunk, len(self._pending)))]
            try:
                try:
                    self._write(items)
                except self._bad_row:
                    self._write_one_by_one(items)
            except self._transient as e:
                self._fail(e, "write")
                return False
            for _ in range(len(items)):
                self._pending.popleft()
            self._done(len(items))
            self.finished += len(items)
            written = sum(1 for it in items if it[0] == "r")
            self._unsigned += sum(1 for it in items if it[0] in "ra")
            self.rows_written += written
            self._fts_lag += written
            if self._failing:
                self._failing = False
                self._last_error = None  # recovered: /health shows no stale error
                log.warning("history: writing to %s again (%d rows written so far)", self.path, self.rows_written)
        return True

    def _write_one_by_one(self, items: list[tuple[Any, ...]]) -> None:
        """A batch with a row SQLite refuses: write the rows singly and drop the bad ones."""
        for i, item in enumerate(items):
            try:
                self._write([item])
            except self._bad_row as e:
                self.build_errors += 1
                log.error("history: dropping a row SQLite refuses (%s): %s", item[1][0] if item[1] else "?", e)
                items[i] = ("x", None)  # counted as handled, written as nothing

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        if self._db is None:
            self._open()
        assert self._db is not None
        reqs = [it[1] for it in items if it[0] == "r"]
        viols = [v for it in items if it[0] == "r" for v in it[2]]
        audits = [it[1] for it in items if it[0] == "a"]
        if not (reqs or audits):
            return
        self._db.write_batch(reqs, viols, audits)

    def _fail(self, e: BaseException, what: str) -> None:
        self.write_errors += 1
        msg = str(e) if isinstance(e, (*self.store.transient_errors, StoreError)) else f"{type(e).__name__}: {e}"
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
                self._db.abandon()
            except Exception:
                pass
            self._db = None

    def _prune(self) -> None:
        """Apply retention and max_rows, a few chunks at a time."""
        if self._db is None or (self._retention is None and self.storage.max_rows is None):
            return
        try:
            self.pruned += self._db.prune(
                cutoff_for(self._retention),
                self.storage.max_rows,
                chunk=self.PRUNE_CHUNK,
                max_chunks=self.PRUNE_MAX_CHUNKS,
            )
        except self.store.transient_errors as e:
            log.warning("history: pruning %s failed: %s", self.path, e)


def make_recorder(
    path: Path | str | Store, storage: StorageConfig | None = None, **kw: Any
) -> Recorder | ProcessRecorder:
    """The history writer ``storage.writer`` asks for: a process of its own (:mod:`leash_cli.store.process`)
    or a thread.  ``path``: the store, or the path of a SQLite file."""
    storage = storage or StorageConfig()
    if storage.writer == "process" and os.name == "posix":  # (non-blocking pipes and select on them)
        return ProcessRecorder(path, storage, **kw)
    return Recorder(path, storage, **kw)
