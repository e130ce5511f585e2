"""How each view looks, on fixed data with a frozen clock (pytest-textual-snapshot).

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs under ``__snapshots__/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.worker import WorkerCancelled
from tuidata import NOW

from leash_cli.config import parse_config_text
from leash_cli.tui.app import LeashApp
from leash_cli.tui.source import HistorySource

pytest.importorskip("pytest_textual_snapshot")

CONFIG = """
tenants:
  acme:
    quotas: {cost_limit_usd: 0.002}
  globex:
    quotas: {cost_limit_usd: 5, cost_period: month}
"""


def app_on(path: Path, **kw) -> LeashApp:
    # a long poll interval: nothing changes under a snapshot while it is taken
    return LeashApp(HistorySource(path), now=NOW, poll_interval=60, health_interval=60, **kw)


def settled(*keys: str):
    async def run_before(pilot) -> None:
        for _ in range(2):
            try:
                await pilot.app.workers.wait_for_complete()
            except WorkerCancelled:
                pass
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
            for _ in range(2):
                try:
                    await pilot.app.workers.wait_for_complete()
                except WorkerCancelled:
                    pass
                await pilot.pause()

    return run_before


@pytest.mark.slow
def test_traffic_80x24(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(80, 24), run_before=settled())


@pytest.mark.slow
def test_traffic_200x60_with_cursor(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(200, 60), run_before=settled("down", "down"))


@pytest.mark.slow
def test_traffic_light_theme(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(120, 30), run_before=settled("t"))


@pytest.mark.slow
def test_filter_error_inline(snap_compare, rich_db):
    assert snap_compare(
        app_on(rich_db), terminal_size=(100, 24), run_before=settled("slash", "tilde", "s", "space", "9", "x", "x")
    )


@pytest.mark.slow
def test_detail_request(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(120, 40), run_before=settled("enter"))


@pytest.mark.slow
def test_detail_violations(snap_compare, rich_db):
    keys = ("down", "down", "down", "down", "enter", "right_square_bracket", "right_square_bracket")
    assert snap_compare(app_on(rich_db), terminal_size=(120, 30), run_before=settled(*keys))


@pytest.mark.slow
def test_cost(snap_compare, rich_db):
    cfg = parse_config_text(CONFIG, "leash.yaml")
    assert snap_compare(app_on(rich_db, config=cfg), terminal_size=(200, 60), run_before=settled("2"))


@pytest.mark.slow
def test_violations(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(120, 40), run_before=settled("3"))


@pytest.mark.slow
def test_help(snap_compare, rich_db):
    assert snap_compare(app_on(rich_db), terminal_size=(100, 45), run_before=settled("question_mark"))
