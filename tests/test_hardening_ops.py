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


# -- item 8: a read-only history says so, and the gateway serves per storage.on_error ----------
def _immutable(*paths, on: bool) -> bool:
    """chattr +i / -i: read-only even for root (chmod is not); False where chattr is unavailable."""
    import subprocess

    try:
        r = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


@pytest.mark.slow  # the gateway stops after its 10 s drain of rows it cannot write
@pytest.mark.parametrize("on_error", ["block", "continue"])
def test_a_read_only_history_says_read_only_and_serves_per_on_error(tmp_path, upstream, on_error):
    import yaml

    from gateway_support import provider_block
    from leash_cli.config import LoadedConfig
    from leash_cli.server import GatewayThread, build_gateway
    from leash_cli.store import open_writable

    folder = tmp_path / "history"
    folder.mkdir()
    db = folder / "leash.db"
    open_writable(db).close()  # a real history, closed cleanly (no -wal / -shm left)
    if not _immutable(db, folder, on=True):
        pytest.skip("chattr +i is not available here")
    try:
        text = yaml.safe_dump({"storage": {"on_error": on_error}, "providers": provider_block(upstream)})
        loaded = LoadedConfig(parse_config_text(text, "leash.yaml"), None, "flag")
        gw = build_gateway(loaded, db_path=db)  # start-up goes on: not "corrupt, move it away"
        with GatewayThread(gw) as url:
            health = httpx.get(f"{url}/health").json()
            assert health["status"] == "degraded"
            err = health["store"]["last_error"]
            assert "read-only" in err and "corrupt" not in err and "move it away" not in err
            r = httpx.post(
                f"{url}/v1/openai/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            )
            if on_error == "block":
                assert r.status_code == 503 and r.json()["error"]["code"] == "history_unavailable"
            else:
                assert r.status_code == 200
            assert httpx.get(f"{url}/ready").status_code == 503
    finally:
        _immutable(db, folder, on=False)


def test_read_only_reason_names_the_file_or_its_folder(tmp_path, monkeypatch):
    """The open path's classification, for systems without chattr: "unable to open database file"
    or "attempt to write a readonly database" on a file that cannot be written is read-only, not corrupt."""
    import builtins

    from leash_cli.store import StoreError, open_writable, schema

    db = tmp_path / "leash.db"
    open_writable(db).close()
    assert schema.read_only_reason(db) is None
    real_open = builtins.open

    def no_write(path, mode="r", *a, **kw):
        if str(path) == str(db) and "+" in mode:
            raise PermissionError(1, "Operation not permitted")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", no_write)

    class Refusing(sqlite3.Connection):
        def execute(self, sql, *args):  # what SQLite answers when it cannot create a WAL database's -shm
            if "user_version" in sql:
                raise sqlite3.OperationalError("unable to open database file")
            return super().execute(sql, *args)

    monkeypatch.setattr(schema, "_connect", lambda path, timeout=5.0: sqlite3.connect(path, factory=Refusing))
    with pytest.raises(sqlite3.OperationalError) as e:
        open_writable(db)
    assert not isinstance(e.value, StoreError)
    assert "is read-only (the file cannot be opened for writing: Operation not permitted)" in str(e.value)
