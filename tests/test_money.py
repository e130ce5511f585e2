"""Money is shown with the precision it needs (issue #24 item 11): every formatter of amounts."""

from __future__ import annotations

import pytest

from leash_cli.money import usd, usd_exact


@pytest.mark.parametrize(
    "v, text",
    [
        (0, "$0"),
        (0.00002, "$0.00002"),
        (0.0000123, "$0.000012"),
        (0.004567, "$0.0046"),
        (0.015, "$0.015"),
        (0.5, "$0.50"),
        (12.3456, "$12.35"),
        (1234.5, "$1,234.50"),
        (2e-13, "<$0.000000000001"),
        (-0.00002, "-$0.00002"),
    ],
)
def test_usd(v, text):
    assert usd(v) == text


@pytest.mark.parametrize(
    "v, text",
    [
        (0.00002, "$0.00002"),
        (0.015, "$0.015"),
        (100, "$100.00"),
        (5.5, "$5.50"),
        (1e-07, "$0.0000001"),
        (1234.5678, "$1,234.5678"),
    ],
)
def test_usd_exact_shows_a_configured_amount_as_written(v, text):
    assert usd_exact(v) == text


def test_every_formatter_shows_a_tiny_amount():
    from leash_cli.commands.history import _fmt_cost
    from leash_cli.tui.format import fmt_cost, fmt_usd

    for fmt in (fmt_usd, fmt_cost):
        assert fmt(0.00002) == "$0.00002", fmt
        assert fmt(2e-8) == "$0.00000002", fmt
    assert _fmt_cost(0.00002) == "$0.000020"  # `leash logs`/`stats`: six decimals below a cent, as before
    assert _fmt_cost(2e-8) == "$0.00000002"  # not $0.000000
    # what the history showed before keeps its form
    assert _fmt_cost(0.00725) == "$0.007250" and _fmt_cost(0.0159) == "$0.0159"
    assert fmt_usd(12.5) == "$12.50" and fmt_usd(0.0073) == "$0.0073" and fmt_usd(0.001) == "$0.0010"


def test_a_tiny_budget_is_named_in_the_429_message(start_gateway):
    import httpx

    gw = start_gateway(
        {
            "pricing": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}},
            "modules": {"cost-tracker": {"limit_usd": 0.00002, "per": ["global"]}},
        }
    )
    r = httpx.post(
        f"{gw.base('openai')}/chat/completions",
        timeout=10,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 429
    msg = r.json()["error"]["message"]
    assert "of $0.00002 per day" in msg, msg
    assert "$0.0000 " not in msg and "$0.00 " not in msg
