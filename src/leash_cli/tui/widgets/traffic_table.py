"""The traffic list: a Line API table that renders only the visible rows.

Rows live in a Python list, newest first (keyset order ``(started_at, id)``
descending).  Pages are appended at the bottom as the user scrolls
(:class:`NearEnd` asks the screen for more) and live rows are inserted at the
top (or at their place when a slow exchange lands late).  Colours come from
the component classes, styled in ``leash.tcss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from leash_cli.tui.format import fmt_cost, fmt_ms, fmt_time, fmt_tokens, verdict_label

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    align: str = "left"  # or "right"


#: in the order shown; MODEL takes the width left over
COLUMNS = {
    "time": Column("time", "time (UTC)", 12),
    "tenant": Column("tenant", "tenant", 10),
    "provider": Column("provider", "provider", 10),
    "model": Column("model", "model", 0),
    "status": Column("status", "st", 3, "right"),
    "outcome": Column("outcome", "outcome", 14),
    "stream": Column("stream", "≋", 1),
    "latency": Column("latency", "latency", 7, "right"),
    "overhead": Column("overhead", "leash", 6, "right"),
    "tokens": Column("tokens", "tok in/out", 11, "right"),
    "cost": Column("cost", "cost", 8, "right"),
    "verdict": Column("verdict", "verdict", 14),
}
#: which columns to keep as the width shrinks (first = most important)
PRIORITY = (
    "time",
    "status",
    "stream",
    "verdict",
    "model",
    "latency",
    "cost",
    "provider",
    "tokens",
    "overhead",
    "tenant",
    "outcome",
)
MODEL_MIN = 12


def _key(row: Row) -> tuple[str, str]:
    return (row.get("started_at") or "", row.get("id") or "")


class TrafficTable(ScrollView, can_focus=True):
    """Newest-first exchanges; Enter posts :class:`Selected`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "traffic--header",
        "traffic--cursor",
        "traffic--allowed",
        "traffic--blocked",
        "traffic--redacted",
        "traffic--shadow",
        "traffic--error",
        "traffic--stream",
        "traffic--unpriced",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home,g", "first", "Newest", show=False),
        Binding("end,G", "last", "Oldest loaded", show=False),
        Binding("enter", "select", "Detail"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Selected(Message):
        row: Row

    @dataclass
    class NearEnd(Message):
        """The view is close to the last loaded row: load the next page."""

    @dataclass
    class LeftTop(Message):
        """The user moved away from the newest rows (pauses follow mode)."""

    def __init__(
        self, *, now: Any = None, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.rows: list[Row] = []
        self._ids: set[str] = set()
        self.has_more = False
        self.follow = True
        self.unseen = 0
        self._clock = now
        self._columns: list[tuple[Column, int]] = []
        self._columns_width = -1

    # -- data ------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._clock()

    @property
    def selected(self) -> Row | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def clear(self) -> None:
        self.rows = []
        self._ids = set()
        self.has_more = False
        self.unseen = 0
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._resize()

    def append_page(self, rows: list[Row], has_more: bool) -> None:
        """Older rows, at the bottom."""
        fresh = [r for r in rows if r["id"] not in self._ids]
        self.rows.extend(fresh)
        self._ids.update(r["id"] for r in fresh)
        self.has_more = has_more
        self._resize()

    def add_live(self, rows: list[Row]) -> int:
        """Newly written rows (any order): returns how many were added above the view."""
        top_key = _key(self.rows[0]) if self.rows else None
        above: list[Row] = []
        for r in rows:
            rid = r["id"]
            if rid in self._ids:
                continue
            k = _key(r)
            if top_key is None or k > top_key:
                above.append(r)
                continue
            # a late row: put it in its place, if that place is loaded
            lo, hi = 0, len(self.rows)
            while lo < hi:
                mid = (lo + hi) // 2
                if _key(self.rows[mid]) > k:
                    lo = mid + 1
                else:
                    hi = mid
            if lo >= len(self.rows) and self.has_more:
                continue  # it will come with its page
            self.rows.insert(lo, r)
            self._ids.add(rid)
            if lo <= self.cursor and not self.follow:
                self.cursor += 1
        if above:
            above.sort(key=_key, reverse=True)
            self.rows[0:0] = above
            self._ids.update(r["id"] for r in above)
        n = len(above)
        if self.follow:
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True)
        elif n:
            self.unseen += n
            self.cursor += n
            self._resize()
            self.scroll_to(y=self.scroll_y + n, animate=False, immediate=True)
        self._resize()
        self.refresh()
        return n

    def set_follow(self, on: bool) -> None:
        self.follow = on
        if on:
            self.unseen = 0
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True)

    # -- layout ---------------------------------------------------------------------------
    def _resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows) + 1)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._columns_width = -1
        self._resize()

    def layout_columns(self, width: int) -> list[tuple[Column, int]]:
        """The columns that fit in ``width`` cells (one space between), with their widths."""
        if width == self._columns_width:
            return self._columns
        chosen: set[str] = {"model"}
        used = MODEL_MIN
        for key in PRIORITY:
            if key == "model":
                continue
            w = COLUMNS[key].width + 1
            if used + w <= width:
                chosen.add(key)
                used += w
        model_w = max(width - (used - MODEL_MIN), 1)
        cols = [(c, model_w if c.key == "model" else c.width) for k, c in COLUMNS.items() if k in chosen]
        self._columns, self._columns_width = cols, width
        return cols

    def _visible_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    # -- rendering -------------------------------------------------------------------------
    def _cell(self, key: str, row: Row) -> tuple[str, str | None]:
        """(text, component class or None) of one cell."""
        if key == "time":
            return fmt_time(row.get("started_at"), self.now), None
        if key == "status":
            st = row.get("status")
            cls = "traffic--error" if st and st >= 400 and (row.get("verdict") or "allowed") == "allowed" else None
            return ("-" if st is None else str(st)), cls
        if key == "stream":
            return ("≋" if row.get("stream") else " "), "traffic--stream"
        if key == "latency":
            return fmt_ms(row.get("latency_ms")), None
        if key == "overhead":
            return fmt_ms(row.get("overhead_ms")), None
        if key == "tokens":
            return fmt_tokens(row.get("input_tokens"), row.get("output_tokens")), None
        if key == "cost":
            c = row.get("cost_usd")
            return fmt_cost(c), ("traffic--unpriced" if c is None else None)
        if key == "verdict":
            v = row.get("verdict") or "allowed"
            cls = {
                "blocked": "traffic--blocked",
                "redacted": "traffic--redacted",
                "shadow_blocked": "traffic--shadow",
            }.get(v, "traffic--allowed")
            return verdict_label(v), cls
        if key == "outcome":
            o = row.get("outcome") or "-"
            return o, ("traffic--error" if o in ("error", "upstream_error") else None)
        v = row.get(key)
        return ("-" if v is None else str(v)), None

    @staticmethod
    def _fit(text: str, width: int, align: str) -> str:
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…" if width > 1 else text[:width]
        return text.rjust(width) if align == "right" else text.ljust(width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        cols = self.layout_columns(width)
        base = self.rich_style
        if y == 0:
            style = self.get_component_rich_style("traffic--header")
            text = " ".join(self._fit(c.label, w, c.align) for c, w in cols)
            return Strip([Segment(text, style)]).adjust_cell_length(width, style)
        idx = int(self.scroll_y) + y - 1
        if idx >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[idx]
        row_style: Style = base
        if idx == self.cursor:
            row_style = base + self.get_component_rich_style("traffic--cursor", partial=True)
        segs: list[Segment] = []
        for i, (c, w) in enumerate(cols):
            if i:
                segs.append(Segment(" ", row_style))
            text, cls = self._cell(c.key, row)
            style = row_style
            if cls:
                style = row_style + self.get_component_rich_style(cls, partial=True)
                if idx == self.cursor:
                    style += self.get_component_rich_style("traffic--cursor", partial=True)
            segs.append(Segment(self._fit(text, w, c.align), style))
        return Strip(segs).adjust_cell_length(width, row_style)

    # -- cursor -------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        if not self.rows:
            return
        self.scroll_to_cursor()
        self.refresh()
        self._check_near_end()

    def scroll_to_cursor(self) -> None:
        h = self._visible_rows()
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, immediate=True)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new > old and self.follow and new >= 1:
            self.post_message(self.LeftTop())
        self._check_near_end()

    def _check_near_end(self) -> None:
        if self.has_more and int(self.scroll_y) + self._visible_rows() * 2 >= len(self.rows) - 1:
            self.post_message(self.NearEnd())

    def _move(self, to: int) -> None:
        if not self.rows:
            return
        to = max(0, min(to, len(self.rows) - 1))
        if to > 0 and self.follow:
            self.post_message(self.LeftTop())
        self.cursor = to

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_page_up(self) -> None:
        self._move(self.cursor - self._visible_rows())

    def action_page_down(self) -> None:
        self._move(self.cursor + self._visible_rows())

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self.rows) - 1)

    def action_select(self) -> None:
        row = self.selected
        if row is not None:
            self.post_message(self.Selected(row))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        idx = int(self.scroll_y) + event.y - 1
        if 0 <= idx < len(self.rows):
            if idx == self.cursor or event.chain >= 2:
                self.cursor = idx
                self.action_select()
            else:
                self._move(idx)
