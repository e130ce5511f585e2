"""The home view: live traffic, newest first, with a filter bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from leash_cli.store.filters import Filter, FilterError, compile_filter
from leash_cli.tui.widgets.guard import mounted_only
from leash_cli.tui.widgets.health import HealthStrip
from leash_cli.tui.widgets.traffic_table import TrafficTable

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost

PAGE = 200


class FilterInput(Input):
    """The filter bar: Enter applies, Escape closes, Up/Down walk the history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
        Binding("escape", "close", "Close", show=False),
    ]

    app: LeashHost

    def __init__(self, **kw: Any) -> None:
        super().__init__(
            placeholder="filter: ~p openai & ~s 5xx | ~c >0.01 | words …  (Enter applies, Esc closes)", **kw
        )
        self._pos: int | None = None

    def action_history(self, step: int) -> None:
        hist = self.app.filter_history
        if not hist:
            return
        pos = len(hist) if self._pos is None else self._pos
        pos = max(0, min(pos + step, len(hist)))
        self._pos = pos
        self.value = hist[pos] if pos < len(hist) else ""
        self.cursor_position = len(self.value)

    def action_close(self) -> None:
        self._pos = None
        screen = self.screen
        if isinstance(screen, TrafficScreen):  # the only screen with a filter bar
            screen.close_filter()


class TrafficScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_filter", "Filter"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("r", "replay", "Replay"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    app: LeashHost

    def __init__(self) -> None:
        super().__init__()
        self.flt: Filter = compile_filter("")
        self.gen = 0  # bumped on every reload: late worker results of an older one are dropped
        self.last_rowid: int | None = None
        self._polling = False
        self._loading_page = False
        self._loaded_once = False

    def compose(self) -> ComposeResult:
        yield HealthStrip(id="health")
        with Vertical(id="filter-bar"):
            yield FilterInput(id="filter")
            yield Static("", id="filter-error", markup=False)
        yield TrafficTable(now=self.app.now, id="traffic")
        yield Static("", id="empty", markup=False)
        yield Static("", id="status", markup=False)
        yield Footer()

    @property
    def table(self) -> TrafficTable:
        return self.query_one(TrafficTable)

    def on_mount(self) -> None:
        self.query_one("#filter-bar").display = False
        self.query_one("#empty").display = False
        self.table.focus()
        self.reload()
        self.set_interval(self.app.poll_interval, self.poll)

    # -- loading ----------------------------------------------------------------------
    def reload(self) -> None:
        self.gen += 1
        self.last_rowid = None
        self._loading_page = False
        self.table.clear()
        self.table.set_follow(True)
        self.load_first(self.gen, self.flt)
        self.update_status()

    @work(thread=True, exclusive=True, group="page")
    def load_first(self, gen: int, flt: Filter) -> None:
        try:
            last = self.app.source.max_rowid()
            rows = self.app.source.page(flt, None, PAGE)
        except Exception as e:  # a locked or vanished file: say so, keep running
            self.app.call_from_thread(self.app.notify, f"cannot read the history: {e}", severity="error")
            return
        self.app.call_from_thread(self._first_loaded, gen, rows, last)

    @mounted_only
    def _first_loaded(self, gen: int, rows: list[dict], last: int) -> None:
        if gen != self.gen or not self.is_mounted:
            return
        self.table.append_page(rows, len(rows) >= PAGE)
        self.last_rowid = last
        self._loaded_once = True
        self.update_status()

    @on(TrafficTable.NearEnd)
    def load_more(self) -> None:
        t = self.table
        if self._loading_page or not t.has_more or not t.rows:
            return
        self._loading_page = True
        last = t.rows[-1]
        self.load_page(self.gen, self.flt, (last["started_at"], last["id"]))

    @work(thread=True, group="more")
    def load_page(self, gen: int, flt: Filter, before: tuple[str, str]) -> None:
        try:
            rows = self.app.source.page(flt, before, PAGE)
        except Exception as e:
            rows = []
            self.app.call_from_thread(self.app.notify, f"cannot read the history: {e}", severity="error")
        self.app.call_from_thread(self._page_loaded, gen, rows)

    @mounted_only
    def _page_loaded(self, gen: int, rows: list[dict]) -> None:
        self._loading_page = False
        if gen != self.gen or not self.is_mounted:
            return
        self.table.append_page(rows, len(rows) >= PAGE)
        self.update_status()

    def poll(self) -> None:
        if self._polling or self.last_rowid is None:
            return
        self._polling = True
        self.poll_new(self.gen, self.flt, self.last_rowid)

    @work(thread=True, group="poll")
    def poll_new(self, gen: int, flt: Filter, after: int) -> None:
        rows: list[dict] = []
        last = after
        try:
            last = self.app.source.max_rowid()
            if last > after:
                rows = self.app.source.newer(flt, after, limit=5000)
                if len(rows) >= 5000:  # a flood: keep up from the newest, paging covers the rest
                    last = rows[-1]["_rowid"]
        except Exception:
            pass
        self.app.call_from_thread(self._polled, gen, rows, last)

    @mounted_only
    def _polled(self, gen: int, rows: list[dict], last: int) -> None:
        self._polling = False
        if gen != self.gen or not self.is_mounted:
            return
        self.last_rowid = max(last, self.last_rowid or 0)
        if rows:
            self.table.add_live(rows)
        self.update_status()

    # -- status --------------------------------------------------------------------------
    def update_status(self) -> None:
        t = self.table
        parts = []
        if t.follow:
            parts.append("● follow")
        else:
            parts.append("❚❚ paused" + (f" · {t.unseen} new" if t.unseen else "") + " · f to follow")
        parts.append(f"{len(t.rows):,} loaded" + ("+" if t.has_more else ""))
        if self.flt:
            parts.append(f"filter: {self.flt.text}")
        if self.app.url:
            parts.append(self.app.url)
        status = self.query_one("#status", Static)
        status.update("  │  ".join(parts))
        status.set_class(not t.follow, "-paused")
        empty = self.query_one("#empty", Static)
        show_empty = self._loaded_once and not t.rows
        if show_empty:
            if self.flt:
                empty.update(f"No exchanges match {self.flt.text!r}.\nPress / to change the filter, Esc to clear it.")
            else:
                empty.update(
                    "No exchanges yet.\n\nStart the gateway with `leash up` and send a request "
                    "(for example to /v1/mock/chat/completions);\nit appears here within a second."
                )
        empty.display = show_empty
        t.display = not show_empty

    # -- follow ------------------------------------------------------------------------------
    @on(TrafficTable.LeftTop)
    def pause_follow(self) -> None:
        if self.table.follow:
            self.table.follow = False
            self.update_status()

    def action_toggle_follow(self) -> None:
        self.table.set_follow(not self.table.follow)
        self.update_status()

    # -- detail, replay ------------------------------------------------------------------------
    @on(TrafficTable.Selected)
    def open_detail(self, event: TrafficTable.Selected) -> None:
        self.app.open_detail(event.row["id"])

    def action_replay(self) -> None:
        row = self.table.selected
        if row is None:
            self.notify("no exchange selected", severity="warning")
            return
        self.app.start_replay(row)

    # -- filter ------------------------------------------------------------------------------
    def action_open_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.display = True
        inp = self.query_one(FilterInput)
        inp.value = self.flt.text
        inp.cursor_position = len(inp.value)
        inp.focus()

    def close_filter(self) -> None:
        self.query_one("#filter-bar").display = False
        self.query_one("#filter-error", Static).update("")
        self.table.focus()

    def action_clear_filter(self) -> None:
        if self.flt:
            self.apply_filter("")

    @on(Input.Changed, "#filter")
    def check_filter(self, event: Input.Changed) -> None:
        err = self.query_one("#filter-error", Static)
        try:
            compile_filter(event.value)
        except FilterError as e:
            err.update(f"{' ' * e.pos}^ {e.message}")
            err.add_class("-error")
        else:
            err.update("")
            err.remove_class("-error")

    @on(Input.Submitted, "#filter")
    def submit_filter(self, event: Input.Submitted) -> None:
        if self.apply_filter(event.value):
            self.query_one(FilterInput)._pos = None
            self.close_filter()

    def apply_filter(self, text: str) -> bool:
        try:
            flt = compile_filter(text)
        except FilterError as e:
            err = self.query_one("#filter-error", Static)
            err.update(f"{' ' * e.pos}^ {e.message}")
            err.add_class("-error")
            return False
        text = text.strip()
        hist = self.app.filter_history
        if text and (not hist or hist[-1] != text):
            if text in hist:
                hist.remove(text)
            hist.append(text)
        self.flt = flt
        self.reload()
        return True
