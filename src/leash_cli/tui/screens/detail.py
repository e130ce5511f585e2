"""One exchange in full: request, response, violations, timings, usage and cost."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, TextArea

from leash_cli.store import clean_headers, mask_credentials
from leash_cli.tui.format import (
    as_curl,
    chat_messages,
    fmt_cost,
    fmt_ms,
    fmt_time,
    fmt_usd,
    pretty_json,
    verdict_label,
)
from leash_cli.tui.widgets.guard import mounted_only
from leash_cli.tui.widgets.health import HealthStrip

if TYPE_CHECKING:
    from leash_cli.tui.host import LeashHost

TABS = ("request", "response", "violations", "timings", "usage")


def _kv(pairs: list[tuple[str, Any]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in pairs)


def _headers(h: Any) -> str:
    if not isinstance(h, dict) or not h:
        return "(none stored)"
    return _kv(sorted(clean_headers({str(k): str(v) for k, v in h.items()}).items()))


def _chat(messages: list[tuple[str, str]], id_prefix: str) -> list[Static]:
    out = []
    for role, text in messages:
        role_cls = role if role in ("system", "user", "assistant", "model", "tool", "developer") else "other"
        s = Static(text or "(empty)", classes=f"chat-message chat-{role_cls}", markup=False)
        s.border_title = role
        out.append(s)
    return out


def summary_line(row: dict[str, Any], now: float) -> str:
    parts = [
        row.get("id") or "?",
        fmt_time(row.get("started_at"), now),
        f"{row.get('method') or ''} {row.get('provider')}/{row.get('path')}",
        f"model {row.get('model') or '-'}",
        f"tenant {row.get('tenant') or '-'}",
        f"status {row.get('status') if row.get('status') is not None else '-'} ({row.get('outcome') or '-'})",
        verdict_label(row.get("verdict")),
        "stream" if row.get("stream") else "",
    ]
    return "  ·  ".join(p for p in parts if p)


class TextScreen(ModalScreen[None]):
    """A modal with selectable text (the curl command)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, text: str, note: str = "") -> None:
        super().__init__()
        self._title, self._text, self._note = title, text, note

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="text-dialog") as v:
            v.border_title = self._title
            if self._note:
                yield Static(self._note, classes="note", markup=False)
            yield TextArea(self._text, read_only=True, id="text-body", soft_wrap=True)
            yield Static("Esc closes", classes="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)  # at once: unlike Screen.action_dismiss, waits for no pending callbacks


class DetailScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back"),
        Binding("c", "curl", "Copy curl"),
        Binding("e", "export", "Export JSON"),
        Binding("r", "replay", "Replay"),
        Binding("right_square_bracket,l", "next_tab", "Next tab", show=False),
        Binding("left_square_bracket,h", "prev_tab", "Prev tab", show=False),
    ]

    app: LeashHost

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.row: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield HealthStrip(id="health")
        yield Static(f"loading {self.request_id} …", id="detail-summary", markup=False)
        with TabbedContent(id="detail-tabs"):
            for name, label in zip(TABS, ("Request", "Response", "Violations", "Timings", "Usage & cost")):
                with TabPane(label, id=f"tab-{name}"):
                    yield VerticalScroll(id=f"pane-{name}", classes="detail-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        try:
            row = self.app.source.get(self.request_id)
        except Exception as e:
            row = None
            self.app.call_from_thread(self.app.notify, f"cannot read {self.request_id}: {e}", severity="error")
        self.app.call_from_thread(self.show, row)

    @mounted_only
    def show(self, row: dict[str, Any] | None) -> None:
        summary = self.query_one("#detail-summary", Static)
        if row is None:
            summary.update(f"{self.request_id}: not in the history (pruned?)")
            return
        self.row = row
        summary.update(summary_line(row, self.app.now()))
        self.query_one("#pane-request").mount_all(self._request(row))
        self.query_one("#pane-response").mount_all(self._response(row))
        self.query_one("#pane-violations").mount_all(self._violations(row))
        self.query_one("#pane-timings").mount_all(self._timings(row))
        self.query_one("#pane-usage").mount_all(self._usage(row))
        n = len(row.get("violations") or [])
        if n:
            self.query_one(TabbedContent).get_tab("tab-violations").label = f"Violations ({n})"

    # -- tabs ------------------------------------------------------------------------------
    def _request(self, row: dict[str, Any]) -> list:
        w: list = [Static("Headers (credentials removed)", classes="section")]
        w.append(Static(_headers(row.get("request_headers")), classes="mono", markup=False))
        if row.get("query"):
            w += [Static("Query", classes="section"), Static(row["query"], classes="mono", markup=False)]
        msgs = chat_messages(row.get("request_body"))
        if msgs:
            w.append(Static("Messages", classes="section"))
            w += _chat(msgs, "req")
        body = row.get("request_body")
        title = "Body" + (" (truncated)" if row.get("request_body_truncated") else "")
        w.append(Static(title, classes="section"))
        w.append(Static(pretty_json(body) if body else "(not stored)", classes="mono", markup=False))
        return w

    def _response(self, row: dict[str, Any]) -> list:
        w: list = []
        text = row.get("response_text")
        if text:
            w.append(Static("Completion" + (" (reassembled from the stream)" if row.get("stream") else ""),
                            classes="section"))
            w += _chat([("assistant", text)], "resp")
        if row.get("error"):
            w += [Static("Error", classes="section"), Static(row["error"], classes="mono error", markup=False)]
        w += [Static("Headers", classes="section"),
              Static(_headers(row.get("response_headers")), classes="mono", markup=False)]
        events = row.get("stream_events")
        if row.get("stream") and isinstance(events, list):
            w.append(Static(f"Stream events ({len(events)})", classes="section"))
            w.append(Static("".join(str(e) for e in events).rstrip() or "(none)", classes="mono", markup=False))
        else:
            body = row.get("response_body")
            title = "Body" + (" (truncated)" if row.get("response_body_truncated") else "")
            w.append(Static(title, classes="section"))
            w.append(Static(pretty_json(body) if body else "(not stored)", classes="mono", markup=False))
        return w

    def _violations(self, row: dict[str, Any]) -> list:
        vs = row.get("violations") or []
        if not vs:
            return [Static("No violations: every module let this exchange through.", classes="empty-note")]
        t: DataTable = DataTable(id="detail-violations", cursor_type="row", zebra_stripes=True)
        t.add_columns("module", "type", "action", "severity", "field", "detail")
        for v in vs:
            t.add_row(v.get("module") or "-", v.get("type") or "-", v.get("action") or "-",
                      v.get("severity") or "-", v.get("field") or "-",
                      mask_credentials(str(v.get("detail") or "")))
        return [t]

    def _timings(self, row: dict[str, Any]) -> list:
        pairs = [
            ("total latency", fmt_ms(row.get("latency_ms"))),
            ("upstream", fmt_ms(row.get("upstream_ms"))),
            ("leash overhead", fmt_ms(row.get("overhead_ms"))),
            ("time to first token", fmt_ms(row.get("ttft_ms"))),
            ("started", row.get("started_at") or "-"),
            ("ended", row.get("ended_at") or "-"),
        ]
        w: list = [Static(_kv(pairs), classes="mono", markup=False)]
        mt = row.get("module_timings")
        if isinstance(mt, dict) and mt:
            w.append(Static("Per module", classes="section"))
            width = max(len(k) for k in mt)
            top = max((v or 0) for v in mt.values()) or 1
            lines = []
            for k, v in sorted(mt.items(), key=lambda kv: -(kv[1] or 0)):
                bar = "█" * max(int(20 * (v or 0) / top), 1 if v else 0)
                lines.append(f"{k.ljust(width)}  {fmt_ms(v).rjust(7)}  {bar}")
            w.append(Static("\n".join(lines), classes="mono", markup=False))
        return w

    def _usage(self, row: dict[str, Any]) -> list:
        def n(v: Any) -> str:
            return "-" if v is None else f"{v:,}"

        pairs = [
            ("input tokens", n(row.get("input_tokens"))),
            ("  cached", n(row.get("cached_input_tokens"))),
            ("  cache writes", n(row.get("cache_write_tokens"))),
            ("output tokens", n(row.get("output_tokens"))),
            ("  reasoning", n(row.get("reasoning_tokens"))),
            ("cost", fmt_cost(row.get("cost_usd"))),
        ]
        w: list = [Static(_kv(pairs), classes="mono", markup=False)]
        cd = row.get("cost_detail")
        if isinstance(cd, dict) and cd:
            w.append(Static("Cost breakdown", classes="section"))
            items = []
            for k, v in cd.items():
                if isinstance(v, float) and k.endswith("_usd"):
                    items.append((k, fmt_usd(v)))
                else:
                    items.append((k, v if not isinstance(v, (dict, list)) else orjson.dumps(v).decode()))
            w.append(Static(_kv(items), classes="mono", markup=False))
        elif row.get("cost_usd") is None:
            w.append(Static("unpriced: no price is known for this model (add one under `pricing:`).",
                            classes="empty-note"))
        return w

    # -- actions -----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def _switch_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [f"tab-{t}" for t in TABS]
        cur = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(cur + step) % len(ids)]

    def action_next_tab(self) -> None:
        self._switch_tab(1)

    def action_prev_tab(self) -> None:
        self._switch_tab(-1)

    def action_curl(self) -> None:
        if self.row is None:
            return
        cmd = as_curl(self.row, self.app.url)
        self.app.copy_to_clipboard(cmd)
        self.app.push_screen(TextScreen("curl", cmd, "Copied to the clipboard. No key is included: add yours."))

    def action_export(self) -> None:
        if self.row is None:
            return
        folder = self.app.export_dir or Path.cwd()
        path = folder / f"leash-{self.row['id']}.json"
        try:
            path.write_bytes(orjson.dumps(self.row, option=orjson.OPT_INDENT_2, default=str))
        except OSError as e:
            self.notify(f"cannot write {path}: {e}", severity="error")
            return
        self.notify(f"exported to {path}", title="export")

    def action_replay(self) -> None:
        if self.row is not None:
            self.app.start_replay(self.row)
