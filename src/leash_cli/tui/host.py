"""What the screens use of the app.

:class:`~leash_cli.tui.app.LeashApp` implements this base; the screens are
typed against it (``app: LeashHost``) and never import the app module, which
imports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

from leash_cli.tui.source import HistorySource

__all__ = ["LeashHost"]


class LeashHost(App[int]):
    """The app as its screens see it: the history, the gateway's address, the config, navigation."""

    source: HistorySource
    url: str | None
    config: Any  # the loaded Config, or None
    replay_key: str | None
    poll_interval: float
    export_dir: Path | None
    filter_history: list[str]

    def now(self) -> float:
        """The current time (frozen in snapshot tests)."""
        raise NotImplementedError

    def open_detail(self, request_id: str) -> None:
        """Show one exchange in full."""
        raise NotImplementedError

    def start_replay(self, row: dict[str, Any]) -> None:
        """Ask where to replay ``row``, then send it and compare."""
        raise NotImplementedError
