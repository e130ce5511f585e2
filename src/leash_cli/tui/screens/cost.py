"""Spend: totals, by tenant/provider/model, per day, and budgets against the config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar, Sparkline, Static

from leash_cli.tui.format import fmt_count, fmt_usd
from leash_cli.tui.source import day_start, month_start
from leash_cli.tui.widgets.guard import mounted_only
from leash_cli.tui.widgets.health import HealthStrip

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost

WINDOWS = (("today", None), ("7 days", 7), ("30 days", 30))
GROUPS = ("tenant", "provider", "model")


def _money(row: dict[str, Any]) -> str:
    return fmt_usd(row.get("cost_usd")) if row.get("cost_usd") is not None else "$0"


def _display_names(cfg: Any) -> dict[str, str]:
    """``tenants.<id>.name`` of the config the TUI was started with."""
    tenants = getattr(cfg, "tenants", None) or {}
    return {tid: t.name for tid, t in tenants.items() if getattr(t, "name", None)}


def _unpriced(row: dict[str, Any]) -> str:
    return f"{row.get('unpriced') or 0:,}"


class CostScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "cycle_window", "Window"),
        Binding("R", "refresh", "Refresh", show=False),
    ]

    app: LeashHost

    def __init__(self) -> None:
        super().__init__()
        self.window = 2  # index into WINDOWS for the breakdown tables

    def compose(self) -> ComposeResult:
        yield HealthStrip(id="health")
        with VerticalScroll(id="cost-body"):
            with Horizontal(id="cost-totals"):
                for label, _ in WINDOWS:
                    with Vertical(classes="total-card") as card:
                        card.border_title = label
                        yield Static("…", id=f"total-{label.replace(' ', '-')}", markup=False)
            with Vertical(id="spend-chart") as chart:
                chart.border_title = "spend per day (UTC), last 30 days"
                yield Sparkline([], id="spend-sparkline")
                yield Static("", id="spend-axis", markup=False)
            with Horizontal(id="cost-groups"):
                for g in GROUPS:
                    t: DataTable = DataTable(id=f"by-{g}", cursor_type="row", zebra_stripes=True, classes="cost-table")
                    t.border_title = f"by {g}"
                    yield t
            with Vertical(id="budgets") as b:
                b.border_title = "budgets (tenants.*.quotas.cost_limit_usd)"
        yield Footer()

    def on_mount(self) -> None:
        for g in GROUPS:
            self.query_one(f"#by-{g}", DataTable).add_columns(g, "requests", "cost", "unpriced", "tokens in/out")
        self.load()
        self.set_interval(5.0, self.load)

    def on_resize(self) -> None:
        self.query_one("#cost-groups").set_class(self.size.width < 160, "-stacked")

    def on_screen_resume(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_cycle_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self.load()

    def _since(self, days: int | None, now: float) -> float:
        return day_start(now) if days is None else now - days * 86400

    @work(thread=True, exclusive=True, group="cost")
    def load(self) -> None:
        src, now = self.app.source, self.app.now()
        totals = {label: src.cost_totals(self._since(days, now)) for label, days in WINDOWS}
        label, days = WINDOWS[self.window]
        since = self._since(days, now)
        groups = {g: src.cost_by(g, since) for g in GROUPS}
        per_day = src.spend_per_day(now, 30)
        budgets = []
        cfg = self.app.config
        for name, tenant in sorted((getattr(cfg, "tenants", None) or {}).items()):
            limit = tenant.quotas.cost_limit_usd
            if limit is None:
                continue
            period = tenant.quotas.cost_period
            start = day_start(now) if period == "day" else month_start(now)
            budgets.append((name, period, src.tenant_spend(name, start), limit))
        self.app.call_from_thread(self.show, totals, label, groups, per_day, budgets)

    @mounted_only
    def show(self, totals: dict, window_label: str, groups: dict, per_day: list, budgets: list) -> None:
        for label, row in totals.items():
            tokens = f"{fmt_count(row['input_tokens'])} in / {fmt_count(row['output_tokens'])} out"
            unpriced = f" ({_unpriced(row)} unpriced)" if row.get("unpriced") else ""
            hits, looked = row.get("cache_hits") or 0, (row.get("cache_hits") or 0) + (row.get("cache_misses") or 0)
            cache = f"\ncache: {hits:,} hits ({hits / looked:.0%})" if looked else ""
            self.query_one(f"#total-{label.replace(' ', '-')}", Static).update(
                f"{_money(row)}\n{row['requests']:,} requests{unpriced}\n{tokens}{cache}"
            )
        for g, rows in groups.items():
            t = self.query_one(f"#by-{g}", DataTable)
            cursor = t.cursor_row
            t.clear()
            t.border_title = f"by {g} · {window_label}"
            names = _display_names(self.app.config) if g == "tenant" else {}
            for r in rows:
                shown = names.get(r["name"])
                t.add_row(
                    f"{r['name']} ({shown})" if shown else r["name"],
                    f"{r['requests']:,}",
                    _money(r),
                    _unpriced(r),
                    f"{fmt_count(r['input_tokens'])}/{fmt_count(r['output_tokens'])}",
                )
            if rows:
                t.move_cursor(row=min(cursor, len(rows) - 1))
        self.query_one("#spend-sparkline", Sparkline).data = [v for _, v in per_day]
        total30 = sum(v for _, v in per_day)
        peak = max(per_day, key=lambda dv: dv[1]) if per_day else ("-", 0.0)
        self.query_one("#spend-axis", Static).update(
            f"{per_day[0][0] if per_day else ''} … {per_day[-1][0] if per_day else ''}   "
            f"total {fmt_usd(total30)} · peak {fmt_usd(peak[1])} on {peak[0]}"
        )
        box = self.query_one("#budgets", Vertical)
        box.remove_children()
        if not budgets:
            note = (
                "no tenant has quotas.cost_limit_usd in the config"
                if self.app.config is not None
                else "start with `leash tui --config FILE` to see budgets"
            )
            box.mount(Static(note, classes="empty-note"))
            return
        for name, period, spent, limit in budgets:
            pct = spent / limit * 100 if limit else 100.0
            bar = ProgressBar(total=100, show_eta=False, show_percentage=True, classes="budget-bar")
            bar.progress = min(pct, 100.0)
            row = Horizontal(
                Label(f"{name} ({'today' if period == 'day' else 'this month'})", classes="budget-name"),
                bar,
                Label(f"{fmt_usd(spent)} of {fmt_usd(limit)}", classes="budget-amount"),
                classes="budget-row" + (" -over" if pct >= 100 else " -near" if pct >= 80 else ""),
            )
            box.mount(row)
