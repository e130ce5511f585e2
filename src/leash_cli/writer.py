"""Moved: the history writer process is :mod:`leash_cli.store.process` (the gateway's side and
the frame protocol) and ``python -m leash_cli.store`` (the process); these names stay importable."""

from leash_cli.store.process import (
    ProcessRecorder,
    batch_frame,
    encode,
    frame,
    items,
    read_frames,
)
from leash_cli.store.process import (
    _Batch as _Batch,
)

__all__ = ["ProcessRecorder", "frame", "batch_frame", "encode", "items", "read_frames"]
