"""The exported deployment, run as its own README says (issue #24 item 1).

`leash export compose` writes envoy.yaml, leash.yaml, docker-compose.yaml and a README.
Here they run unchanged under the real Envoy binary and `leash ext-proc`, except that
the compose service names are mapped to loopback and the fixed ports to free ones
(there is no Docker engine here).  The README's "Start" block is executed by bash
line by line as written: `docker` on PATH is a small stand-in that runs
`docker compose run SERVICE CMD...` the way Compose would (the service's env_file and
volume mounts from the generated docker-compose.yaml), `docker compose up` is done by
the test (Envoy + one module host from the generated files), and `localhost:8080`
becomes Envoy's free port.  The provider keys the deployment holds come from `.env`,
filled in the way the README asks.  The default variant also carries a custom module (`leash module
new`), which must run in the module host from the copied and mounted `modules/`.
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

import pytest
import yaml
from ep_support import REDIS_URL, envoy_binary, free_port, need_redis
from typer.testing import CliRunner

PROVIDER_KEY = "sk-provider-key-from-dot-env-0123456789"
CLIENT_KEY = "sk-client-own-key-9876543210"

# `docker compose run [--rm] [-T] SERVICE CMD...` as Compose runs it: the service's env_file
# and volumes, container paths mapped to host paths (mapping.json, written by the test).
DOCKER_SHIM = r"""
import json, os, subprocess, sys
from pathlib import Path
import yaml

args = sys.argv[1:]
if args[:1] != ["compose"] or len(args) < 2 or args[1] != "run":
    sys.exit(f"docker stand-in: only `docker compose run` is emulated, got {args}")
rest = args[2:]
while rest and rest[0].startswith("-"):
    if rest[0] not in ("--rm", "-T", "--no-deps"):
        sys.exit(f"docker stand-in: unknown option {rest[0]}")
    rest = rest[1:]
service, cmd = rest[0], rest[1:]
here = Path.cwd()
compose = yaml.safe_load((here / "docker-compose.yaml").read_text())
mapping = json.loads(Path(os.environ["SHIM_MAPPING"]).read_text())
svc = compose["services"][service]
env = dict(os.environ)
for f in svc.get("env_file", []):
    for line in (here / f).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            env[k.strip()] = v
env.update(mapping["image_env"])
mounts = {}
for vol in svc.get("volumes", []):
    src, dst = vol.split(":")[:2]
    mounts[dst] = str(here / src) if src.startswith(".") else mapping["volumes"][src]
def host(a):
    for dst, src in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if a == dst or a.startswith(dst + "/"):
            return src + a[len(dst):]
    return a
env["LEASH_HOME"] = host(env.get("LEASH_HOME", ""))
cmd = [host(a) for a in cmd]
cmd[0] = str(Path(mapping["bin"]) / cmd[0])
sys.exit(subprocess.run(cmd, env=env).returncode)
"""


def _readme_block(readme: str, section: str) -> list[str]:
    """The commands of the indented code block under `## section`, continuation lines joined."""
    text = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln[4:] for ln in text.splitlines() if ln.startswith("    ")]
    cmds: list[str] = []
    for ln in lines:
        if cmds and cmds[-1].endswith("\\"):
            cmds[-1] = cmds[-1][:-1] + " " + ln.strip()
        else:
            cmds.append(ln)
    return cmds


def _map_envoy(doc, ports: dict[int, int]):
    """Service names -> 127.0.0.1, the compose ports -> free ones; nothing else changes."""
    if isinstance(doc, dict):
        sa = doc.get("socket_address")
        if isinstance(sa, dict):
            if sa["address"] in ("leash", "0.0.0.0"):
                sa["address"] = "127.0.0.1"
            sa["port_value"] = ports.get(sa["port_value"], sa["port_value"])
        for v in doc.values():
            _map_envoy(v, ports)
    elif isinstance(doc, list):
        for v in doc:
            _map_envoy(v, ports)


def _read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v
    return out


class Deployment:
    def __init__(self, out: Path, work: Path) -> None:
        self.out, self.work = out, work
        self.procs: list[subprocess.Popen] = []
        self.compose = yaml.safe_load((out / "docker-compose.yaml").read_text())
        self.port, self.admin, self.stats = free_port(), free_port(), free_port()
        self.grpc, self.metrics = free_port(), free_port()
        self.volumes = {name: str(work / "volumes" / name) for name in self.compose["volumes"]}
        for p in self.volumes.values():
            Path(p).mkdir(parents=True)
        dockerfile = (out / "Dockerfile").read_text()
        self.image_env = dict(re.findall(r"^ENV (LEASH_HOME)=(\S+)$", dockerfile, re.M))
        self.bin = str(Path(sys.executable).parent)
        mapping = {"volumes": self.volumes, "image_env": self.image_env, "bin": self.bin}
        (work / "mapping.json").write_text(json.dumps(mapping))
        shim_dir = work / "shim"
        shim_dir.mkdir()
        (shim_dir / "docker").write_text(f"#!{sys.executable}\n{DOCKER_SHIM}")
        (shim_dir / "docker").chmod(0o755)
        self.env = {
            **os.environ,
            "PATH": f"{shim_dir}:{os.environ['PATH']}",
            "SHIM_MAPPING": str(work / "mapping.json"),
        }

    def _container_path(self, svc: dict, a: str) -> str:
        for vol in svc.get("volumes", []):
            src, dst = vol.split(":")[:2]
            host = str(self.out / src) if src.startswith(".") else self.volumes[src]
            if a == dst or a.startswith(dst + "/"):
                return host + a[len(dst) :]
        return a

    def up(self) -> None:
        """`docker compose up`: one module host and Envoy from the generated files."""
        svc = self.compose["services"]["leash"]
        env = {**os.environ}
        for f in svc["env_file"]:
            env.update(_read_env(self.out / f))
        env.update(self.image_env)
        env["LEASH_HOME"] = self._container_path(svc, env["LEASH_HOME"])
        # the module host's config: leash.yaml as generated, the redis service name -> the local Redis
        text = (self.out / "leash.yaml").read_text()
        assert "redis://redis:6379/0" in text
        # the container's /etc/leash: the mapped leash.yaml, and the other mounts there (modules/) as links
        etc = self.work / "etc-leash"
        etc.mkdir()
        mapped = etc / "leash.yaml"
        mapped.write_text(text.replace("redis://redis:6379/0", REDIS_URL))
        for vol in svc["volumes"]:
            src, dst = vol.split(":")[:2]
            if dst.startswith("/etc/leash/") and dst != "/etc/leash/leash.yaml":
                (etc / dst[len("/etc/leash/") :]).symlink_to(self.out / src)
        ports = {
            str(svc["command"][svc["command"].index("--port") + 1]): str(self.grpc),
            str(svc["command"][svc["command"].index("--metrics-port") + 1]): str(self.metrics),
        }
        cmd = []
        for a in svc["command"]:
            a = str(a)
            if a == "/etc/leash/leash.yaml":
                a = str(mapped)
            a = ports.get(a, self._container_path(svc, a))
            cmd.append("127.0.0.1" if a == "0.0.0.0" else a)
        cmd[0] = str(Path(self.bin) / cmd[0])
        assert cmd[1] == "ext-proc"
        self.log = open(self.work / "leash.log", "w")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT))
        self._wait(f"http://127.0.0.1:{self.metrics}/ready", "leash ext-proc", self.work / "leash.log")
        # Envoy: the generated envoy.yaml, service names -> loopback, ports -> free ones
        doc = yaml.safe_load((self.out / "envoy.yaml").read_text())
        _map_envoy(doc, {8080: self.port, 9901: self.admin, 9902: self.stats, 50051: self.grpc})
        cfg = self.work / "envoy.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        envoy_cmd = self.compose["services"]["envoy"]["command"]
        assert envoy_cmd[:3] == ["envoy", "-c", "/etc/envoy/envoy.yaml"]
        self.procs.append(
            subprocess.Popen(
                [
                    str(envoy_binary()),
                    "-c",
                    str(cfg),
                    *envoy_cmd[3:],
                    "--use-dynamic-base-id",
                    "--concurrency",
                    "1",
                    "--log-path",
                    str(self.work / "envoy.log"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        self._wait(f"http://127.0.0.1:{self.admin}/ready", "envoy", self.work / "envoy.log")
        deadline = time.time() + 20
        while time.time() < deadline:  # Envoy's gRPC health check passed the module host
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/clusters", timeout=2) as r:
                if "leash_ext_proc::127.0.0.1:%d::health_flags::healthy" % self.grpc in r.read().decode():
                    return
            time.sleep(0.1)
        raise AssertionError("the module host never became healthy in Envoy")

    def _wait(self, url: str, what: str, log: Path) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise AssertionError(f"{what} exited: {log.read_text()[-3000:] if log.exists() else ''}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{what} did not become ready: {log.read_text()[-3000:] if log.exists() else ''}")

    def bash(self, lines: list[str], extra_env: dict[str, str] | None = None) -> list[str]:
        """Run the lines in one bash (so `export` carries over); the output of each line."""
        mark = "@@leash-test-line@@"
        script = "set -e\n" + "".join(f"{ln}\necho; echo {mark}\n" for ln in lines)
        r = subprocess.run(
            ["bash", "-c", script],
            cwd=self.out,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, f"{script}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        return [part.strip() for part in r.stdout.split(mark)[:-1]]

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if getattr(self, "log", None):
            self.log.close()


@pytest.mark.parametrize("require_key", [None, False], ids=["leash-keys (default)", "pass-through"])
@pytest.mark.slow
def test_the_exported_deployment_serves_its_readme_curls(tmp_path, upstream, require_key):
    envoy_binary()
    need_redis()
    from leash_cli.cli import app

    cfg: dict = {
        "providers": {
            "openai": {"endpoint": f"{upstream.url}/v1"},
            "anthropic": {"endpoint": upstream.url},
            "mock": {"kind": "mock"},
        },
        "modules": {"secrets-detector": {"action": "block"}, "pii-detector": {"action": "log"}},
    }
    if require_key is not None:
        cfg["gateway"] = {"require_virtual_key": require_key}
    else:  # a custom module, as `leash module new` writes it (its deny-list: "project nightingale")
        from leash_cli.scaffold import new_module

        new_module("my-policy", cwd=tmp_path)
        cfg["modules_dir"] = "modules"
        cfg["modules"]["my-policy"] = {}
    src = tmp_path / "leash.yaml"
    src.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "deploy"
    r = CliRunner().invoke(app, ["export", "compose", "--out", str(out), "--config", str(src), "--no-validate"])
    assert r.exit_code == 0, r.output
    readme = (out / "README.md").read_text()
    start = _readme_block(readme, "Start")
    up_at = next(i for i, c in enumerate(start) if c.startswith("docker compose up"))
    before, after = start[:up_at], start[up_at + 1 :]
    curls = [c for c in after if c.startswith("curl ")]
    assert len(curls) >= 2 and any("/chat/completions" in c for c in curls)
    # what the export said to do names the same steps
    assert "README.md" in r.output
    dep = Deployment(out, tmp_path / "run")
    try:
        assert dep.bash(before)  # cp .env.example .env, as written
        # "fill in the provider keys": every provider key variable the README asks for
        env_file = out / ".env"
        filled = env_file.read_text()
        if require_key is None:
            assert re.search(r"^OPENAI_API_KEY=$", filled, re.M), filled
            filled = re.sub(r"^OPENAI_API_KEY=$", f"OPENAI_API_KEY={PROVIDER_KEY}", filled, flags=re.M)
        else:
            assert "OPENAI_API_KEY" not in filled  # the client's own key passes through
        env_file.write_text(filled)
        dep.up()
        host_env = {"OPENAI_API_KEY": CLIENT_KEY} if require_key is False else {}
        chat_cmd = next(c for c in curls if "/chat/completions" in c)
        assert '"content":"hi"' in chat_cmd
        # the README's lines as written, then two of ours in the same shell: the chat curl with a
        # pasted AWS key instead of "hi", and what $LEASH_KEY holds
        ours = [
            chat_cmd.replace('"content":"hi"', '"content":"my key is AKIAZ3MSJXLQ7TP2VKR4"'),
            chat_cmd.replace('"content":"hi"', '"content":"what is project nightingale?"'),
            'echo "${LEASH_KEY:-}"',
        ]
        lines = [c.replace("localhost:8080", f"127.0.0.1:{dep.port}") for c in after + ours]
        before_count = len(upstream.requests)
        results = dep.bash(lines, host_env)
        outputs = dict(zip(after, results))
        health = next(o for c, o in outputs.items() if c.startswith("curl") and "/health" in c)
        assert json.loads(health) == {"status": "ok"}
        answer = json.loads(outputs[chat_cmd])
        assert answer.get("object") == "chat.completion", answer
        assert answer["choices"][0]["message"]["content"]
        seen = [s for s in upstream.requests if s.path == "/v1/chat/completions"][-1]
        expected = PROVIDER_KEY if require_key is None else CLIENT_KEY
        assert seen.headers["authorization"] == f"Bearer {expected}"  # from .env / the client
        blocked = json.loads(results[-3])
        assert blocked["error"]["code"] == "policy_violation", blocked  # still protected behind Envoy
        custom = json.loads(results[-2])
        if require_key is None:  # the custom module, copied and mounted, runs in the module host
            assert custom["error"]["code"] == "denied_phrase", custom
        else:
            assert custom["object"] == "chat.completion"
        assert not [s for s in upstream.requests[before_count:] if b"AKIA" in s.body]
        key = results[-1]
        if require_key is None:
            key_line = next(c for c in after if "keys create" in c)
            assert "LEASH_KEY" in key_line and "$LEASH_KEY" in chat_cmd
            assert key.startswith("lk-")
            # the gateway holds the provider key: a client sending one is refused
            r2 = subprocess.run(
                [
                    "curl",
                    "-s",
                    f"127.0.0.1:{dep.port}/v1/openai/chat/completions",
                    "-H",
                    f"authorization: Bearer {PROVIDER_KEY}",
                    "-H",
                    "content-type: application/json",
                    "-d",
                    json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert json.loads(r2.stdout)["error"]["code"] == "virtual_key_required"
        else:
            assert key == "" and not any("keys create" in c for c in after)
    finally:
        dep.close()
