"""`leash logs` and `leash stats` in-process, on a Typer app built here."""

from __future__ import annotations

import csv
import io
import time

import orjson
import pytest
import typer
from typer.testing import CliRunner

from leash_cli import history as hist
from leash_cli.commands import history
from leash_cli.config import StorageConfig
from leash_cli.exchange import Usage, Violation
from leash_cli.paths import leash_home, resolve_db_path
from leash_cli.store import Recorder, open_readonly

from .samples import exchange


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()
    a.add_typer(history.logs_app, name="logs")
    a.command("stats")(history.stats)
    return a


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEASH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LEASH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no leash.yaml here: the embedded default config
    return tmp_path / "home"


def fill(path, n_old: int = 0) -> None:
    rec = Recorder(path, StorageConfig(retention=None))
    rec.start()
    now = time.time()
    specs = [
        # id, provider, model, tenant, status, outcome, tokens in/out, cost, text
        ("aaa-1", "openai", "gpt-4o", "default", 200, "ok", (1000, 500), 0.00725, "llamas are camelids"),
        ("aaa-2", "anthropic", "claude-sonnet-4-0", "team-a", 200, "ok", (1000, 400), 0.008685, "alpacas are small"),
        ("bbb-3", "google", "gemini-2.5-flash", "team-a", 429, "upstream_error", (None, None), None, None),
        ("bbb-4", "openai", "gpt-4o", "team-b", 403, "blocked", (None, None), None, "my ssn is 123"),
        ("ccc-5", "mock", "mock-1", "default", 200, "ok", (10, 10), None, "mock llamas"),
    ]
    for i, (rid, prov, model, tenant, status, outcome, (tin, tout), cost, text) in enumerate(specs):
        ex = exchange(
            id=rid,
            provider=prov,
            kind=prov if prov != "mock" else "mock",
            model=model,
            tenant=tenant,
            body=orjson.dumps({"messages": [{"role": "user", "content": text or "hi"}]}),
            api={"google": "google", "anthropic": "anthropic"}.get(prov, "openai"),
        )
        ex.started_at = now - 60 + i
        ex.status, ex.outcome = status, outcome
        ex.verdict = "blocked" if outcome == "blocked" else "allowed"
        ex.usage = Usage(input_tokens=tin, output_tokens=tout)
        ex.cost_usd = cost
        if cost:
            ex.cost_detail = {
                "source": "genai-prices",
                "model": model,
                "usd": {"input": cost / 2, "output": cost / 2},
                "tokens": {"input": tin, "output": tout},
                "prices_per_million": {"input": 2.5, "output": 10.0},
                "total_usd": cost,
            }
        ex.response_text = text
        ex.t_upstream_start, ex.t_upstream_end = ex.t_start, ex.t_start + 0.1 * (i + 1)
        ex.t_end = ex.t_start + 0.1 * (i + 1) + 0.002
        ex.request_headers = {"authorization": "Bearer sk-secretsecretsecret", "content-type": "application/json"}
        if outcome == "blocked":
            ex.violations = [Violation("pii", "ssn", "block", "high", "US SSN", 10, 13, "messages[0].content")]
        rec.submit(ex)
    for j in range(n_old):
        ex = exchange(id=f"old-{j}", model="gpt-4o")
        ex.started_at = now - 3 * 86400
        ex.status = 200
        ex.t_end = ex.t_start + 1
        rec.submit(ex)
    rec.audit("config_loaded")
    rec.close()


@pytest.fixture
def db(home):
    path = home / "leash.db"
    fill(path, n_old=2)
    return path


# -- paths --------------------------------------------------------------------------------------------


def test_paths(home, tmp_path, monkeypatch):
    assert leash_home() == home
    assert resolve_db_path() == home / "leash.db"
    assert resolve_db_path("~/x.db") == resolve_db_path("~/x.db").expanduser()
    from leash_cli.config import Config, LoadedConfig

    cfg = Config.model_validate({"storage": {"path": "~/hist/leash.db"}})
    assert str(resolve_db_path(None, cfg)).endswith("hist/leash.db") and "~" not in str(resolve_db_path(None, cfg))
    assert resolve_db_path("explicit.db", cfg).name == "explicit.db"
    rel = Config.model_validate({"storage": {"path": "data/leash.db"}})
    loaded = LoadedConfig(rel, tmp_path / "conf" / "leash.yaml", "flag")
    assert resolve_db_path(None, loaded) == tmp_path / "conf" / "data" / "leash.db"
    monkeypatch.delenv("LEASH_HOME")
    assert leash_home().name == ".leash"


def test_logs_path(app, runner, home):
    r = runner.invoke(app, ["logs", "path"])
    assert r.exit_code == 0 and r.output.strip() == str(home / "leash.db")


def test_logs_path_uses_config_storage_path(app, runner, tmp_path):
    (tmp_path / "leash.yaml").write_text("storage:\n  path: ./elsewhere.db\n")
    r = runner.invoke(app, ["logs", "path"])
    assert r.exit_code == 0 and r.output.strip() == str(tmp_path / "elsewhere.db")


# -- no database yet ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [["logs"], ["logs", "-n", "5", "--json"], ["stats"], ["logs", "export"], ["logs", "vacuum"]]
)
def test_no_history_yet_is_a_clear_message(app, runner, home, args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"no history yet at {home / 'leash.db'}" in r.output and "leash up" in r.output
    assert "Traceback" not in r.output


def test_show_missing_db_exits_1(app, runner):
    r = runner.invoke(app, ["logs", "show", "abc"])
    assert r.exit_code == 1 and "no history yet" in r.output


# -- listing -------------------------------------------------------------------------------------------


def test_logs_table(app, runner, db):
    r = runner.invoke(app, ["logs"], terminal_width=200)
    assert r.exit_code == 0, r.output
    out = r.output
    for text in (
        "gpt-4o",
        "claude-sonnet-4-0",
        "gemini-2.5-flash",
        "team-a",
        "429 upstream_error",
        "403 blocked",
        "unpriced",
        "$0.007250",
        "1,000",
    ):
        assert text in out, text
    # a log: oldest of the listed first, newest last
    assert out.index("aaa-1") < out.index("ccc-5")


def test_logs_json_and_filters(app, runner, db):
    def ids(*args):
        r = runner.invoke(app, ["logs", "--json", *args])
        assert r.exit_code == 0, r.output
        return [row["id"] for row in orjson.loads(r.output)]

    assert ids("-n", "2") == ["bbb-4", "ccc-5"]
    assert sorted(ids("--provider", "openai")) == ["aaa-1", "bbb-4", "old-0", "old-1"]
    assert ids("--provider", "openai")[-2:] == ["aaa-1", "bbb-4"]
    assert ids("--tenant", "team-a") == ["aaa-2", "bbb-3"]
    assert ids("--status", "429") == ["bbb-3"]
    assert ids("--status", "4xx") == ["bbb-3", "bbb-4"]
    assert ids("--outcome", "blocked") == ["bbb-4"]
    assert ids("--model", "gpt-4o", "--tenant", "team-b") == ["bbb-4"]
    assert ids("-q", "llamas") == ["aaa-1", "ccc-5"]
    assert ids("-q", "llamas camelids") == ["aaa-1"]
    assert ids("-q", "alpaca*") == ["aaa-2"]
    assert ids("-q", 'weird "quote" AND-or:') == []  # never FTS syntax errors
    r = runner.invoke(app, ["logs", "--json", "-n", "1"])
    row = orjson.loads(r.output)[0]
    assert "request_body" not in row and "_rowid" not in row
    assert row["cost_usd"] is None and row["status"] == 200


def test_bad_status_is_a_usage_error(app, runner, db):
    r = runner.invoke(app, ["logs", "--status", "teapot"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_follow_library(db):
    database = open_readonly(db)
    last = hist.max_rowid(database)
    assert hist.new_requests(database, last) == []
    rec = Recorder(db, StorageConfig(retention=None))
    rec.start()
    rec.submit(exchange(id="new-1", model="gpt-4o"))
    rec.close()
    new = hist.new_requests(database, last)
    assert [r["id"] for r in new] == ["new-1"]
    assert hist.new_requests(database, last, provider="anthropic") == []


# -- show ----------------------------------------------------------------------------------------------


def test_show(app, runner, db):
    r = runner.invoke(app, ["logs", "show", "bbb-4"], terminal_width=200)
    assert r.exit_code == 0, r.output
    for text in (
        "bbb-4",
        "403 blocked",
        "violations",
        "ssn",
        "US SSN",
        "10-13",
        "content-type",
        "my ssn is 123",
        "team-b",
    ):
        assert text in r.output, text
    assert "secretsecret" not in r.output and "authorization" not in r.output


def test_show_cost_breakdown_and_prefix(app, runner, db):
    r = runner.invoke(app, ["logs", "show", "aaa-1"], terminal_width=200)
    assert r.exit_code == 0 and "genai-prices" in r.output and "2.5" in r.output
    r = runner.invoke(app, ["logs", "show", "ccc"], terminal_width=200)  # unique prefix
    assert r.exit_code == 0 and "ccc-5" in r.output
    r = runner.invoke(app, ["logs", "show", "aaa"])  # ambiguous prefix
    assert r.exit_code == 1 and "more than one" in r.output


def test_show_json(app, runner, db):
    r = runner.invoke(app, ["logs", "show", "bbb-4", "--json"])
    assert r.exit_code == 0
    data = orjson.loads(r.output)
    assert data["id"] == "bbb-4" and data["verdict"] == "blocked"
    assert data["request_headers"] == {"content-type": "application/json"}
    assert data["violations"][0]["type"] == "ssn" and data["violations"][0]["end"] == 13


def test_show_missing_id(app, runner, db):
    r = runner.invoke(app, ["logs", "show", "zzz-nope"])
    assert r.exit_code == 1 and "no exchange 'zzz-nope'" in r.output


def test_db_option_on_group_and_subcommand(app, runner, db, tmp_path):
    other = tmp_path / "other.db"
    fill(other)
    r = runner.invoke(app, ["logs", "--db", str(other), "show", "aaa-1", "--json"])
    assert r.exit_code == 0 and orjson.loads(r.output)["id"] == "aaa-1"
    r = runner.invoke(app, ["logs", "show", "--db", str(other), "old-0"])
    assert r.exit_code == 1  # other.db has no old rows
    r = runner.invoke(app, ["logs", "path", "--db", str(other)])
    assert r.output.strip() == str(other)


# -- stats ------------------------------------------------------------------------------------------------


def test_stats_json(app, runner, db):
    r = runner.invoke(app, ["stats", "--json"])
    assert r.exit_code == 0, r.output
    data = orjson.loads(r.output)
    (g,) = data["groups"]
    assert g["requests"] == 5  # the 2 old rows are outside 24h
    assert (g["ok"], g["errors"], g["blocked"]) == (3, 1, 1)
    assert (g["input_tokens"], g["output_tokens"]) == (2010, 910)
    assert g["cost_usd"] == pytest.approx(0.00725 + 0.008685)
    assert g["unpriced"] == 3
    # latencies 102, 202, 302, 402, 502 ms (nearest rank)
    assert g["p50_latency_ms"] == pytest.approx(302, abs=0.01)
    assert g["p95_latency_ms"] == pytest.approx(502, abs=0.01)
    assert g["p50_overhead_ms"] == pytest.approx(2, abs=0.01)


def test_stats_by(app, runner, db):
    r = runner.invoke(app, ["stats", "--by", "provider", "--json", "--since", "7d"])
    groups = {g["group"]: g for g in orjson.loads(r.output)["groups"]}
    assert groups["openai"]["requests"] == 4 and groups["anthropic"]["requests"] == 1
    r = runner.invoke(app, ["stats", "--by", "day", "--json", "--since", "7d"])
    assert sum(g["requests"] for g in orjson.loads(r.output)["groups"]) == 7
    r = runner.invoke(app, ["stats", "--by", "tenant"], terminal_width=200)
    assert r.exit_code == 0 and "team-a" in r.output and "unpriced" in r.output
    r = runner.invoke(app, ["stats", "--by", "nope"])
    assert r.exit_code == 2


def test_stats_by_tenant_shows_the_display_names_of_the_config(app, runner, db, tmp_path):
    cfg = tmp_path / "tenants.yaml"
    cfg.write_text(
        f"storage: {{path: {db}}}\ntenants:\n  team-a: {{name: Team Alpha}}\n  team-b: {{description: no name}}\n"
    )
    r = runner.invoke(app, ["stats", "--by", "tenant", "--since", "7d", "--config", str(cfg)], terminal_width=200)
    assert r.exit_code == 0 and "team-a (Team Alpha)" in r.output and "team-b (" not in r.output
    r = runner.invoke(app, ["stats", "--by", "tenant", "--since", "7d", "--config", str(cfg), "--json"])
    names = {g["group"]: g["name"] for g in orjson.loads(r.output)["groups"]}
    assert names["team-a"] == "Team Alpha" and names["team-b"] is None


def test_stats_since_iso_and_bad_since(app, runner, db):
    r = runner.invoke(app, ["stats", "--json", "--since", "2000-01-01T00:00:00Z"])
    assert orjson.loads(r.output)["groups"][0]["requests"] == 7
    r = runner.invoke(app, ["stats", "--since", "yesterday-ish"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_stats_table(app, runner, db):
    r = runner.invoke(app, ["stats"], terminal_width=200)
    assert r.exit_code == 0 and "$0.0159" in r.output


# -- export, vacuum, backup ----------------------------------------------------------------------------------


def test_export_jsonl_and_csv(app, runner, db, tmp_path):
    r = runner.invoke(app, ["logs", "export", "--since", "24h"])
    assert r.exit_code == 0
    lines = [orjson.loads(x) for x in r.output.splitlines()]
    assert [x["id"] for x in lines] == ["aaa-1", "aaa-2", "bbb-3", "bbb-4", "ccc-5"]
    assert lines[0]["request_headers"] == {"content-type": "application/json"}
    out = tmp_path / "x.csv"
    r = runner.invoke(app, ["logs", "export", "--format", "csv", "--out", str(out)])
    assert r.exit_code == 0 and "exported 7" in r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 7 and rows[0]["id"].startswith("old-")
    r = runner.invoke(app, ["logs", "export", "--format", "xml"])
    assert r.exit_code == 2


def test_vacuum_and_backup(app, runner, db, tmp_path):
    r = runner.invoke(app, ["logs", "vacuum"])
    assert r.exit_code == 0 and "vacuumed" in r.output
    audit = open_readonly(db).execute("SELECT event, detail FROM audit_log ORDER BY id").fetchall()
    assert [a[0] for a in audit] == ["config_loaded", "vacuum"]
    assert "bytes_before" in audit[1][1]
    dest = tmp_path / "backup" / "copy.db"
    r = runner.invoke(app, ["logs", "backup", str(dest)])
    assert r.exit_code == 0 and dest.exists()
    assert open_readonly(dest).execute("SELECT count(*) FROM requests").fetchone()[0] == 7
    # FTS still works in the copy
    assert (
        open_readonly(dest).execute("SELECT count(*) FROM requests_fts WHERE requests_fts MATCH 'llamas'").fetchone()[0]
        == 2
    )
    r = runner.invoke(app, ["logs", "backup", str(dest)])
    assert r.exit_code == 1 and "already exists" in r.output


def test_corrupt_database_is_a_message_not_a_traceback(app, runner, home):
    home.mkdir(parents=True)
    (home / "leash.db").write_bytes(b"garbage" * 1000)
    for args in (["logs"], ["stats"], ["logs", "show", "x"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 1 and "cannot be read" in r.output and "Traceback" not in r.output


def test_config_option_picks_storage_path(app, runner, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "gw.yaml").write_text("storage:\n  path: hist.db\n")
    fill(conf / "hist.db")
    r = runner.invoke(app, ["logs", "--config", str(conf / "gw.yaml"), "path"])
    assert r.output.strip() == str(conf / "hist.db")
    r = runner.invoke(app, ["logs", "-c", str(conf / "gw.yaml"), "show", "aaa-1", "--json"])
    assert r.exit_code == 0 and orjson.loads(r.output)["id"] == "aaa-1"
    r = runner.invoke(app, ["stats", "--config", str(conf / "gw.yaml"), "--json"])
    assert orjson.loads(r.output)["groups"][0]["requests"] == 5
    (conf / "bad.yaml").write_text("storage:\n  bodies: sometimes\n")
    r = runner.invoke(app, ["stats", "--config", str(conf / "bad.yaml")])
    assert r.exit_code == 1 and "storage.bodies" in r.output and "Traceback" not in r.output


def test_broken_local_config_does_not_hide_history(app, runner, db, tmp_path):
    (tmp_path / "leash.yaml").write_text("gateway: [not, a, mapping\n")
    r = runner.invoke(app, ["logs", "--json", "-n", "1"])
    assert r.exit_code == 0 and orjson.loads(r.output)[0]["id"] == "ccc-5"


@pytest.mark.parametrize(
    "args",
    [
        ["logs", "--json"],
        ["logs", "show", "aaa-1"],
        ["logs", "export", "--since", "24h"],
        ["logs", "backup", "copy.db"],
        ["stats", "--json"],
    ],
)
def test_every_command_closes_the_reader_it_opened(app, runner, db, monkeypatch, args):
    """Run in-process, a command leaves no reader open (a PostgreSQL reader holds a connection pool)."""
    from leash_cli.store.queries import SqliteReader

    opened: list[SqliteReader] = []
    closed: list[SqliteReader] = []
    real_init, real_close = SqliteReader.__init__, SqliteReader.close

    def init(self, *a, **k):
        real_init(self, *a, **k)
        opened.append(self)

    def close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(SqliteReader, "__init__", init)
    monkeypatch.setattr(SqliteReader, "close", close)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert opened and closed == opened  # each reader closed, once
