"""Where leash keeps its files.

``leash_home()`` is ``$LEASH_HOME`` when set, else ``~/.leash``.  The history
database is found by :func:`resolve_db_path` (first match wins):

1. an explicit ``--db PATH`` (or ``--db postgresql://…``);
2. ``storage.url`` from the config: a PostgreSQL database;
3. ``$LEASH_DATABASE_URL``: a PostgreSQL database;
4. ``storage.path`` from the config (``~`` expanded; a relative path is taken
   relative to the config file's folder when the config came from a file);
5. ``leash_home() / "leash.db"``.

A PostgreSQL database is returned as its URL (a ``str``), a SQLite file as a ``Path``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

DB_FILENAME = "leash.db"
_URL = re.compile(r"^postgres(?:ql)?://", re.I)
_MANGLED_URL = re.compile(r"^(postgres(?:ql)?):/+(?=[^/])", re.I)


def leash_home() -> Path:
    """``$LEASH_HOME`` or ``~/.leash`` (not created here)."""
    env = os.environ.get("LEASH_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".leash"


def resolve_db_path(explicit: str | os.PathLike[str] | None = None, config: Any = None) -> Path | str:
    """The history database: a SQLite file's path, or a PostgreSQL URL (a ``str``).

    ``config`` may be a ``Config``, a ``LoadedConfig`` (then a relative
    ``storage.path`` is relative to the config file) or None.
    """
    if explicit:
        # --db is a Path option: postgresql://host/db came in as postgresql:/host/db
        text = _MANGLED_URL.sub(r"\1://", os.fspath(explicit), count=1)
        return text if _URL.match(text) else Path(text).expanduser()
    base: Path | None = None
    cfg = config
    if cfg is not None and hasattr(cfg, "config") and not hasattr(cfg, "storage"):
        # LoadedConfig: remember where the file lives
        path = getattr(cfg, "path", None)
        base = Path(path).parent if path else None
        cfg = cfg.config
    storage = getattr(cfg, "storage", None) if cfg is not None else None
    url = getattr(storage, "url", None) if storage is not None else None
    if url:
        return str(url)
    env_url = os.environ.get("LEASH_DATABASE_URL")
    if env_url:
        return env_url
    configured = getattr(storage, "path", None) if storage is not None else None
    if configured:
        p = Path(os.path.expanduser(str(configured)))
        if not p.is_absolute() and base is not None:
            p = base / p
        return p
    return leash_home() / DB_FILENAME
