"""``leash tui``: the Textual app (traffic, detail, cost, violations, replay).

The app is handed a :class:`~leash_cli.tui.source.HistorySource` and never
imports the proxy.  All I/O runs in thread workers; replay speaks HTTP to the
gateway at ``url``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
from textual import work
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from leash_cli.tui.host import LeashHost
from leash_cli.tui.replay import ReplayResult, build_replay, send_replay
from leash_cli.tui.screens.compare import CompareScreen
from leash_cli.tui.screens.cost import CostScreen
from leash_cli.tui.screens.detail import DetailScreen
from leash_cli.tui.screens.help import HelpScreen
from leash_cli.tui.screens.replay import ReplayScreen
from leash_cli.tui.screens.traffic import TrafficScreen
from leash_cli.tui.screens.violations import ViolationsScreen
from leash_cli.tui.source import HistorySource
from leash_cli.tui.widgets.health import HealthState, breakers_of

__all__ = ["LeashApp"]

DARK, LIGHT = "textual-dark", "textual-light"


class LeashApp(LeashHost):
    """mitmproxy for LLM calls."""

    CSS_PATH = "leash.tcss"
    TITLE = "leash"
    MODES: ClassVar[dict[str, Any]] = {
        "traffic": TrafficScreen,
        "cost": CostScreen,
        "violations": ViolationsScreen,
    }
    DEFAULT_MODE = "traffic"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('traffic')", "Traffic"),
        Binding("2", "switch_mode('cost')", "Cost"),
        Binding("3", "switch_mode('violations')", "Violations"),
        Binding("question_mark", "help", "Help"),
        Binding("t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    health: reactive[HealthState | None] = reactive(None)

    def __init__(
        self,
        source: HistorySource,
        *,
        url: str | None = None,
        config: Any = None,
        now: float | Callable[[], float] | None = None,
        replay_key: str | None = None,
        poll_interval: float = 0.5,
        health_interval: float = 3.0,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.url = url.rstrip("/") if url else None
        self.config = getattr(config, "config", config)  # a LoadedConfig or a Config
        if now is None:
            self.clock: Callable[[], float] = time.time
        elif callable(now):
            self.clock = now
        else:
            frozen = float(now)
            self.clock = lambda: frozen
        self.frozen = now is not None and not callable(now)
        self.replay_key = replay_key
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.export_dir = export_dir
        self.filter_history: list[str] = []
        self.theme = DARK

    def now(self) -> float:
        return self.clock()

    # -- lifecycle -----------------------------------------------------------------
    def on_mount(self) -> None:
        self.refresh_health()
        self.set_interval(self.health_interval, self.refresh_health)

    @work(thread=True, exclusive=True, group="health")
    def refresh_health(self) -> None:
        try:
            stats = self.source.health(self.now())
        except Exception:
            stats = None
        gateway = "unknown"
        breakers: tuple[tuple[str, str, str], ...] = ()
        deployments = 0
        if self.url:
            try:
                r = httpx.get(f"{self.url}/health", timeout=2.0, trust_env=False)
                gateway = "up" if r.status_code == 200 else "down"
                try:
                    breakers, deployments = breakers_of(r.json())
                except ValueError:  # not JSON: nothing to say about breakers
                    pass
            except httpx.HTTPError:
                gateway = "down"
        state = HealthState(gateway, stats, self.url, breakers, deployments)
        self.call_from_thread(setattr, self, "health", state)

    # -- actions -----------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def open_detail(self, request_id: str) -> None:
        self.push_screen(DetailScreen(request_id))

    def start_replay(self, row: dict[str, Any]) -> None:
        """Ask where to replay ``row`` (a listing row or a full exchange), then send it."""
        if not self.url:
            self.notify(
                "replay needs the gateway's address: run `leash tui --url http://127.0.0.1:8080`", severity="warning"
            )
            return
        self.push_screen(ReplayScreen(row), callback=lambda choice: self._replay_chosen(row, choice))

    def _replay_chosen(self, row: dict[str, Any], choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        provider, model = choice
        self.notify(f"replaying {row['id']} via {provider} …")
        self.run_replay(row["id"], provider, model)

    @work(thread=True, exclusive=True, group="replay")
    def run_replay(self, request_id: str, provider: str | None, model: str | None) -> None:
        old = self.source.get(request_id)
        if old is None:
            self.call_from_thread(self.notify, f"{request_id} is no longer in the history", severity="error")
            return
        req = build_replay(old, self.url or "", provider=provider, model=model, key=self.replay_key)
        result = send_replay(req)
        new = None
        if result.request_id:
            deadline = time.monotonic() + 5.0
            while new is None and time.monotonic() < deadline:
                new = self.source.get(result.request_id)
                if new is None:
                    time.sleep(0.1)
        self.call_from_thread(self._show_compare, old, new, result)

    def _show_compare(self, old: dict[str, Any], new: dict[str, Any] | None, result: ReplayResult) -> None:
        if result.error:
            self.notify(f"replay failed: {result.error}", severity="error")
            return
        self.push_screen(CompareScreen(old, new, result))
