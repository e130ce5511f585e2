"""The replay dialog: where to re-send an exchange (same provider kind), and which model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost


class ReplayScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (provider, model), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    app: LeashHost

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row

    def _choices(self) -> list[str]:
        kind = self.row.get("kind")
        names = {self.row.get("provider") or ""}
        try:
            names |= {p for p, k in self.app.source.providers() if k == kind}
        except Exception:
            pass
        cfg = self.app.config
        for name, p in (getattr(cfg, "providers", None) or {}).items():
            if p.kind == kind:
                names.add(name)
        return sorted(n for n in names if n)

    def compose(self) -> ComposeResult:
        with Vertical(id="replay-dialog") as d:
            d.border_title = f"replay {self.row.get('id')}"
            yield Static(f"through {self.app.url}  ·  same kind: {self.row.get('kind')}", classes="note",
                         markup=False)
            yield Label("provider")
            choices = self._choices()
            yield Select([(c, c) for c in choices], value=self.row.get("provider") or Select.BLANK,
                         allow_blank=False, id="replay-provider")
            yield Label("model")
            yield Input(self.row.get("model") or "", id="replay-model")
            key = "with the key from --key / LEASH_REPLAY_KEY" if self.app.replay_key else "without a key"
            yield Static(f"sent {key}", classes="note", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="primary", id="replay-send")
                yield Button("Cancel", id="replay-cancel")

    def on_mount(self) -> None:
        self.query_one("#replay-send", Button).focus()

    @on(Button.Pressed, "#replay-send")
    @on(Input.Submitted, "#replay-model")
    def send(self) -> None:
        provider = self.query_one("#replay-provider", Select).value
        model = self.query_one("#replay-model", Input).value.strip()
        self.dismiss((str(provider), model))

    @on(Button.Pressed, "#replay-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
