"""The `--store postgres` deployment run as its README says: Envoy in front of N module hosts sharing one
PostgreSQL (no Docker engine here, as in test_export_e2e.py).

The generated files run unchanged under the real Envoy binary and `leash ext-proc`, except that the
compose services are mapped to this machine: `postgres` to the real PostgreSQL server (a schema of
its own), `redis` to the local Redis, the module hosts' fixed ports to free ones, and the compose
DNS name `leash` (one address per replica) to one endpoint per module host in Envoy's
`leash_ext_proc` cluster.  The `migrate` service runs first, as Compose runs it before the module
hosts; the README's Start block runs in bash (`docker compose run` through a stand-in that reads
the service's env files).  N requests in: N rows in PostgreSQL, served by every replica.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
import yaml
from ep_support import REDIS_URL, envoy_binary, free_port, need_redis
from test_export_e2e import DOCKER_SHIM, _map_envoy, _read_env, _readme_block
from typer.testing import CliRunner

from leash_cli.extproc.export import DATABASE_URL

PROVIDER_KEY = "sk-provider-key-from-dot-env-0123456789"
REPLICAS = 2
REQUESTS = 40


def _wait(url: str, what: str, procs: list[subprocess.Popen], log: Path) -> None:
    deadline = time.time() + 40
    while time.time() < deadline:
        if any(p.poll() is not None for p in procs):
            raise AssertionError(f"{what} exited: {log.read_text()[-3000:] if log.exists() else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not become ready: {log.read_text()[-3000:] if log.exists() else ''}")


def _requests_served(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3) as r:
        text = r.read().decode()
    return sum(float(m) for m in re.findall(r"^leash_gateway_requests_total\{[^}]*\} (\S+)$", text, re.M))


@pytest.mark.slow
def test_replicas_behind_envoy_share_one_postgres(tmp_path, upstream, pg_url):
    binary = envoy_binary()
    need_redis()
    import psycopg

    from leash_cli.cli import app

    src = tmp_path / "leash.yaml"
    src.write_text(
        yaml.safe_dump(
            {
                "providers": {"openai": {"endpoint": f"{upstream.url}/v1"}},
                "modules": {"pii-detector": {"action": "redact"}},
                "storage": {"flush_interval_ms": 5},
            }
        )
    )
    out = tmp_path / "deploy"
    r = CliRunner().invoke(
        app,
        ["export", "compose", "--out", str(out), "--config", str(src), "--store", "postgres"]
        + ["--replicas", str(REPLICAS), "--no-validate"],
    )
    assert r.exit_code == 0, r.output
    compose = yaml.safe_load((out / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert services["leash"]["deploy"]["replicas"] == REPLICAS
    start = _readme_block((out / "README.md").read_text(), "Start")
    up_at = next(i for i, c in enumerate(start) if c.startswith("docker compose up"))
    before, after = start[:up_at], start[up_at + 1 :]

    work = tmp_path / "run"
    work.mkdir()
    bindir = Path(sys.executable).parent
    # `docker compose run`: the service's env files; the compose names mapped to this machine
    mapping = {"volumes": {}, "image_env": {"LEASH_HOME": str(work / "home")}, "bin": str(bindir)}
    (work / "mapping.json").write_text(json.dumps(mapping))
    shim_src = DOCKER_SHIM.replace(
        "cmd = [host(a) for a in cmd]",
        f"cmd = [{pg_url!r} if a == {DATABASE_URL!r} else host(a) for a in cmd]",
    )
    assert shim_src != DOCKER_SHIM
    (work / "shim").mkdir()
    (work / "shim" / "docker").write_text(f"#!{sys.executable}\n{shim_src}")
    (work / "shim" / "docker").chmod(0o755)
    shell_env = {
        **os.environ,
        "PATH": f"{work / 'shim'}:{os.environ['PATH']}",
        "SHIM_MAPPING": str(work / "mapping.json"),
    }

    def bash(lines: list[str]) -> list[str]:
        mark = "@@leash-test-line@@"
        script = "set -e\n" + "".join(f"{ln}\necho; echo {mark}\n" for ln in lines)
        res = subprocess.run(
            ["bash", "-c", script], cwd=out, env=shell_env, capture_output=True, text=True, timeout=120
        )
        assert res.returncode == 0, f"{script}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
        return [part.strip() for part in res.stdout.split(mark)[:-1]]

    bash(before)  # cp .env.example .env
    env_file = out / ".env"
    env_file.write_text(
        re.sub(r"^OPENAI_API_KEY=$", f"OPENAI_API_KEY={PROVIDER_KEY}", env_file.read_text(), flags=re.M)
    )

    def service_env(name: str) -> dict[str, str]:
        env = {**os.environ, "LEASH_HOME": str(work / f"home-{name}")}
        for f in services[name]["env_file"]:
            env.update(_read_env(out / f))
        return env

    procs: list[subprocess.Popen] = []
    logs = []
    try:
        # `docker compose up`: postgres is healthy (the real server), then migrate runs once ...
        cmd = [pg_url if a == DATABASE_URL else a for a in services["migrate"]["command"]]
        migrated = subprocess.run(
            [str(bindir / cmd[0]), *cmd[1:]], env=service_env("migrate"), capture_output=True, text=True, timeout=60
        )
        assert migrated.returncode == 0, migrated.stderr
        assert "applied" in migrated.stdout
        # ... then the module host replicas, from the generated leash.yaml and command
        etc = work / "etc-leash"
        etc.mkdir()
        text = (out / "leash.yaml").read_text()
        assert DATABASE_URL in text and "redis://redis:6379/0" in text
        (etc / "leash.yaml").write_text(text.replace(DATABASE_URL, pg_url).replace("redis://redis:6379/0", REDIS_URL))
        svc = services["leash"]
        grpc_ports, metrics_ports = [], []
        for i in range(REPLICAS):
            grpc, metrics = free_port(), free_port()
            ports = {
                str(svc["command"][svc["command"].index("--port") + 1]): str(grpc),
                str(svc["command"][svc["command"].index("--metrics-port") + 1]): str(metrics),
            }
            cmd = [ports.get(str(a), str(a)) for a in svc["command"]]
            cmd = [str(etc / "leash.yaml") if a == "/etc/leash/leash.yaml" else a for a in cmd]
            cmd = ["127.0.0.1" if a == "0.0.0.0" else a for a in cmd]
            assert cmd[1] == "ext-proc" and "--db" not in cmd
            log = work / f"leash-{i}.log"
            logs.append(open(log, "w"))
            procs.append(
                subprocess.Popen(
                    [str(bindir / cmd[0]), *cmd[1:]],
                    env=service_env("leash"),
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                )
            )
            _wait(f"http://127.0.0.1:{metrics}/ready", f"module host {i}", procs, log)
            grpc_ports.append(grpc)
            metrics_ports.append(metrics)
        # Envoy: the generated envoy.yaml; the `leash` DNS name resolves to one address per replica
        doc = yaml.safe_load((out / "envoy.yaml").read_text())
        port, admin, stats = free_port(), free_port(), free_port()
        _map_envoy(doc, {8080: port, 9901: admin, 9902: stats})
        (cluster,) = [c for c in doc["static_resources"]["clusters"] if c["name"] == "leash_ext_proc"]
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert endpoint["endpoint"]["address"]["socket_address"]["address"] == "127.0.0.1"
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
            {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": g}}}} for g in grpc_ports
        ]
        (work / "envoy.yaml").write_text(yaml.safe_dump(doc))
        envoy_cmd = services["envoy"]["command"]
        procs.append(
            subprocess.Popen(
                [str(binary), "-c", str(work / "envoy.yaml"), *envoy_cmd[3:], "--use-dynamic-base-id"]
                + ["--concurrency", "1", "--log-path", str(work / "envoy.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait(f"http://127.0.0.1:{admin}/ready", "envoy", procs, work / "envoy.log")
        deadline = time.time() + 30
        while time.time() < deadline:  # every replica passed Envoy's gRPC health check
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters", timeout=2) as resp:
                body = resp.read().decode()
            if all(f"leash_ext_proc::127.0.0.1:{g}::health_flags::healthy" in body for g in grpc_ports):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the module hosts never became healthy in Envoy")

        # the README's Start steps after `up`: the first leash key goes into PostgreSQL
        key_line = next(c for c in after if "keys create" in c)
        assert f"--db {DATABASE_URL}" in key_line
        key = bash([key_line, 'echo "$LEASH_KEY"'])[-1]
        assert key.startswith("lk-")
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("select count(*) from virtual_keys").fetchone()[0] == 1

        # N requests in through Envoy ...
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(REQUESTS):
                resp = client.post(
                    "/v1/openai/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"n{i} mail a@b.example"}]},
                )
                assert resp.status_code == 200, resp.text
        # ... N records out, in the one database, written by every replica
        deadline = time.time() + 20
        count = 0
        while time.time() < deadline:
            with psycopg.connect(pg_url) as conn:
                count = conn.execute("select count(*) from requests").fetchone()[0]
            if count >= REQUESTS:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # nothing more arrives
        with psycopg.connect(pg_url) as conn:
            count = conn.execute("select count(*) from requests").fetchone()[0]
            distinct = conn.execute("select count(distinct id) from requests").fetchone()[0]
            redacted = conn.execute("select count(*) from requests where verdict = 'redacted'").fetchone()[0]
        assert count == distinct == REQUESTS
        assert redacted == REQUESTS
        served = [_requests_served(m) for m in metrics_ports]
        assert sum(served) == REQUESTS and all(n > 0 for n in served), served
        seen = [s for s in upstream.requests if s.path == "/v1/chat/completions"][-1]
        assert seen.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        for f in logs:
            f.close()
