"""The PostgreSQL store on a real server: a gateway recording into it, several writers at once,
copying a SQLite history in, and the ``leash db`` commands.

(The store contract itself — the same tests for SQLite and PostgreSQL — is tests/history/test_backend.py.)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from leash_cli.cli import app
from leash_cli.config import LoadedConfig, StorageConfig, parse_config_text
from leash_cli.exchange import Violation
from leash_cli.keys import KeyRing, create_key
from leash_cli.paths import resolve_db_path
from leash_cli.server import GatewayThread, build_gateway
from leash_cli.store import make_recorder, open_store
from leash_cli.store.pg_queries import compile_pg_filter
from leash_cli.store.postgres import PostgresStore
from leash_cli.store.sqlite import SqliteStore

from .test_store import make_ex


def invoke(*args: str) -> Any:
    r = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def json_of(*args: str) -> Any:
    return orjson.loads(invoke(*args).stdout)


# -- choosing the store ------------------------------------------------------------------------------


def test_storage_url_and_the_environment_name_the_database(tmp_path, monkeypatch):
    from leash_cli.config import ConfigError

    cfg = parse_config_text("storage: {url: 'postgresql://leash@db.internal:5432/leash'}\n", "x.yaml")
    assert resolve_db_path(None, cfg) == "postgresql://leash@db.internal:5432/leash"
    assert resolve_db_path(None, parse_config_text("storage: {path: h.db}\n", "x.yaml")) == Path("h.db")
    monkeypatch.setenv("LEASH_DATABASE_URL", "postgresql://env@h/leash")
    assert resolve_db_path(None, parse_config_text("storage: {path: h.db}\n", "x.yaml")) == "postgresql://env@h/leash"
    assert resolve_db_path(None, cfg) == "postgresql://leash@db.internal:5432/leash"  # the config's own wins
    assert resolve_db_path(str(Path("postgresql://u@h:5432/x"))) == "postgresql://u@h:5432/x"  # --db is a Path
    assert resolve_db_path(str(tmp_path / "a.db")) == tmp_path / "a.db"
    assert isinstance(open_store("postgresql://u@h/x"), PostgresStore)
    assert isinstance(open_store(str(tmp_path / "a.db")), SqliteStore)
    with pytest.raises(ConfigError, match="PostgreSQL URL"):
        parse_config_text("storage: {url: 'mysql://h/x'}\n", "x.yaml")


@pytest.mark.slow
def test_an_unreachable_server_is_a_clear_error(monkeypatch):
    store = open_store("postgresql://postgres:hunter2@127.0.0.1:1/leash")
    assert "hunter2" not in repr(store)
    from leash_cli.store import StoreError

    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as e:
        store.migrate()
    assert "hunter2" not in str(e.value)
    r = CliRunner().invoke(app, ["logs", "--db", "postgresql://postgres:hunter2@127.0.0.1:1/leash"])
    assert r.exit_code == 1 and "cannot connect to PostgreSQL" in r.output and "hunter2" not in r.output


# -- a gateway recording into PostgreSQL ---------------------------------------------------------------


@pytest.mark.slow
def test_a_gateway_records_every_request_once_and_leash_logs_reads_them(pg_url, upstream, tmp_path, monkeypatch):
    cfg = {
        "storage": {"url": pg_url},
        "providers": {"openai": {"kind": "openai", "endpoint": f"{upstream.url}/v1"}},
        "modules": {"pii-detector": {"action": "redact", "check_responses": False}},
    }
    path = tmp_path / "leash.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = LoadedConfig(parse_config_text(path.read_text(), str(path)), path, "flag")
    gw = build_gateway(loaded)  # no --db: storage.url
    thread = GatewayThread(gw)
    url = thread.start()
    n = 40
    try:
        client = openai.OpenAI(base_url=f"{url}/v1/openai", api_key="sk-test-not-a-real-key", max_retries=0)
        ids = []
        for i in range(n):
            content = f"tell me about llamas {i}" + (" mail me at ana@example.com" if i % 10 == 0 else "")
            resp = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
            )
            ids.append(resp.headers["x-leash-request-id"])
        assert gw.recorder.flush()
    finally:
        thread.stop()
    assert len(set(ids)) == n
    monkeypatch.setenv("LEASH_DATABASE_URL", pg_url)
    monkeypatch.chdir(tmp_path / "home" if (tmp_path / "home").exists() else tmp_path)
    rows = json_of("logs", "--json", "-n", "1000")
    assert sorted(r["id"] for r in rows) == sorted(ids)  # exactly N rows: none lost, none twice
    (totals,) = json_of("stats", "--json")["groups"]
    assert totals["requests"] == n and totals["ok"] == n
    shown = json_of("logs", "--db", pg_url, "show", ids[0], "--json")
    assert shown["status"] == 200 and "authorization" not in shown["request_headers"]
    assert [v["module"] for v in shown["violations"]] == ["pii-detector"]
    found = json_of("logs", "--json", "-q", "llamas 7")
    assert [r["id"] for r in found] == [ids[7]]
    r = open_store(pg_url).open_reader()
    try:
        assert [row["id"] for row in r.page(compile_pg_filter("~mod pii*"))] == [ids[30], ids[20], ids[10], ids[0]]
    finally:
        r.close()


def test_a_nul_character_is_stored_as_a_replacement_character(pg_url):
    """PostgreSQL text cannot hold NUL: the batch is written again with NULs replaced, nothing lost."""
    from leash_cli.store.rows import build_request_row

    ex, plain = make_ex(1), make_ex(2)
    ex.response_text = "before \x00 after"
    w = open_store(pg_url).open_writer()
    try:
        w.write_batch([build_request_row(ex, StorageConfig()), build_request_row(plain, StorageConfig())], [], [])
    finally:
        w.close()
    r = open_store(pg_url).open_reader()
    try:
        got = r.get_request("req-000001")
        assert got is not None and got["response_text"] == "before \ufffd after"
        assert len(r.list_requests(10)) == 2 and len(r.list_requests(10, query="after")) == 1
    finally:
        r.close()


def test_a_row_postgres_refuses_is_dropped_alone(pg_url):
    """A value out of PostgreSQL's range fails its batch: the recorder writes the rows singly and drops
    only that one, as it does for a row SQLite refuses."""
    rec = make_recorder(pg_url, StorageConfig(writer="thread"))
    rec.start()
    bad = make_ex(2)
    bad.status = 10**12  # status is an integer column
    for ex in (make_ex(1), bad, make_ex(3)):
        rec.submit(ex)
    rec.close()
    assert rec.state == "ok" and rec.rows_written == 2 and rec.build_errors == 1
    r = open_store(pg_url).open_reader()
    try:
        assert sorted(row["id"] for row in r.list_requests(10)) == ["req-000001", "req-000003"]
    finally:
        r.close()


# -- several writers into one database -------------------------------------------------------------------


@pytest.mark.slow
def test_two_writer_processes_at_once_lose_nothing_and_duplicate_nothing(pg_url):
    """Two recorders, each in a process of its own, write into one database while a follower reads
    ``new_requests`` as ``leash logs --follow`` does: every id once in the table, and the follower
    sees every row exactly once (rowids are handed out in commit order)."""
    open_store(pg_url).migrate()
    per_writer, shared = 1500, 100
    recorders = [
        make_recorder(pg_url, StorageConfig(writer="process", batch_size=50, commit_interval_ms=5)) for _ in range(2)
    ]
    for rec in recorders:
        rec.start()
    seen: list[str] = []
    stop = threading.Event()

    def follow() -> None:
        r = open_store(pg_url).open_reader()
        last = 0
        try:
            while True:
                done = stop.is_set()
                for row in r.new_requests(last, limit=500):
                    seen.append(row["id"])
                    last = row["_rowid"]
                if done:
                    return
                time.sleep(0.005)
        finally:
            r.close()

    follower = threading.Thread(target=follow)
    follower.start()

    def feed(w: int) -> None:
        for i in range(per_writer):
            ex = make_ex(w * 100000 + i)
            if i < shared:  # the same exchange from both writers (a retried delivery): one row
                ex = make_ex(i)
            ex.violations = [Violation("pii", "EMAIL", "log", "low", "", 0, 1, "", 1.0)] if i % 3 == 0 else []
            recorders[w].submit(ex)

    feeders = [threading.Thread(target=feed, args=(w,)) for w in range(2)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    for rec in recorders:
        rec.close()
        assert rec.state == "ok" and rec.write_errors == 0 and rec.dropped == 0
    stop.set()
    follower.join(30)
    expected = 2 * per_writer - shared
    r = open_store(pg_url).open_reader()
    try:
        ids = [row["id"] for row in r.export_rows(parse_json=False)]
        assert len(ids) == expected and len(set(ids)) == expected
        assert r.max_rowid() >= expected
        assert r.stats()[0]["requests"] == expected
    finally:
        r.close()
    assert len(seen) == expected and set(seen) == set(ids)  # the follower: every row, once


def test_a_lost_connection_loses_no_record(pg_url):
    """The server drops the writer's connection (a restart, a failover): the recorder keeps its rows,
    connects again and writes them; nothing lost, nothing twice."""
    import psycopg

    rec = make_recorder(pg_url, StorageConfig(writer="thread", batch_size=20))
    rec.start()
    dbname = pg_url.rpartition("/")[2].partition("?")[0]
    for i in range(300):
        rec.submit(make_ex(i))
        if i in (100, 200):
            assert rec.flush()
            with psycopg.connect(pg_url, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = 'leash' AND pid <> pg_backend_pid()",
                    [dbname],
                ).fetchone()[0]
            assert killed >= 1
    assert rec.flush(30)
    rec.close()
    assert rec.dropped == 0
    r = open_store(pg_url).open_reader()
    try:
        ids = [row["id"] for row in r.export_rows(parse_json=False)]
        assert sorted(ids) == [f"req-{i:06d}" for i in range(300)]
    finally:
        r.close()


# -- moving a SQLite history into PostgreSQL ------------------------------------------------------------


def test_migrate_sqlite_copies_everything_once(pg_url, tmp_path):
    sqlite = SqliteStore(tmp_path / "old.db")
    rec = make_recorder(sqlite, StorageConfig(writer="thread", retention=None))
    rec.start()
    exs = [make_ex(i) for i in range(30)]
    exs[5].violations = [Violation("secrets", "AWS_KEY", "block", "high", "", 0, 4, "", 1.0)]
    exs[6].response_text = "a NUL \x00 in the middle"  # PostgreSQL text cannot hold it
    for ex in exs:
        rec.submit(ex)
    rec.audit("config_loaded", {"path": "leash.yaml"})
    rec.close()
    key, vk = create_key(sqlite, "team-a", description="ci")

    first = orjson.loads(invoke("db", "migrate-sqlite", str(sqlite.path), "--url", pg_url, "--json").stdout)
    assert (first["requests"], first["violations"], first["audit_log"], first["virtual_keys"]) == (30, 1, 2, 1)
    again = orjson.loads(invoke("db", "migrate-sqlite", str(sqlite.path), "--url", pg_url, "--json").stdout)
    assert (
        again["requests"],
        again["requests_skipped"],
        again["violations"],
        again["audit_log"],
        again["virtual_keys"],
    ) == (0, 30, 0, 0, 0)

    pg = open_store(pg_url)
    src, dst = sqlite.open_reader(), pg.open_reader()
    try:
        listed, before = dst.list_requests(100), src.list_requests(100)
        assert [r["started_at"] for r in listed] == [r["started_at"] for r in before]  # newest first
        assert {r["id"] for r in listed} == {r["id"] for r in before}
        assert [r["id"] for r in dst.new_requests(0)] == [r["id"] for r in src.new_requests(0)]  # written order
        a, b = src.get_request("req-000005"), dst.get_request("req-000005")
        assert a is not None and b is not None
        assert {k: v for k, v in a.items() if k != "violations"} == {k: v for k, v in b.items() if k != "violations"}
        assert [(v["module"], v["type"]) for v in b["violations"]] == [("secrets", "AWS_KEY")]
        six = dst.get_request("req-000006")
        assert six is not None and six["response_text"] == "a NUL \ufffd in the middle"
        assert len(dst.list_requests(100, query="llamas")) == 30
    finally:
        src.close()
        dst.close()
    assert [e[1] for e in pg.audit_events()] == ["config_loaded", "key_created"]
    # the copied rows are chained by the copy: the audit chain verifies, and an edit afterwards is caught
    from leash_cli.store.chain import load_key, verify

    chain = pg.open_chain()
    try:
        rep = verify(chain, load_key(create=True))
    finally:
        chain.close()
    assert rep.ok, rep.findings
    assert rep.rows == 30 + 1 + 2 and rep.pre_chain == 0
    assert KeyRing(pg).lookup(key)[0] == vk  # the key works against PostgreSQL


def test_migrate_sqlite_needs_a_postgres_target(tmp_path):
    r = CliRunner().invoke(app, ["db", "migrate-sqlite", str(tmp_path / "x.db"), "--url", str(tmp_path / "y.db")])
    assert r.exit_code == 1 and "PostgreSQL" in r.output


@pytest.mark.slow
def test_db_migrate(pg_url, tmp_path):
    out = invoke("db", "migrate", "--url", pg_url).stdout
    assert "applied 001_initial, 002_virtual_keys, 003_deferred_fts" in out
    assert "schema up to date" in invoke("db", "migrate", "--url", pg_url).stdout
    assert "schema up to date" in invoke("db", "migrate", "--db", str(tmp_path / "h.db")).stdout  # SQLite too
    assert (tmp_path / "h.db").is_file()


def test_a_newer_schema_is_refused(pg_url):
    import psycopg

    from leash_cli.store import StoreError

    store = open_store(pg_url)
    store.migrate()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('999_future', 'x')")
    with pytest.raises(StoreError, match="newer leash"):
        store.open_writer()
    with pytest.raises(StoreError, match="newer leash"):
        store.open_reader()


# -- the same answers from both backends ---------------------------------------------------------------------

_TEXTS = [
    "tell me about llamas",
    "Alpacas and LLAMAS",
    "foo-bar baz",
    "camelids of the Andes",
    "mail ana@example.com",
    "nothing to see",
    "llama drama",
    "the quick brown fox",
    "Über straße",
    "x:y ratio 3.5",
]
_FILTERS = [
    "",
    "~p openai",
    "~p openai & ~s 5xx",
    "~t team-* !~o ok",
    "(~m gpt-4o | ~m claude*) & ~c >0.001",
    "~v",
    "~mod pii",
    "~mod sec*",
    "~q llamas ~v",
    "llamas",
    "~l >300",
    "!~p openai",
    "~s >=400",
    "~s 4xx",
    "~verdict blocked",
    "~c <=0.002",
    "~q 'foo-bar'",
    "llam* | ~o error",
    "~q über",
    "~m gpt-4o?mini",
    "~q ana@example.com",
    "~q 3.5",
]


def _fill(store: Any, now: float) -> None:
    from leash_cli.exchange import Usage

    rec = make_recorder(store, StorageConfig(writer="thread", retention=None))
    rec.start()
    providers = [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-0"),
        ("google", "gemini-2.5-flash"),
        ("openai", "gpt-4o-mini"),
        ("mock", "mock-1"),
    ]
    for i in range(40):
        prov, model = providers[i % len(providers)]
        ex = make_ex(i)
        ex.provider, ex.kind, ex.model = prov, prov, model
        ex.tenant = ["default", "team-a", "team-b", "acme"][i % 4]
        ex.started_at = now - (3 * 86400 - i if i < 3 else 3600 - i * 30)
        ex.status, ex.outcome = [(200, "ok"), (429, "upstream_error"), (500, "error"), (403, "blocked"), (200, "ok")][
            i % 5
        ]
        ex.verdict = "blocked" if ex.outcome == "blocked" else "allowed"
        ex.usage = Usage(input_tokens=100 + i, output_tokens=i * 3)
        ex.cost_usd = None if i % 6 == 0 else 0.0005 * i
        if i % 3 == 1:  # response-cache hits and misses (stats and cost totals count them)
            ex.cost_detail = {"cache": "hit" if i % 2 else "miss", "saved_usd": 0.001}
        ex.response_text = _TEXTS[i % len(_TEXTS)]
        ex.t_upstream_start, ex.t_upstream_end = ex.t_start, ex.t_start + 0.01 * (i * 7 % 50 + 1)
        ex.t_end = ex.t_upstream_end + 0.001 * (i % 4)
        if i % 4 == 1:
            ex.violations = [Violation("pii-detector", "EMAIL", "redact", "medium", "", 1, 5, "", 0.9)]
        if i % 7 == 2:
            ex.violations = [
                *ex.violations,
                Violation("secrets-detector", "AWS_KEY", "block", "high", "", 0, 4, "", 1.0),
            ]
        rec.submit(ex)
    rec.close()


def _same(a: Any, b: Any) -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b), (a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), (a, b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b, (a, b)


@pytest.mark.slow
def test_both_backends_give_the_same_answers(pg_url, tmp_path):
    from leash_cli.store.filters import compile_filter
    from leash_cli.store.rows import iso_utc

    sqlite, pg = SqliteStore(tmp_path / "h.db"), open_store(pg_url)
    now = time.time()
    _fill(sqlite, now)
    _fill(pg, now)
    a, b = sqlite.open_reader(), pg.open_reader()
    day, week = iso_utc(time.time() - 86400), iso_utc(time.time() - 7 * 86400)
    try:

        def both(name: str, *args: Any, **kw: Any) -> None:
            x, y = getattr(a, name)(*args, **kw), getattr(b, name)(*args, **kw)
            _same(x, y)

        def listed(*args: Any, **kw: Any) -> None:
            x, y = a.list_requests(*args, **kw), b.list_requests(*args, **kw)
            for r in (*x, *y):
                r.pop("_rowid")  # each database numbers its rows
            _same(x, y)

        listed(100)
        listed(5)
        for kw in (
            {"provider": "openai"},
            {"model": "gpt-4o"},
            {"tenant": "team-a"},
            {"status": "4xx"},
            {"status": 200},
            {"outcome": "blocked"},
            {"since": day},
            {"provider": "openai", "status": "5xx"},
        ):
            listed(100, **kw)
        for q in (
            "llamas",
            "LLAMAS",
            "llam*",
            "foo-bar",
            "alpacas llamas",
            "camel*",
            "straße",
            "nope",
            "ana",
            "example.com",
            "ratio",
        ):
            listed(100, query=q)
            listed(3, query=q, tenant="team-b")
        for expr in _FILTERS:
            listed(100, expr=expr)
            x, y = a.page(compile_filter(expr)), b.page(compile_filter(expr))
            assert [r["id"] for r in x] == [r["id"] for r in y], expr
            x, y = a.newer(compile_filter(expr), 10), b.newer(compile_filter(expr), 10)
            assert [r["id"] for r in x] == [r["id"] for r in y], expr
        assert [r["id"] for r in a.new_requests(10, provider="openai", query="llamas")] == [
            r["id"] for r in b.new_requests(10, provider="openai", query="llamas")
        ]
        for by in (None, "provider", "model", "tenant", "day"):
            x, y = a.stats(week, by), b.stats(week, by)
            _same(sorted(x, key=lambda r: str(r["group"])), sorted(y, key=lambda r: str(r["group"])))
        both("stats")
        for kw in ({}, {"since": day}, {"tenant": "team-a"}, {"last": 7}, {"since": week, "tenant": "acme", "last": 3}):
            both("count_replay", **kw)
            _same(list(a.replay_rows(**kw)), list(b.replay_rows(**kw)))  # leash policy test reads these
        both("providers")
        both("cost_totals", day)
        for col in ("tenant", "provider", "model"):
            both("cost_by", col, week)
        both("spend_by_day", week)
        both("tenant_spend", "team-a", week)
        both("violation_groups", day, week)
        both("violations_by_day", week)
        both("violations_by_day", week, module="pii-detector", type="EMAIL")
        both("recent_violations")
        both("recent_violations", module="secrets-detector", action="block", limit=3)
        assert sorted(a.recent_outcomes(day), key=repr) == sorted(b.recent_outcomes(day), key=repr)
        for i in (0, 1, 2, 39):
            both("get_request", f"req-{i:06d}")
        for r in (a, b):
            with pytest.raises(ValueError, match="more than one"):
                r.get_request("req-00003")  # a prefix of ten ids
        _same(list(a.export_rows()), list(b.export_rows()))
        _same(list(a.export_rows(day, parse_json=False)), list(b.export_rows(day, parse_json=False)))
    finally:
        a.close()
        b.close()


# -- the TUI --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_tui_reads_a_postgres_history(pg_url, tmp_path, capsys):
    """The TUI over PostgreSQL shows what it shows over the same history in SQLite."""
    import asyncio
    import sys

    from leash_cli.tui import run_tui
    from leash_cli.tui.app import LeashApp
    from leash_cli.tui.source import HistorySource
    from leash_cli.tui.widgets.traffic_table import TrafficTable

    sys.path.insert(0, str(Path(__file__).parent.parent / "tui"))
    from tuidata import NOW, build_rich

    assert run_tui(pg_url) == 1 and "no history at" in capsys.readouterr().err  # nothing migrated yet
    build_rich(tmp_path / "rich.db")
    copy = invoke("db", "migrate-sqlite", str(tmp_path / "rich.db"), "--url", pg_url).stdout
    assert "12 requests" in copy

    async def shown(location: Any) -> list[str]:
        source = HistorySource(location)
        app = LeashApp(source, now=NOW, poll_interval=0.1)
        try:
            async with app.run_test(size=(120, 30)) as pilot:
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                return [r["id"] for r in app.screen.query_one(TrafficTable).rows]
        finally:
            source.close()  # as `leash tui` does (its PostgreSQL pool too)

    sqlite_rows = asyncio.run(shown(tmp_path / "rich.db"))
    pg_rows = asyncio.run(shown(open_store(pg_url)))
    assert len(pg_rows) == 12 and pg_rows == sqlite_rows


# -- the other commands on a PostgreSQL history -----------------------------------------------------------------


@pytest.mark.slow
def test_keys_vacuum_and_backup_commands(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LEASH_DATABASE_URL", pg_url)
    monkeypatch.chdir(tmp_path)
    assert invoke("logs", "path").stdout.strip() == pg_url
    made = json_of("keys", "create", "--tenant", "team-a", "--json")
    assert made["key"].startswith("lk-")
    assert made["id"] in invoke("keys", "list").stdout
    invoke("keys", "revoke", made["id"])
    (vk,) = open_store(pg_url).list_keys()
    assert vk.revoked_at is not None
    write = open_store(pg_url).open_writer()
    try:
        from leash_cli.store.rows import build_request_row

        write.write_batch([build_request_row(make_ex(i), StorageConfig()) for i in range(25)], [], [])
    finally:
        write.close()
    assert "vacuumed" in invoke("logs", "vacuum").stdout
    invoke("logs", "backup", str(tmp_path / "copy.db"))
    r = SqliteStore(tmp_path / "copy.db").open_reader()
    try:
        assert len(r.list_requests(100)) == 25 and len(r.list_requests(100, query="llamas")) == 25
    finally:
        r.close()
    assert [e[1] for e in open_store(pg_url).audit_events()] == ["key_created", "key_revoked", "vacuum"]
