"""The history writer process: ``python -m leash_cli.store LOCATION STORAGE_JSON MAX_PENDING`` (the gateway
starts it as ``python -c`` with :data:`~leash_cli.store.process._WRITER_MAIN`, which keeps numpy out).

Started by :class:`~leash_cli.store.process.ProcessRecorder` (``storage.writer: process``);
reads row items and commands from stdin (the frame protocol of
:mod:`leash_cli.store.process`), writes them with a
:class:`~leash_cli.store.writer.Recorder` and reports its status on stdout.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import Any

from leash_cli.config import StorageConfig
from leash_cli.store.process import _STATUS_EVERY, frame, items, read_frames
from leash_cli.store.writer import Recorder, _Flush

log = logging.getLogger("leash.store")


class _Done:
    """Stands in for a flush's threading.Event: when the writer sets it, it reports the token."""

    def __init__(self, report: Any, token: int) -> None:
        self.report, self.token = report, token

    def set(self) -> None:
        self.report(self.token)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path, storage_json, max_pending = argv[0], argv[1], int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the gateway decides when the writer stops
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rec = Recorder(path, StorageConfig.model_validate_json(storage_json), max_pending=max_pending)
    # rows here survive the gateway: commit in larger transactions than the gateway's hand-over interval
    rec.in_writer_process = True
    out = sys.stdout.buffer
    out_lock = threading.Lock()
    last: list[Any] = [0.0, (None,) * 6]

    def report(token: int | None = None) -> None:
        """A status frame: at once for a finished command or a change of state, else at most every 20 ms."""
        now = time.monotonic()
        key = (rec.finished, rec.failing, rec.last_error, rec.rows_written, rec.pruned, rec.write_errors)
        if token is None and (key == last[1] or (now - last[0] < _STATUS_EVERY and key[1:3] == last[1][1:3])):
            return
        last[0], last[1] = now, key
        counts = {
            "rows_written": rec.rows_written,
            "write_errors": rec.write_errors,
            "dropped": rec.dropped,
            "pruned": rec.pruned,
        }
        data = frame((rec.finished, rec.failing, rec.last_error, counts, token))
        with out_lock:
            try:
                out.write(data)
                out.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

    rec.on_round = report
    try:
        rec.start()
    except Exception as e:  # a corrupt file: the gateway checked it already; report and stop
        log.error("history writer: cannot start: %s", e)
        return 2
    report(None)
    stop_timeout = 10.0
    for msg in items(read_frames(sys.stdin.buffer.fileno())):
        kind = msg[0]
        if kind in ("s", "a", "x"):
            rec.submit_item(msg)
        elif kind == "F":
            _, token, what = msg
            rec.submit_item(_Flush(_Done(report, token), prune=what == "prune", index=what == "index"))
        elif kind == "C":  # in line with the rows: those sent before it keep the settings they were taken with
            rec.submit_item(("C", StorageConfig.model_validate_json(msg[1])))
        elif kind == "S":
            stop_timeout = float(msg[1])
            break
    rec.close(stop_timeout)
    report(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
