"""The TUI driven with Pilot: navigation, filters, detail, live rows, paging, replay."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from textual.worker import WorkerCancelled
from tuidata import NOW, build

from leash_cli.exchange import Exchange
from leash_cli.store import Recorder, open_writable
from leash_cli.tui import run_tui
from leash_cli.tui.app import LeashApp
from leash_cli.tui.screens.compare import CompareScreen
from leash_cli.tui.screens.cost import CostScreen
from leash_cli.tui.screens.detail import DetailScreen, TextScreen
from leash_cli.tui.screens.help import HelpScreen
from leash_cli.tui.screens.replay import ReplayScreen
from leash_cli.tui.screens.traffic import TrafficScreen
from leash_cli.tui.screens.violations import ViolationsScreen
from leash_cli.tui.source import HistorySource
from leash_cli.tui.widgets.traffic_table import TrafficTable

pytestmark = pytest.mark.anyio


def make_app(path: Path, **kw) -> LeashApp:
    kw.setdefault("now", NOW)
    kw.setdefault("poll_interval", 0.1)
    return LeashApp(HistorySource(path), **kw)


async def settle(pilot, rounds: int = 2) -> None:
    for _ in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one
            pass
        await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the TUI")
        await pilot.pause(0.05)


def table(app: LeashApp) -> TrafficTable:
    return app.screen.query_one(TrafficTable)


def status_text(app: LeashApp) -> str:
    return str(app.screen.query_one("#status").render())


# -- run_tui ---------------------------------------------------------------------------------


def test_run_tui_without_a_database(tmp_path, capsys):
    assert run_tui(tmp_path / "nope.db") == 1
    err = capsys.readouterr().err
    assert "no history at" in err and "leash up" in err and "Traceback" not in err


def test_run_tui_with_a_newer_database(tmp_path, capsys):
    path = tmp_path / "leash.db"
    open_writable(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    assert run_tui(path) == 1
    assert "newer leash" in capsys.readouterr().err


def test_run_tui_with_a_file_that_is_not_sqlite(tmp_path, capsys):
    path = tmp_path / "leash.db"
    path.write_text("hello")
    assert run_tui(path) == 1
    assert "cannot be read" in capsys.readouterr().err


# -- traffic -----------------------------------------------------------------------------------


async def test_empty_database_shows_the_empty_state(tmp_path):
    path = tmp_path / "leash.db"
    open_writable(path).close()
    app = make_app(path)
    async with app.run_test() as pilot:
        await settle(pilot)
        empty = app.screen.query_one("#empty")
        assert empty.display
        assert "No exchanges yet" in str(empty.render())
        assert not table(app).display


@pytest.mark.slow
async def test_traffic_lists_newest_first(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        rows = table(app).rows
        assert [r["id"] for r in rows[:3]] == ["req-0000000", "req-0000004", "req-0000008"]
        keys = [(r["started_at"], r["id"]) for r in rows]
        assert keys == sorted(keys, reverse=True)
        assert "follow" in status_text(app)


@pytest.mark.slow
async def test_keyboard_navigation_detail_and_back(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "up")
        assert table(app).cursor == 1
        assert "paused" in status_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.request_id == "req-0000004"
        assert app.screen.row["error"].startswith("upstream_unreachable")
        await pilot.press("right_square_bracket")
        assert app.screen.query_one("#detail-tabs").active == "tab-response"
        await pilot.press("escape")
        assert isinstance(app.screen, TrafficScreen)


@pytest.mark.slow
async def test_mouse_click_selects_then_opens(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        # row 0 of the table is its header; rows start on line 1
        await pilot.click(TrafficTable, offset=(5, 3))
        assert table(app).cursor == 2
        await pilot.click(TrafficTable, offset=(5, 3))
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)


async def test_follow_pauses_when_moving_and_f_resumes(rich_db):
    app = make_app(rich_db)
    async with app.run_test() as pilot:
        await settle(pilot)
        t = table(app)
        assert t.follow
        await pilot.press("j")
        assert not t.follow and t.cursor == 1
        await pilot.press("f")
        assert t.follow and t.cursor == 0
        assert "● follow" in status_text(app)
        await pilot.press("f")
        assert not t.follow


@pytest.mark.slow
async def test_detail_tabs_render_chat_stream_violations_timings_cost(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_detail("req-0000005")  # stream, blocked by the rate limiter, priced
        await settle(pilot)
        s = app.screen
        chat = [str(w.render()) for w in s.query(".chat-message")]
        assert "You are terse." in chat and "What is 5 + 5?" in chat and "It is 10." in chat
        assert s.query(".chat-user") and s.query(".chat-system") and s.query(".chat-assistant")
        texts = "\n".join(str(w.render()) for w in s.query("Static.mono"))
        assert "user-agent" in texts
        assert "Stream events (3)" in "\n".join(str(w.render()) for w in s.query(".section"))
        assert "[DONE]" in texts
        assert "pii-detector" in texts and "1.2ms" in texts  # per-module timings
        assert "input_usd" in texts and "genai-prices" in texts
        vt = s.query_one("#detail-violations")
        assert vt.row_count == 1
        assert [str(c) for c in vt.get_row_at(0)][:3] == ["rate-limiter", "rate_limit", "block"]
        assert "Violations (1)" in str(s.query_one("#detail-tabs").get_tab("tab-violations").label)


@pytest.mark.slow
async def test_detail_shows_gemini_contents_as_chat(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_detail("req-0000002")
        await settle(pilot)
        assert [str(w.border_title) for w in app.screen.query(".chat-message")] == ["user", "assistant"]


@pytest.mark.slow
async def test_copy_as_curl_and_export(rich_db, tmp_path):
    app = make_app(rich_db, url="http://127.0.0.1:9", export_dir=tmp_path)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        assert copied and copied[0].startswith("curl -X POST http://127.0.0.1:9/v1/openai/chat/completions")
        assert "--data-raw" in copied[0] and "authorization" not in copied[0].lower()
        await pilot.press("escape")
        await pilot.press("e")
        await pilot.pause()
        out = tmp_path / "leash-req-0000000.json"
        data = json.loads(out.read_text())
        assert data["id"] == "req-0000000" and data["violations"] == []


# -- filters ------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_filter_applies_errors_inline_and_keeps_history(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        for ch in "~p (":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        await pilot.pause()
        err = str(app.screen.query_one("#filter-error").render())
        assert "~p needs a value" in err
        assert app.screen.query_one("#filter-bar").display  # stays open to fix it
        await pilot.press("backspace")
        for ch in "openai":
            await pilot.press(ch)
        await pilot.press("enter")
        await settle(pilot)
        assert not app.screen.query_one("#filter-bar").display
        assert {r["provider"] for r in table(app).rows} == {"openai"}
        assert "filter: ~p openai" in status_text(app)
        # a second filter, then walk back through the history
        await pilot.press("slash")
        app.screen.query_one("#filter").value = "~s 4xx | ~v"
        await pilot.press("enter")
        await settle(pilot)
        assert {r["id"] for r in table(app).rows} == {"req-0000001", "req-0000002", "req-0000003", "req-0000005"}
        await pilot.press("slash")
        await pilot.press("up")
        assert app.screen.query_one("#filter").value == "~s 4xx | ~v"
        await pilot.press("up")
        assert app.screen.query_one("#filter").value == "~p openai"
        await pilot.press("escape")
        assert not app.screen.query_one("#filter-bar").display
        # Esc on the table clears the filter
        await pilot.press("escape")
        await settle(pilot)
        assert len(table(app).rows) == 12


@pytest.mark.slow
async def test_filter_with_no_match_says_so(rich_db):
    app = make_app(rich_db)
    async with app.run_test() as pilot:
        await settle(pilot)
        app.screen.apply_filter("~t nobody")
        await settle(pilot)
        assert "No exchanges match" in str(app.screen.query_one("#empty").render())


# -- live rows and paging ---------------------------------------------------------------------------


def _exchange(i: int, started: float) -> Exchange:
    body = json.dumps({"model": "mock-1", "messages": [{"role": "user", "content": f"live {i}"}]}).encode()
    ex = Exchange(
        id=f"live-{i:04d}",
        provider="mock",
        kind="mock",
        api="openai",
        method="POST",
        path="chat/completions",
        model="mock-1",
        request_body=body,
        started_at=started,
        status=200,
    )
    ex.t_end = ex.t_start + 0.01
    return ex


@pytest.mark.slow
async def test_live_rows_appear_while_another_thread_writes(tmp_path):
    path = tmp_path / "leash.db"
    rec = Recorder(path)
    rec.start()
    try:
        base = time.time()
        for i in range(3):
            rec.submit(_exchange(i, base + i * 0.01))
        assert rec.flush()
        app = make_app(path, now=None)
        async with app.run_test() as pilot:
            await settle(pilot)
            assert [r["id"] for r in table(app).rows] == ["live-0002", "live-0001", "live-0000"]

            def writer() -> None:
                for i in range(3, 23):
                    rec.submit(_exchange(i, time.time()))
                    time.sleep(0.01)
                rec.flush()

            t = threading.Thread(target=writer)
            t.start()
            await wait_for(pilot, lambda: len(table(app).rows) == 23)
            t.join()
            assert table(app).rows[0]["id"] == "live-0022"
            assert table(app).cursor == 0  # following

            # paused: new rows come in above without moving the selection
            await pilot.press("down", "down")
            selected = table(app).selected["id"]
            rec.submit(_exchange(99, time.time()))
            rec.flush()
            await wait_for(pilot, lambda: len(table(app).rows) == 24)
            assert table(app).selected["id"] == selected
            assert table(app).rows[0]["id"] == "live-0099"
            assert "1 new" in status_text(app)

            # a slow exchange written late, with an older start, lands in its place
            rec.submit(_exchange(50, base + 0.015))
            rec.flush()
            await wait_for(pilot, lambda: len(table(app).rows) == 25)
            ids = [r["id"] for r in table(app).rows]
            assert ids.index("live-0050") == ids.index("live-0001") - 1
    finally:
        rec.close()


@pytest.mark.slow
async def test_paging_loads_older_rows_as_you_scroll(tmp_path):
    path = tmp_path / "leash.db"
    build(path, 1000)
    app = make_app(path)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        t = table(app)
        assert len(t.rows) == 200 and t.has_more
        for _ in range(12):
            await pilot.press("pagedown")
            await settle(pilot)
        assert len(t.rows) > 200
        await pilot.press("G")
        for _ in range(10):
            await settle(pilot)
            await pilot.press("G")
        assert len(t.rows) == 1000 and not t.has_more
        keys = [(r["started_at"], r["id"]) for r in t.rows]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == 1000
        assert t.selected["id"] == "req-0000000"


@pytest.mark.slow
@pytest.mark.slow
async def test_a_million_rows_open_showing_the_newest(tmp_path):
    path = tmp_path / "leash.db"
    build(path, 1_000_000, spacing=0.01)
    app = make_app(path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        t = table(app)
        assert t.rows[0]["id"] == "req-0999999"
        assert len(t.rows) == 200  # one page, never the whole table
        await pilot.press("pagedown")
        await settle(pilot)
        assert len(t.rows) <= 600


# -- other views -----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_cost_view_totals_groups_and_budgets(rich_db):
    from leash_cli.config import parse_config_text

    cfg = parse_config_text("tenants:\n  acme:\n    quotas: {cost_limit_usd: 0.001}\n", "t.yaml")
    app = make_app(rich_db, config=cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot, 3)
        s = app.screen
        assert isinstance(s, CostScreen)
        today = str(s.query_one("#total-today").render())
        assert "3 requests" in today and "1 unpriced" in today
        assert "12 requests" in str(s.query_one("#total-30-days").render())
        by_provider = s.query_one("#by-provider")
        assert by_provider.row_count == 4
        assert str(by_provider.get_row_at(0)[0]) == "google"
        assert len(s.query_one("#spend-sparkline").data) == 30
        rows = s.query(".budget-row")
        assert len(rows) == 1
        assert "acme (today)" in str(rows.first().query_one(".budget-name").render())
        await pilot.press("w")  # window: today
        await settle(pilot)
        assert s.query_one("#by-provider").row_count == 1


@pytest.mark.slow
async def test_violations_view_and_jump_to_detail(rich_db):
    app = make_app(rich_db)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot, 3)
        s = app.screen
        assert isinstance(s, ViolationsScreen)
        groups = s.query_one("#violation-groups")
        assert groups.row_count == 5  # (all) + 4 groups
        assert [str(c) for c in groups.get_row_at(0)][:1] == ["(all)"]
        assert s.query_one("#violation-recent").row_count == 4
        actions = {str(groups.get_row_at(i)[2]) for i in range(1, 5)}
        assert actions == {"blocked", "redacted", "shadow hit"}
        groups.focus()
        await pilot.press("down")
        await settle(pilot, 3)
        assert s.query_one("#violation-recent").row_count == 1
        await pilot.press("enter")  # to the recent list
        await pilot.press("enter")  # open the exchange
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.request_id == "req-0000001"


@pytest.mark.slow
async def test_help_and_theme(rich_db):
    app = make_app(rich_db)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, TrafficScreen)
        dark = app.theme
        await pilot.press("t")
        assert app.theme != dark and "light" in app.theme
        await pilot.press("t")
        assert app.theme == dark


async def test_health_strip_reports_a_down_gateway(rich_db):
    app = make_app(rich_db, url="http://127.0.0.1:9", now=NOW)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        assert app.health.gateway == "down"
        assert "DOWN" in str(app.screen.query_one("#health").render())


@pytest.mark.slow
async def test_replay_without_url_explains(rich_db):
    app = make_app(rich_db)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ReplayScreen)
        assert any("--url" in str(n.message) for n in app._notifications)


# -- replay against a real gateway -----------------------------------------------------------------


@pytest.mark.slow
async def test_replay_through_a_running_gateway(start_gateway):
    gw = start_gateway()
    with httpx.Client(trust_env=False) as client:
        for i in range(3):
            r = client.post(
                f"{gw.url}/v1/mock/chat/completions",
                json={"model": "mock-small", "messages": [{"role": "user", "content": f"hello {i}"}]},
                headers={"x-leash-tenant": "acme"},
            )
            assert r.status_code == 200
    gw.flush()
    app = make_app(gw.db_path, now=None, url=gw.url)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert len(table(app).rows) == 3
        original = table(app).selected
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReplayScreen)
        app.screen.query_one("#replay-model").value = "mock-large"
        await pilot.press("enter")  # the Send button has focus
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=15)
        cmp = app.screen
        assert cmp.old["id"] == original["id"]
        assert cmp.new is not None and cmp.new["id"] != original["id"]
        assert cmp.new["model"] == "mock-large"
        assert cmp.new["tenant"] == "acme"
        assert cmp.new["request_headers"].get("x-leash-replay-of") == original["id"]
        assert "hello 2" in cmp.new["prompt_text"]
        await pilot.press("escape")
        # the replay shows up live in the traffic list
        await wait_for(pilot, lambda: len(table(app).rows) == 4)
        assert table(app).rows[0]["id"] == cmp.new["id"]


@pytest.mark.slow
def test_the_tui_never_imports_the_proxy():
    import subprocess
    import sys

    code = (
        "import sys, leash_cli.tui, leash_cli.tui.app, leash_cli.tui.replay, leash_cli.filters;"
        "bad = [m for m in ('leash_cli.proxy', 'leash_cli.server', 'leash_cli.pipeline') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
async def test_keys_typed_into_the_filter_stay_there(rich_db):
    app = make_app(rich_db)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("slash", "tilde", "t", "space", "q", "1", "r", "f", "question_mark")
        assert app.screen.query_one("#filter").value == "~t q1rf?"
        assert isinstance(app.screen, TrafficScreen) and app.is_running


async def test_the_health_strip_shows_an_open_circuit_breaker_from_the_gateway(start_gateway, upstream):
    gw = start_gateway(
        {
            "providers": {
                "openai": {
                    "kind": "openai",
                    "deployments": [{"name": "east", "endpoint": f"{upstream.url}/v1"}],
                    "circuit_breaker": {"failure_threshold": 1, "recovery_timeout": "60s"},
                }
            }
        }
    )
    with httpx.Client(trust_env=False) as client:
        r = client.post(
            f"{gw.base('openai')}/chat/completions",
            json={"model": "mock-error-500", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 500
        assert client.get(f"{gw.url}/health").json()["providers"]["openai"]["deployments"]["east"]["state"] == "open"
    gw.flush()
    app = make_app(gw.db_path, now=None, url=gw.url)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.health is not None and app.health.gateway == "up")
        assert app.health.breakers == (("openai", "east", "open"),) and app.health.deployments == 1
        strip = str(app.screen.query_one("#health").render())
        assert "breaker openai/east open" in strip
