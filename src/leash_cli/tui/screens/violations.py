"""Policy findings: blocks, redactions and shadow hits by module and type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from leash_cli.store import mask_credentials
from leash_cli.tui.format import fmt_time
from leash_cli.tui.widgets.guard import mounted_only
from leash_cli.tui.widgets.health import HealthStrip

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost

ACTION_LABELS = {"block": "blocked", "redact": "redacted", "shadow_block": "shadow hit", "log": "logged",
                 "alert": "alert"}


class ViolationsScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", show=True),
        Binding("R", "refresh", "Refresh", show=False),
    ]

    app: LeashHost

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[dict[str, Any]] = []
        self.recent: list[dict[str, Any]] = []
        self.group: tuple[str | None, str | None, str | None] | None = None

    def compose(self) -> ComposeResult:
        yield HealthStrip(id="health")
        with Vertical(id="violations-body"):
            groups: DataTable = DataTable(id="violation-groups", cursor_type="row", zebra_stripes=True)
            groups.border_title = "by module and type"
            yield groups
            with Vertical(id="violation-trend") as trend:
                trend.border_title = "per day (UTC), last 30 days"
                yield Sparkline([], id="violation-sparkline")
            recent: DataTable = DataTable(id="violation-recent", cursor_type="row", zebra_stripes=True)
            recent.border_title = "recent (Enter opens the exchange)"
            yield recent
            yield Static("No violations recorded: every exchange went through untouched.", id="violations-empty",
                         markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#violation-groups", DataTable).add_columns(
            "module", "type", "action", "24 h", "7 days", "total", "last seen")
        self.query_one("#violation-recent", DataTable).add_columns(
            "time (UTC)", "module", "type", "action", "provider", "model", "tenant", "detail", "request")
        self.query_one("#violations-empty").display = False
        self.load()
        self.set_interval(5.0, self.load)

    def on_screen_resume(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="violations")
    def load(self) -> None:
        src, now = self.app.source, self.app.now()
        groups = src.violation_groups(now)
        g = self.group
        recent = src.recent_violations(*(g or (None, None, None)))
        trend = src.violations_per_day(now, 30, *(g[:2] if g else (None, None)))
        self.app.call_from_thread(self.show, groups, recent, trend)

    @mounted_only
    def show(self, groups: list[dict], recent: list[dict], trend: list[int]) -> None:
        now = self.app.now()
        self.groups, self.recent = groups, recent
        gt = self.query_one("#violation-groups", DataTable)
        cur = gt.cursor_row
        gt.clear()
        if groups:
            gt.add_row("(all)", "", "", f"{sum(r['day'] or 0 for r in groups):,}",
                       f"{sum(r['week'] or 0 for r in groups):,}", f"{sum(r['total'] for r in groups):,}",
                       fmt_time(max(r["last_seen"] or "" for r in groups), now))
        for r in groups:
            action = r["action"] or "-"
            gt.add_row(r["module"] or "-", r["type"] or "-", ACTION_LABELS.get(action, action),
                       f"{r['day'] or 0:,}", f"{r['week'] or 0:,}", f"{r['total']:,}",
                       fmt_time(r["last_seen"], now))
        if groups:
            gt.move_cursor(row=min(cur, len(groups)))
        self._show_recent(recent, now)
        self.query_one("#violation-sparkline", Sparkline).data = trend
        empty = not groups
        self.query_one("#violations-empty").display = empty
        for sel in ("#violation-groups", "#violation-trend", "#violation-recent"):
            self.query_one(sel).display = not empty

    def _show_recent(self, recent: list[dict], now: float) -> None:
        rt = self.query_one("#violation-recent", DataTable)
        cur = rt.cursor_row
        rt.clear()
        for v in recent:
            action = v["action"] or "-"
            detail = mask_credentials(str(v.get("detail") or ""))
            rt.add_row(fmt_time(v["created_at"], now), v["module"] or "-", v["type"] or "-",
                       ACTION_LABELS.get(action, action), v.get("provider") or "-", v.get("model") or "-",
                       v.get("tenant") or "-", detail[:60], v["request_id"])
        if recent:
            rt.move_cursor(row=min(cur, len(recent) - 1))
        title = "recent (Enter opens the exchange)"
        if self.group:
            title = f"recent {self.group[0]}/{self.group[1]} (Enter opens the exchange)"
        rt.border_title = title

    @on(DataTable.RowHighlighted, "#violation-groups")
    def pick_group(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row <= len(self.groups):
            group = None
            if event.cursor_row > 0:
                r = self.groups[event.cursor_row - 1]
                group = (r["module"], r["type"], r["action"])
            if group != self.group:
                self.group = group
                self.load()

    @on(DataTable.RowSelected, "#violation-groups")
    def focus_recent(self, event: DataTable.RowSelected) -> None:
        self.query_one("#violation-recent", DataTable).focus()

    @on(DataTable.RowSelected, "#violation-recent")
    def open_recent(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.recent):
            self.app.open_detail(self.recent[event.cursor_row]["request_id"])

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            if focused.id == "violation-recent" and self.recent:
                self.app.open_detail(self.recent[focused.cursor_row]["request_id"])
            elif focused.id == "violation-groups":
                self.query_one("#violation-recent", DataTable).focus()
