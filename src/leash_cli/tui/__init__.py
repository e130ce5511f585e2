"""``leash tui``: a terminal UI over the history (mitmproxy for LLM calls).

Only :func:`run_tui` lives here; Textual and the app are imported when it runs,
so importing ``leash_cli.tui`` costs nothing for the headless commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_tui"]


def run_tui(
    db_path: Path | str,
    url: str | None = None,
    *,
    config: Any = None,
    key: str | None = None,
) -> int:
    """Open the TUI on the history at ``db_path``; returns an exit code.

    ``url`` is the running gateway (for the health check and replay).
    ``config`` is a path, a ``LoadedConfig`` or a ``Config`` (for budgets and
    replay targets).  ``key`` (else ``$LEASH_REPLAY_KEY``) is sent with replays.
    A missing or unusable database prints a message and returns 1.
    """
    from leash_cli.store import StoreError, open_store
    from leash_cli.store.pg_url import is_postgres_url, redact_url

    # a SQLite file, or a PostgreSQL URL (storage.url)
    path: Path | str = db_path if is_postgres_url(db_path) else Path(db_path).expanduser()
    store = open_store(path)
    if not store.exists():
        where = redact_url(path) if isinstance(path, str) else path
        print(f"no history at {where} yet — start the gateway with `leash up`", file=sys.stderr)
        return 1
    if isinstance(config, (str, os.PathLike)):
        from leash_cli.config import ConfigError, load_config

        try:
            config = load_config(config)
        except ConfigError as e:
            print(f"leash tui: {e}", file=sys.stderr)
            return 1
    from leash_cli.tui.source import HistorySource

    try:
        source = HistorySource(store)
    except StoreError as e:
        print(f"leash tui: {e}", file=sys.stderr)
        return 1
    from leash_cli.tui.app import LeashApp

    app = LeashApp(source, url=url, config=config, replay_key=key or os.environ.get("LEASH_REPLAY_KEY"))
    try:
        result = app.run()
    finally:
        source.close()
    return int(result or app.return_code or 0)
