"""Where leash keeps its files.

``leash_home()`` is ``$LEASH_HOME`` when set, else ``~/.leash``.  The history
database is found by :func:`resolve_db_path` (first match wins):

1. an explicit ``--db PATH``;
2. ``storage.path`` from the config (``~`` expanded; a relative path is taken
   relative to the config file's folder when the config came from a file);
3. ``leash_home() / "leash.db"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DB_FILENAME = "leash.db"


def leash_home() -> Path:
    """``$LEASH_HOME`` or ``~/.leash`` (not created here)."""
    env = os.environ.get("LEASH_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".leash"


def resolve_db_path(explicit: str | os.PathLike[str] | None = None, config: Any = None) -> Path:
    """The history database path.

    ``config`` may be a ``Config``, a ``LoadedConfig`` (then a relative
    ``storage.path`` is relative to the config file) or None.
    """
    if explicit:
        return Path(explicit).expanduser()
    base: Path | None = None
    cfg = config
    if cfg is not None and hasattr(cfg, "config") and not hasattr(cfg, "storage"):
        # LoadedConfig: remember where the file lives
        path = getattr(cfg, "path", None)
        base = Path(path).parent if path else None
        cfg = cfg.config
    storage = getattr(cfg, "storage", None) if cfg is not None else None
    configured = getattr(storage, "path", None) if storage is not None else None
    if configured:
        p = Path(os.path.expanduser(str(configured)))
        if not p.is_absolute() and base is not None:
            p = base / p
        return p
    return leash_home() / DB_FILENAME
