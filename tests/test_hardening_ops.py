"""Issue #25 item 8: module errors never quote the prompt; gateway.workers; gateway.admin_key."""

from __future__ import annotations

import logging
import sqlite3
import textwrap

import httpx
import pytest

from leash_cli.config import ConfigError, parse_config_text


def test_a_module_exception_never_carries_the_prompt_into_logs_or_violations(start_gateway, tmp_path, caplog):
    d = tmp_path / "modules"
    d.mkdir()
    (d / "leaky.py").write_text(
        textwrap.dedent(
            """
            class Leaky:
                name = "leaky"

                def policy(self, ex):
                    raise ValueError("cannot parse: " + ex.prompt_text)
            """
        )
    )
    gw = start_gateway({"modules_dir": "modules", "modules": {"leaky": {}}})
    secret = "sk-proj-CANARYabcdefghijklmnop1234"
    with caplog.at_level(logging.WARNING):
        r = httpx.post(
            f"{gw.base('openai')}/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my key {secret}"}]},
        )
    assert r.status_code == 503 and r.json()["error"]["code"] == "module_error"
    assert secret not in r.text and secret not in caplog.text
    assert "ValueError" in caplog.text and "leaky.py" in caplog.text
    gw.flush()
    details = [d for (d,) in sqlite3.connect(gw.db_path).execute("SELECT detail FROM violations")]
    assert details and all(secret not in d and "ValueError" in d for d in details)


def test_workers_other_than_one_is_a_clear_config_error():
    with pytest.raises(ConfigError) as e:
        parse_config_text("gateway:\n  workers: 4\n", "leash.yaml")
    text = e.value.render()
    assert "workers" in text and "replicas" in text
    assert parse_config_text("gateway:\n  workers: 1\n", "leash.yaml").gateway.workers == 1


def test_admin_key_guards_health_and_metrics(start_gateway):
    gw = start_gateway({"gateway": {"admin_key": "adm-123456"}})
    for path in ("/health", "/metrics"):
        assert httpx.get(f"{gw.url}{path}").status_code == 401
        assert httpx.get(f"{gw.url}{path}", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{gw.url}{path}", headers={"authorization": "Bearer adm-123456"}).status_code == 200
        assert httpx.get(f"{gw.url}{path}", headers={"x-leash-admin-key": "adm-123456"}).status_code == 200
    assert httpx.get(f"{gw.url}/ready").status_code == 200  # probes stay open
