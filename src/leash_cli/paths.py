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

Stored prompts are private: ``LEASH_HOME`` (and any folder leash creates for a
database) is made ``0700``, the database and its ``-wal``/``-shm`` files
``0600``; an existing home or database with looser modes is tightened, with a
notice in the log (:func:`secure_db_path`).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

DB_FILENAME = "leash.db"
DIR_MODE = 0o700
FILE_MODE = 0o600
#: the files SQLite keeps beside a database in WAL mode
DB_SIDE_FILES = ("-wal", "-shm", "-journal")

log = logging.getLogger("leash.paths")

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


def _posix() -> bool:
    return os.name == "posix"


def _tighten(path: Path, what: str) -> None:
    """Remove group and other permissions from ``path`` (when it has any), with a notice."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    current = stat.S_IMODE(st.st_mode)
    if current & 0o077:
        new = current & ~0o077  # (the owner's own bits are left as they are)
        try:
            os.chmod(path, new)
        except OSError as e:  # not ours to change (another owner): say so, and go on
            log.warning(
                "%s %s is readable by other users (%04o) and could not be tightened: %s", what, path, current, e
            )
            return
        log.warning(
            "tightened the permissions of %s %s from %04o to %04o (stored prompts are private)",
            what,
            path,
            current,
            new,
        )


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) with mode 0700 if missing; ``LEASH_HOME`` itself is
    tightened to 0700 when it exists with looser modes.  Other existing folders (a project folder
    holding ``storage.path``) are left as they are."""
    if not _posix():
        path.mkdir(parents=True, exist_ok=True)
        return
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # (mkdir's mode is masked by the umask)
        return
    try:
        is_home = path.resolve() == leash_home().resolve()
    except OSError:
        is_home = False
    if is_home:
        _tighten(path, "the leash home")


def secure_db_path(path: Path) -> None:
    """Before a database is opened for writing: its folder private (see :func:`private_dir`), the
    file created 0600 if missing (SQLite gives its -wal and -shm files the same mode), and an
    existing database and its side files tightened to 0600."""
    private_dir(path.parent)
    if not _posix():
        return
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.chmod(path, FILE_MODE)
    secure_db_files(path)


def secure_db_files(path: Path) -> None:
    """Tighten an existing database and its side files to 0600 (with a notice when they were looser)."""
    if not _posix():
        return
    _tighten(path, "the database")
    for suffix in DB_SIDE_FILES:
        _tighten(path.with_name(path.name + suffix), "the database file")
