"""The history writer in its own process (``storage.writer: process``, the default for ``leash up``).

This module is the gateway's side (:class:`ProcessRecorder`) and the frame protocol; the
writer process itself is ``python -m leash_cli.store`` (:mod:`leash_cli.store.__main__`), a
:class:`~leash_cli.store.writer.Recorder` fed from its stdin.

Why a process: a writer *thread* shares the gateway's GIL.  Every time the
event loop releases the GIL (a socket send, a syscall, a C extension), the
writer takes it and the loop waits behind SQLite's row binding and commits;
on one core that costs the gateway about 30 % of its throughput.  In a
process of its own the writer formats and commits rows on another core, and
the gateway only takes a snapshot of each exchange's values; its event loop
writes the snapshots of each flush interval to a pipe in one write.

Protocol (both directions): frames of a 4-byte little-endian length, one
byte naming the encoding and the payload: ``P`` one pickled object, ``M`` a
list of objects in ``marshal`` format, ``L`` a pickled list.  The gateway
sends row items (``("s", snapshot, violations)``, the exchange's values that
the writer formats into a row, and ``("a", audit_row)``), all the items of one
flush interval in one list frame (``marshal`` takes about half of pickle's time
for these plain values and needs no memo; a list it cannot encode goes as
pickle), and commands (``("F", token, "flush"|"prune"|"index")``,
``("C", storage_json)`` after a reload, in line with the rows, ``("K", n)``
to skip the first ``n`` items that follow (a resent batch the last writer had
partly finished) and ``("S", timeout)`` to drain and stop).
The writer answers with status frames: how many items it has finished
(committed, or dropped), its state, its last error, its counters, and the
token of a finished command.

Nothing is lost when the writer dies: the gateway keeps every item until the
writer reports it finished — as the encoded batch it was sent in, so the
exchange's objects are let go after one flush interval rather than held until
the commit — starts a new writer (backing off 0.1 s to 5 s) and sends the
unfinished items again (request rows are upserts, so a row written twice is
one row).  The writer runs in its own session (a terminal's
Ctrl-C reaches the gateway, which then drains it) and stops by itself when
the gateway's end of the pipe closes, after writing what it was sent: a
SIGKILL of the gateway loses only rows it had not yet written to the pipe.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import marshal
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from leash_cli.config import StorageConfig, parse_duration
from leash_cli.exchange import Exchange
from leash_cli.store.backend import Store, StoreError
from leash_cli.store.factory import label, open_store
from leash_cli.store.rows import audit_row, build_violation_rows, snapshot

if sys.platform == "linux":  # F_SETPIPE_SZ is Linux's (storage.writer: process is POSIX only)
    import fcntl

log = logging.getLogger("leash.store")

_LEN = struct.Struct("<I")
_PICKLE = pickle.HIGHEST_PROTOCOL
_STATUS_EVERY = 0.02  # seconds between routine status frames from the writer
# how the writer process starts: ``python -m leash_cli.store``, with numpy and pandas made unimportable first.
# sqlite_utils imports them when they are installed (for their scalars' column types), and a process that
# writes rows of Python values needs neither: 12 MB less resident memory (numpy) and a faster start.  (A finder
# that refuses them, not ``sys.modules[...] = None``: psycopg takes a ``numpy`` key there to mean it is loaded.)
_WRITER_MAIN = """
import sys


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("numpy", "pandas"):
            raise ModuleNotFoundError(f"{name} is not loaded in the history writer", name=name)
        return None


sys.meta_path.insert(0, Refuse())
from leash_cli.store.__main__ import main

sys.exit(main())
"""


def frame(obj: Any) -> bytes:
    """One object, pickled."""
    data = pickle.dumps(obj, _PICKLE)
    return _LEN.pack(len(data) + 1) + b"P" + data


def batch_frame(items: list[tuple[Any, ...]]) -> bytes:
    """Many items in one frame: marshal when every value is a plain built-in, else pickle.
    An item even pickle cannot encode goes as ``("x", None)``: the writer counts it as
    finished and writes nothing (so the items after it keep their place in the count)."""
    try:
        data, kind = marshal.dumps(items, 4), b"M"
    except ValueError:  # a value marshal cannot encode (a str subclass, an object ...)
        try:
            data, kind = pickle.dumps(items, _PICKLE), b"L"
        except Exception:
            data, kind = pickle.dumps([_picklable(it) for it in items], _PICKLE), b"L"
    return _LEN.pack(len(data) + 1) + kind + data


def _picklable(item: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        pickle.dumps(item, _PICKLE)
        return item
    except Exception as e:
        rid = item[1][0] if item[0] == "s" and item[1] else "?"
        log.error("history: dropping a row that cannot be sent to the writer (%s): %s", rid, e)
        return ("x", None)


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    assert stream is not None  # the writer's stdin and stdout are pipes
    return stream


class _Batch:
    """Items already encoded and sent, kept until the writer has finished them all."""

    __slots__ = ("data", "count", "done")

    def __init__(self, data: bytes, count: int) -> None:
        self.data, self.count, self.done = data, count, 0


def encode(
    entries: Iterable[tuple[Any, ...] | bytes], unfinished: collections.deque[_Batch | tuple[Any, ...]] | None = None
) -> bytes:
    """The bytes for a run of queued entries: items (tuples) batched into list frames,
    commands and resent batches (bytes) in their place among them.  The items, the newest
    entries of ``unfinished`` (when given), are replaced there by the batches they went in."""
    frames: list[bytes] = []
    batches: list[_Batch] = []
    run: list[tuple[Any, ...]] = []
    for e in entries:
        if isinstance(e, bytes):
            if run:
                frames.append(batch_frame(run))
                batches.append(_Batch(frames[-1], len(run)))
                run = []
            frames.append(e)
        else:
            run.append(e)
    if run:
        frames.append(batch_frame(run))
        batches.append(_Batch(frames[-1], len(run)))
    if unfinished is not None:
        for _ in range(min(sum(b.count for b in batches), len(unfinished))):
            unfinished.pop()
        unfinished.extend(batches)
    return frames[0] if len(frames) == 1 else b"".join(frames)


def items(frames: Iterable[Any]) -> Iterator[Any]:
    """The items and commands of a frame stream with ``("K", n)`` applied (the writer's side)."""
    skip = 0
    for msg in frames:
        if msg[0] == "K":
            skip = int(msg[1])
        elif skip and msg[0] in ("s", "a", "x"):
            skip -= 1
        else:
            yield msg


def read_frames(fd: int) -> Iterator[Any]:
    """Yield the objects sent on ``fd`` (each item of a list frame) until it closes.

    Linear in the bytes read, whatever the frame size: reads land in one ``bytearray`` that
    grows in place, and the frames taken from its front are dropped in one deletion per read
    (``buf = buf + chunk`` copied a 100 MB frame once per 256 KiB read: 48 s)."""
    buf = bytearray()
    while True:
        chunk = os.read(fd, 1 << 18)
        if not chunk:
            return
        buf += chunk
        pos, size = 0, len(buf)
        while size - pos >= 4:
            (n,) = _LEN.unpack_from(buf, pos)
            if size - pos < 4 + n:
                break
            kind = buf[pos + 4]
            with memoryview(buf) as view:
                payload = bytes(view[pos + 5 : pos + 4 + n])
            pos += 4 + n
            if kind == 0x50:  # P
                yield pickle.loads(payload)
            elif kind == 0x4D:  # M
                yield from marshal.loads(payload)
            elif kind == 0x4C:  # L
                yield from pickle.loads(payload)
            else:
                raise ValueError(f"history writer protocol: unknown frame kind {kind!r}")
        if pos:
            del buf[:pos]


# -- the gateway's side ------------------------------------------------------------------


def _snapshot_size(snap: tuple[Any, ...]) -> int:
    """About how many bytes a row's snapshot holds (its bodies, already cut to the limit)."""
    size = 512
    for v in snap[27:30]:  # request body, response body, response text
        if v is not None and not isinstance(v, tuple):
            size += len(v)
    return size


_LAG_CACHE: dict[str, float] = {}


def _max_lag(storage: Any) -> float:
    """``storage.max_lag`` in seconds (parsed once per spelling)."""
    text = getattr(storage, "max_lag", "30s")
    got = _LAG_CACHE.get(text)
    if got is None:
        got = _LAG_CACHE[text] = parse_duration(text)
    return got


class ProcessRecorder:
    """The ``Recorder`` API (submit, audit, flush, prune, index, close, state ...) over a writer process."""

    RESTART_MAX = 5.0  # seconds, the longest wait between restarts of a dead writer

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
        self.pricer = pricer
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        # what the writer has not finished, oldest first: batches sent, then items not yet sent (tuples)
        self._unfinished: collections.deque[_Batch | tuple[Any, ...]] = collections.deque()
        self._depth = 0  # items in _unfinished
        # (monotonic time submitted, estimated bytes) of each unfinished item, oldest first: the
        # writer's lag (leash_store_lag_seconds) and the bytes held (storage.max_pending_bytes)
        self._meta: collections.deque[tuple[float, int]] = collections.deque()
        self._bytes = 0
        # what is not yet written to the pipe, in order: items (tuples, encoded when written) and
        # commands or the unwritten rest of a write (bytes)
        self._out: collections.deque[tuple[Any, ...] | bytes] = collections.deque()
        self._urgent = False  # a command is queued: write now
        self._need_sender = False  # the sender thread has bytes to write (else the event loop flushes)
        self._sending = False  # the sender thread is writing (outside the lock): nobody else may
        self._scheduled = False  # a flush is scheduled on the event loop
        self._out_since = 0.0  # when _out last went from empty to not empty
        self._finished = 0  # items of the current writer's count already taken off _unfinished
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None  # the writer's stdin, non-blocking
        self._waiters: dict[int, threading.Event] = {}
        self._token = 0
        self._closed = False
        self._started = False
        self._remote: dict[str, Any] = {"failing": False, "last_error": None}
        self._gone_error: str | None = None  # set while no writer is running
        self._counts = {"rows_written": 0, "write_errors": 0, "dropped": 0, "pruned": 0}
        self._base = dict(self._counts)  # counts of writers that have exited
        self._lost = 0  # items dropped here because no writer took them for too long
        self.build_errors = 0
        self._sender: threading.Thread | None = None
        self._reader: threading.Thread | None = None

    # -- status -----------------------------------------------------------------------------
    @property
    def storage(self) -> Any:
        return self._storage

    @storage.setter
    def storage(self, value: Any) -> None:  # a reload: new rows use the new settings at once
        self._storage = value
        if self._started:
            self._send(frame(("C", value.model_dump_json())), item=False)

    @property
    def enabled(self) -> bool:
        return bool(self._storage.enabled)

    @property
    def state(self) -> str:
        if not self.enabled:
            return "disabled"
        return "degraded" if (self._gone_error or self._remote["failing"] or self._lagging()) else "ok"

    @property
    def last_error(self) -> str | None:
        return self._gone_error or self._remote["last_error"] or self._lag_error()

    @property
    def lag_seconds(self) -> float:
        """How long the oldest row not yet written has waited (0 with none waiting)."""
        meta = self._meta
        try:
            return max(time.monotonic() - meta[0][0], 0.0) if meta else 0.0
        except IndexError:  # emptied meanwhile
            return 0.0

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def _lagging(self) -> bool:
        return self.lag_seconds > _max_lag(self._storage)

    def _lag_error(self) -> str | None:
        lag = self.lag_seconds
        limit = _max_lag(self._storage)
        if lag <= limit:
            return None
        return f"the history writer is {lag:.1f} s behind (storage.max_lag: {self._storage.max_lag}); {self._depth} rows waiting"

    @property
    def queue_depth(self) -> int:
        return self._depth

    def _count(self, name: str) -> int:
        return self._base[name] + self._counts[name]

    rows_written = property(lambda self: self._count("rows_written"))
    write_errors = property(lambda self: self._count("write_errors"))
    pruned = property(lambda self: self._count("pruned"))
    dropped = property(lambda self: self._count("dropped") + self._lost)

    @property
    def pid(self) -> int | None:
        """The writer process's pid (for benchmarks and diagnostics)."""
        return self._proc.pid if self._proc is not None else None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Migrate the database (a corrupt or newer file raises StoreError here), then start the writer."""
        if not self.enabled or self._started:
            return
        try:
            self.store.migrate()
        except StoreError:
            raise
        except Exception as e:  # the writer retries and reports; the gateway serves meanwhile
            self._remote = {"failing": True, "last_error": f"cannot open {self.path}: {e}"}
            log.error("history DEGRADED: %s", self._remote["last_error"])
        self._started = True
        self._spawn()
        self._sender = threading.Thread(target=self._send_loop, name="leash-history-sender", daemon=True)
        self._sender.start()

    def _spawn(self) -> None:
        cmd = [
            sys.executable,
            "-c",
            _WRITER_MAIN,
            self.store.location,
            self._storage.model_dump_json(),
            str(self.max_pending),
        ]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, close_fds=True
        )
        stdin = _pipe(proc.stdin)
        os.set_blocking(stdin.fileno(), False)
        if sys.platform == "linux" and hasattr(
            fcntl, "F_SETPIPE_SZ"
        ):  # room for many intervals of rows while the writer commits
            try:
                fcntl.fcntl(stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
            except OSError:  # above /proc/sys/fs/pipe-max-size for this user: keep the default
                pass
        with self._lock:
            self._proc, self._fd, self._finished = proc, stdin.fileno(), 0
            self._out = self._resend()  # a new writer gets everything unfinished
            self._need_sender = bool(self._out)
            self._wake.notify()
        self._reader = threading.Thread(target=self._read_loop, args=(proc,), name="leash-history-status", daemon=True)
        self._reader.start()

    def _resend(self) -> collections.deque[tuple[Any, ...] | bytes]:
        """Everything unfinished, for a new writer: batches as they were sent (the finished
        items of the first skipped), then the items not yet sent.  (Under the lock.)"""
        out: collections.deque[tuple[Any, ...] | bytes] = collections.deque()
        for e in self._unfinished:
            if isinstance(e, _Batch):
                if e.done:
                    out.append(frame(("K", e.done)))
                out.append(e.data)
            else:
                out.append(e)
        return out

    def submit(self, ex: Exchange) -> None:
        """Take the exchange's snapshot here (never raises, never blocks) and hand it to the
        writer.  The exchange must not change afterwards: the snapshot holds its values."""
        if self._closed or not self.enabled:
            return
        try:
            if ex.cost_usd is None and self.pricer is not None and ex.usage.known:
                ex.cost_usd, ex.cost_detail = self.pricer.price(ex.kind, ex.model, ex.usage, ex.provider)
            snap = snapshot(ex, self._storage)
            item = ("s", snap, build_violation_rows(ex))
        except Exception as e:
            self.build_errors += 1
            log.exception("history: cannot build a row for %r: %s", getattr(ex, "id", ex), e)
            return
        self._send(item, size=_snapshot_size(snap))

    def audit(self, event: str, detail: dict[str, Any] | None = None, actor: str | None = None) -> None:
        if self._closed or not self.enabled:
            return
        self._send(("a", audit_row(time.time(), event, actor, detail)))

    def _send(self, data: tuple[Any, ...] | bytes, item: bool = True, size: int = 512) -> None:
        """Queue an item (a tuple) or a command (framed bytes) for the writer.  Items wait up to
        ``storage.flush_interval_ms`` to go in one frame and one write with the items after
        them (a pipe write per request would cost the gateway a syscall and a wake-up of the
        writer each, and encoding them together costs less); commands go at once."""
        with self._lock:
            if item:
                assert type(data) is tuple
                self._unfinished.append(data)
                self._depth += 1
                self._meta.append((time.monotonic(), size))
                self._bytes += size
                max_bytes = self._storage.max_pending_bytes
                # no writer took rows for a long while: the oldest go (bounded in rows and in bytes)
                while self._depth > self.max_pending or (self._bytes > max_bytes and self._depth > 1):
                    self._drop_oldest()
            if not self._out:
                self._out_since = time.monotonic()
            self._out.append(data)
            if not item:  # a command: the sender thread writes it (and all before it) now
                self._urgent = self._need_sender = True
                self._wake.notify()
                return
            if self._scheduled:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:  # the gateway's event loop writes the batch: no thread to wake
                self._scheduled = True
                loop.call_later(self._storage.flush_interval_ms / 1000.0, self._flush_from_loop)
            elif not self._need_sender:
                self._need_sender = True
                self._wake.notify()

    def _drop_oldest(self) -> None:
        """Let the oldest unfinished item go, counted as lost.  (Under the lock.)"""
        old = self._unfinished[0]
        self._lost += 1
        if isinstance(old, _Batch):  # sent: the writer's count will include it
            self._take_finished(1)
            self._finished += 1
        else:  # never sent: it leaves the pipe's queue too
            self._unfinished.popleft()
            self._depth -= 1
            self._forget(1)
            if self._out and self._out[0] is old:
                self._out.popleft()
            else:  # behind a command or the rest of a write
                self._out.remove(old)  # (old is a tuple: never sent)
        if self._lost == 1 or self._lost % 1000 == 0:
            log.error("history: backlog full, dropped %d oldest rows so far", self._lost)

    def _forget(self, n: int) -> None:
        meta = self._meta
        for _ in range(min(n, len(meta))):
            self._bytes -= meta.popleft()[1]

    def _flush_from_loop(self) -> None:
        """In the event loop, once per flush interval: one non-blocking write of the queued rows;
        what the pipe cannot take now goes to the sender thread."""
        with self._lock:
            self._scheduled = False
            if not self._out or self._fd is None or self._need_sender or self._sending:
                if self._sending and self._out:  # never two writers on the pipe: the sender takes these too
                    self._need_sender = True
                return  # nothing to write, no writer (a new one is sent everything), or the sender has it
            data = encode(self._out, self._unfinished)
            self._out.clear()
            try:
                n = os.write(self._fd, data)
            except BlockingIOError:
                n = 0
            except OSError:  # the writer is gone: the status reader starts a new one and resends
                return
            if n < len(data):
                self._out.appendleft(data[n:])
                self._need_sender = True
                self._wake.notify()

    def _send_loop(self) -> None:
        """Write what the event loop does not: commands, rows submitted outside a loop (the rows
        of one flush interval in one write), what a full pipe left, everything a new writer gets."""
        while True:
            with self._lock:
                while not (
                    (self._out and self._fd is not None and self._need_sender) or (self._closed and not self._out)
                ):
                    self._wake.wait(1.0)
                    if self._out and time.monotonic() - self._out_since > 1.0:
                        self._need_sender = True  # rows left by an event loop that stopped flushing
                if not self._out:
                    return  # closed, all handed over
                if not (self._urgent or self._closed):
                    self._wake.wait(self._storage.flush_interval_ms / 1000.0)  # more rows join this write
                    if not self._out or self._fd is None:
                        continue
                fd = self._fd
                assert fd is not None  # the waits above end only with a writer to write to
                data = encode(self._out, self._unfinished)
                self._out.clear()
                self._urgent = self._need_sender = False
                self._sending = True
            view = memoryview(data)
            try:
                while view:
                    select.select([], [fd], [], 1.0)
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:
                        continue
            except (OSError, ValueError):
                pass  # the writer is gone: the status reader starts a new one, which is sent everything
            finally:
                with self._lock:
                    self._sending = False
                    if view and self._fd == fd:  # not gone: keep the rest first in line
                        self._out.appendleft(bytes(view))
                        self._need_sender = True
                    self._wake.notify_all()

    def _read_loop(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            for msg in read_frames(_pipe(proc.stdout).fileno()):
                self._status(msg)
        except (OSError, pickle.UnpicklingError, EOFError, struct.error):
            pass
        code = proc.wait()
        with self._lock:
            if self._proc is proc:
                self._fd = None
                self._out.clear()
            for name in self._counts:
                self._base[name] += self._counts[name]
                self._counts[name] = 0
            self._remote = {"failing": False, "last_error": None}
            waiters = list(self._waiters.values())
            self._waiters.clear()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        for ev in waiters:  # a flush waiting on a dead writer: answered (not written)
            ev.set()
        if self._closed:
            return
        self._gone_error = f"the history writer process exited (code {code}); restarting it"
        log.error("history DEGRADED: %s — keeping %d rows in memory", self._gone_error, self._depth)
        delay = 0.1
        while not self._closed:
            time.sleep(delay)
            try:
                self._spawn()
            except OSError as e:
                self._gone_error = f"cannot start the history writer process: {e}"
                delay = min(delay * 2, self.RESTART_MAX)
                continue
            self._gone_error = None
            log.warning("history: a new writer process is running (%d rows to write)", self._depth)
            return

    def _status(self, msg: tuple[Any, ...]) -> None:
        finished, failing, last_error, counts, token = msg
        with self._lock:
            self._take_finished(finished - self._finished)
            self._finished = max(finished, self._finished)
            self._remote = {"failing": failing, "last_error": last_error}
            self._counts.update(counts)
            ev = self._waiters.pop(token, None) if token is not None else None
        if ev is not None:
            ev.set()

    def _take_finished(self, n: int) -> None:
        """The writer finished ``n`` more items (the oldest): let them go.  (Under the lock.)"""
        u = self._unfinished
        while n > 0 and u:
            head = u[0]
            if type(head) is _Batch:
                take = min(n, head.count - head.done)
                head.done += take
                if head.done >= head.count:
                    u.popleft()
            else:
                take = 1
                u.popleft()
            n -= take
            self._depth -= take
            self._forget(take)

    def _command(self, kind: str, timeout: float) -> bool:
        if not self._started or self._closed:
            return self.queue_depth == 0
        ev = threading.Event()
        with self._lock:
            self._token += 1
            token = self._token
            self._waiters[token] = ev
        self._send(frame(("F", token, kind)), item=False)
        if not ev.wait(timeout):
            with self._lock:
                self._waiters.pop(token, None)
            return False
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is written.  False: not (yet) written."""
        return self._command("flush", timeout) and self.queue_depth == 0

    def prune(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then apply retention now."""
        return self._command("prune", timeout)

    def index(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then full-text index every row now."""
        return self._command("index", timeout)

    def close(self, timeout: float = 10) -> None:
        """Write everything submitted, then stop the writer (waits at most about ``timeout`` seconds)."""
        if self._closed:
            return
        if not self._started:
            self._closed = True
            return
        self._send(frame(("S", timeout)), item=False)
        deadline = time.monotonic() + timeout + 1.0
        with self._lock:
            self._closed = True  # the sender hands over what is left, then ends
            self._wake.notify_all()
            proc = self._proc
        if self._sender is not None:
            self._sender.join(max(deadline - time.monotonic(), 0.1))
        if proc is not None:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(1.0)
        if self._depth:
            log.error(
                "history: %d rows could not be written to %s before shutdown%s",
                self._depth,
                self.path,
                f" ({self.last_error})" if self.last_error else "",
            )
