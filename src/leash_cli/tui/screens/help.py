"""``?``: the keys and the filter language."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from leash_cli.store.filters import OPERATORS

KEYS = [
    (
        "everywhere",
        [
            ("1 / 2 / 3", "traffic / cost / violations"),
            ("?", "this help"),
            ("t", "light / dark theme"),
            ("q", "quit"),
        ],
    ),
    (
        "traffic",
        [
            ("↑ ↓ j k, PgUp PgDn", "move (moving away from the newest pauses follow)"),
            ("g / Home, G / End", "newest / oldest loaded"),
            ("Enter, click", "exchange detail"),
            ("f", "follow mode on / off"),
            ("/", "filter (↑ ↓ history, Enter applies, Esc closes)"),
            ("Esc", "clear the filter"),
            ("r", "replay through the gateway (needs --url)"),
        ],
    ),
    (
        "detail",
        [
            ("[ ] or h l", "previous / next tab"),
            ("c", "copy as curl"),
            ("e", "export as JSON into the current folder"),
            ("r", "replay"),
            ("Esc", "back"),
        ],
    ),
    (
        "cost / violations",
        [
            ("w", "cost: breakdown window today / 7 days / 30 days"),
            ("Enter", "violations: open the exchange of a recent finding"),
        ],
    ),
]


def help_text() -> str:
    lines: list[str] = []
    for section, keys in KEYS:
        lines.append(section.upper())
        w = max(len(k) for k, _ in keys)
        lines += [f"  {k.ljust(w)}  {v}" for k, v in keys]
        lines.append("")
    lines.append("FILTERS  (combine with & | ! and parentheses; side by side means &)")
    w = max(len(k) for k in OPERATORS)
    lines += [f"  {k.ljust(w)}  {v}" for k, v in OPERATORS.items()]
    lines.append(f'  {"words".ljust(w)}  the same as ~q: full-text search ("quote phrases")')
    lines.append("")
    lines.append("  e.g.  ~p openai & ~s 5xx     ~t acme !~o ok     (~m gpt-4o | ~m claude*) & ~c >0.01")
    lines.append("")
    lines.append("COLUMNS  ≋ streamed · leash = leash's own overhead · unpriced = no known price")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as v:
            v.border_title = "leash tui · keys"
            yield Static(help_text(), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
