"""An exchange and its replay, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from leash_cli.tui.format import fmt_cost, fmt_ms, fmt_tokens, pretty_json, verdict_label
from leash_cli.tui.replay import ReplayResult
from leash_cli.tui.widgets.health import HealthStrip

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost


def _facts(row: dict[str, Any]) -> str:
    pairs = [
        ("id", row.get("id")),
        ("provider", row.get("provider")),
        ("model", row.get("model")),
        ("status", f"{row.get('status')} ({row.get('outcome')})"),
        ("verdict", verdict_label(row.get("verdict"))),
        ("latency", fmt_ms(row.get("latency_ms"))),
        ("leash overhead", fmt_ms(row.get("overhead_ms"))),
        ("tokens in/out", fmt_tokens(row.get("input_tokens"), row.get("output_tokens"))),
        ("cost", fmt_cost(row.get("cost_usd"))),
    ]
    w = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(w)}  {v if v is not None else '-'}" for k, v in pairs)


class CompareScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back"),
        Binding("o", "open_original", "Open original"),
        Binding("n", "open_replay", "Open replay"),
    ]

    app: LeashHost

    def __init__(self, old: dict[str, Any], new: dict[str, Any] | None, result: ReplayResult) -> None:
        super().__init__()
        self.old, self.new, self.result = old, new, result

    def compose(self) -> ComposeResult:
        yield HealthStrip(id="health")
        with Horizontal(id="compare"):
            for side, row in (("original", self.old), ("replay", self.new)):
                with VerticalScroll(classes="compare-pane", id=f"compare-{side}") as pane:
                    pane.border_title = side
                    if row is not None:
                        yield Static(_facts(row), classes="mono", markup=False)
                        yield Static("Completion", classes="section")
                        text = row.get("response_text") or pretty_json(row.get("response_body")) or "(not stored)"
                        yield Static(text, classes="mono", markup=False)
                    else:
                        r = self.result
                        yield Static(
                            f"status {r.status}  ·  request id {r.request_id or '(none)'}\n"
                            "(not in the history yet: is the gateway recording to this database?)",
                            classes="mono", markup=False)
                        yield Static("Response", classes="section")
                        yield Static(pretty_json(r.body) or "(empty)", classes="mono", markup=False)
        yield Footer()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open_original(self) -> None:
        self.app.open_detail(self.old["id"])

    def action_open_replay(self) -> None:
        if self.new is not None:
            self.app.open_detail(self.new["id"])
