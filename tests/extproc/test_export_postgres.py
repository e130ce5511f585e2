"""`leash export compose --store postgres`: a PostgreSQL service, migrations once, N stateless module hosts.

Validated as the SQLite export is (the Compose Specification schema, the real Envoy binary), and
the generated migrate command and module-host config are run against a real PostgreSQL server.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
import yaml
from ep_support import envoy_binary
from typer.testing import CliRunner

from leash_cli.extproc.export import DATABASE_URL, POSTGRES_ENV


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    cfg = {
        "providers": {
            "openai": {"endpoint": "https://api.openai.com/v1"},
            "anthropic": {"endpoint": "https://api.anthropic.com", "api_key": "${ANTHROPIC_API_KEY}"},
        },
        "storage": {"path": "/somewhere/leash.db", "url": "postgresql://someone:secret@elsewhere/db"},
        "modules": {"pii-detector": {"action": "redact"}},
    }
    p = tmp_path / "leash.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _export(out: Path, config: Path, *extra: str):
    from leash_cli.cli import app

    return CliRunner().invoke(app, ["export", "compose", "--out", str(out), "--config", str(config), *extra])


def _env(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


@pytest.mark.slow
def test_postgres_export_structure(tmp_path, config_file):
    out = tmp_path / "deploy"
    r = _export(out, config_file, "--store", "postgres", "--replicas", "4", "--no-validate")
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((out / "docker-compose.yaml").read_text())
    services = doc["services"]
    assert set(services) == {"envoy", "leash", "redis", "postgres", "migrate", "prometheus"}
    assert set(doc["volumes"]) == {"postgres-data", "redis-data", "prometheus-data"}  # no shared SQLite volume

    pg = services["postgres"]
    assert re.match(r"^postgres:\d+(\.\d+)?-alpine$", pg["image"])
    assert pg["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert pg["env_file"] == [POSTGRES_ENV] and "ports" not in pg  # not published
    assert pg["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]

    migrate = services["migrate"]
    assert migrate["command"] == ["leash", "db", "migrate", "--url", DATABASE_URL]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert migrate["image"] == services["leash"]["image"] and migrate["build"] == services["leash"]["build"]

    leash = services["leash"]
    assert leash["deploy"]["replicas"] == 4
    assert leash["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert leash["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "--db" not in leash["command"]  # the history is storage.url
    assert leash["env_file"] == [".env", POSTGRES_ENV]
    assert not [v for v in leash["volumes"] if not v.startswith("./")]  # stateless: no named volume
    for svc in services.values():
        assert "environment" not in svc  # secrets come from the env files only
        for dep in svc.get("depends_on") or {}:
            assert dep in services

    # the module hosts' config: the deployment's database, whatever the source config said
    leash_yaml = yaml.safe_load((out / "leash.yaml").read_text())
    assert leash_yaml["storage"] == {"url": DATABASE_URL}
    assert "secret" not in (out / "leash.yaml").read_text()

    # the credentials: generated, 0600, git-ignored, not in the manifest, never in another file
    env_path = out / POSTGRES_ENV
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    env = _env(env_path)
    assert env["POSTGRES_USER"] == "leash" and env["POSTGRES_DB"] == "leash"
    assert re.fullmatch(r"[0-9a-f]{48}", env["POSTGRES_PASSWORD"]) and env["PGPASSWORD"] == env["POSTGRES_PASSWORD"]
    assert len(env["LEASH_AUDIT_KEY"]) >= 16
    assert POSTGRES_ENV in (out / ".gitignore").read_text().split()
    for p in out.rglob("*"):
        if p.is_file() and p != env_path and p.suffix != ".whl":
            assert env["POSTGRES_PASSWORD"] not in p.read_text(), p
    assert POSTGRES_ENV not in json.loads((out / ".leash-export.json").read_text())["files"]

    # the image has the PostgreSQL driver
    assert re.search(
        r'pip install --no-cache-dir "/tmp/wheels/leash_cli-[^"]+\.whl\[postgres\]"', (out / "Dockerfile").read_text()
    )
    readme = (out / "README.md").read_text()
    assert "${" not in readme and DATABASE_URL in readme and "postgres.env" in readme
    assert f"--db {DATABASE_URL}" in readme  # the first key goes into PostgreSQL

    # re-running keeps the password (the volume was initialised with it) and tightens a loosened mode
    env_path.chmod(0o644)
    r = _export(out, config_file, "--store", "postgres", "--replicas", "4", "--no-validate")
    assert r.exit_code == 0, r.output
    assert _env(env_path) == env and stat.S_IMODE(env_path.stat().st_mode) == 0o600


@pytest.mark.slow
def test_sqlite_stays_the_default(tmp_path, config_file):
    out = tmp_path / "deploy"
    assert _export(out, config_file, "--no-validate").exit_code == 0
    services = yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]
    assert set(services) == {"envoy", "leash", "redis", "prometheus"}
    assert services["leash"]["command"][-2:] == ["--db", "/data/leash.db"]
    assert not (out / POSTGRES_ENV).exists()
    assert (
        "storage" not in yaml.safe_load((out / "leash.yaml").read_text())
        or "url" not in (yaml.safe_load((out / "leash.yaml").read_text())["storage"])
    )
    r = _export(tmp_path / "bad", config_file, "--store", "mysql", "--no-validate")
    assert r.exit_code == 2 and "unknown store 'mysql'" in r.output


@pytest.mark.slow
def test_postgres_compose_passes_the_compose_spec_schema(tmp_path, config_file):
    import jsonschema

    out = tmp_path / "deploy"
    assert _export(out, config_file, "--store", "postgres", "--no-validate").exit_code == 0
    doc = yaml.safe_load((out / "docker-compose.yaml").read_text())
    schema = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []


@pytest.mark.slow
def test_envoy_validates_the_postgres_export(tmp_path, config_file):
    binary = envoy_binary()
    from leash_cli.extproc.envoy import validate

    out = tmp_path / "deploy"
    r = _export(out, config_file, "--store", "postgres", "--replicas", "3")
    assert r.exit_code == 0, r.output
    assert "envoy.yaml is valid" in r.output
    ok, output = validate(binary, out / "envoy.yaml")
    assert ok, output


@pytest.mark.slow
def test_the_migrate_service_and_module_host_config_run_against_postgres(tmp_path, config_file, pg_url):
    """The migrate service's command and the module hosts' storage.url, with the `postgres` service
    mapped to the real server of this machine."""
    from leash_cli.cli import app
    from leash_cli.config import load_config
    from leash_cli.paths import resolve_db_path
    from leash_cli.store import open_store

    out = tmp_path / "deploy"
    assert _export(out, config_file, "--store", "postgres", "--no-validate").exit_code == 0
    services = yaml.safe_load((out / "docker-compose.yaml").read_text())["services"]
    cmd = [pg_url if a == DATABASE_URL else a for a in services["migrate"]["command"]]
    assert cmd[:3] == ["leash", "db", "migrate"]
    r = CliRunner().invoke(app, [*cmd[1:], "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["applied"]  # the schema was created
    r = CliRunner().invoke(app, [*cmd[1:], "--json"])
    assert r.exit_code == 0 and not json.loads(r.output)["applied"]  # once: a second run has nothing to do
    # the module hosts' config names the deployment's database; mapped, it opens the migrated store
    mapped = tmp_path / "mapped.yaml"
    mapped.write_text((out / "leash.yaml").read_text().replace(DATABASE_URL, pg_url))
    location = resolve_db_path(None, load_config(mapped))
    assert location == pg_url
    assert open_store(location).migrate_report() == []
