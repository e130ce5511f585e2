"""Gateway benchmark: leash against a direct call to the same upstream, in one run.

    python bench/run.py                 # ~3 minutes
    python bench/run.py --duration 20   # longer runs per scenario
    python bench/run.py --soak 300      # plus a 5-minute RSS soak under load
    python bench/run.py --only modules  # only the 4 KB pipeline runs (or: --only core)
    python bench/run.py --rounds 5      # more alternating rounds for the ratios

The ratios (recording / no recording; default modules / no modules, both
recording and both not) come from gateways started side by side and loaded
in turn, round after round
(``--rounds``, default 3): each round's ratio compares runs a few seconds
apart, and the reported ratio is the median round, so a slow spell of a
shared machine lands on both sides of a round instead of on one gateway.

It starts a fast fake upstream (bench/upstream.py) and leash, pins leash to
CPU 0 and the upstream and the load generator (wrk) to CPU 1 with taskset,
and reports requests/s, p50/p99 latency and leash's CPU time per request
(the figure least disturbed by other load on the machine).  wrk is installed
from Debian's packages when missing.  Results also go to bench/results/.

The history writer is a process of its own (storage.writer: process): it is
pinned to CPU 1 with the load generator, and its CPU time per request and its
RSS are reported beside the gateway's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROMPT_300B = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": "Summarise the plot of a short story about a fox who learns to share with "
            "the other animals of the forest, in two sentences, for a child of seven.",
        },
    ],
}
PROMPT_4KB_TEXT = (
    "Please review the following deployment notes and list the risks. "
    + "The service runs three replicas behind a load balancer and talks to a queue. " * 48
)[:4000]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk not found: installing it from Debian's packages (apt-get install -y wrk)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if subprocess.call(sudo + ["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL) != 0:
        subprocess.call(sudo + ["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
        subprocess.check_call(sudo + ["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        sys.exit("could not install wrk")
    return path


def pin(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu)]
    return []


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Result:
    name: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    leash_cpu_us_per_req: float | None = None
    extra: dict = field(default_factory=dict)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def wrk(
    url: str,
    body: dict,
    connections: int,
    duration: int,
    name: str,
    leash_pid: int | None,
    unique: bool = False,
    writer_pid: int | None = None,
) -> Result:
    """One wrk run.  `unique`: every request's text differs (a counter in front of the last
    message), so nothing a module remembers from earlier requests helps."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write('wrk.headers["Authorization"] = "Bearer sk-bench-not-a-real-key"\n')
        if unique:
            # each of wrk's threads runs its own copy of this script: a run nonce and a thread
            # letter in the text keep two threads (or two runs) from ever sending the same text.
            # Letters, so the marker looks like none of what the scanners look for (a hex nonce
            # reads as leetspeak, digit runs as phone or card numbers).
            head, marker, tail = json.dumps(body).rpartition('"content": "')
            lua_head, lua_tail = json.dumps(head + marker), json.dumps(tail)
            nonce = "".join(random.choice(string.ascii_lowercase) for _ in range(8))
            f.write(f"local head = {lua_head}\nlocal tail = {lua_tail}\nlocal run = {json.dumps(nonce)}\n")
            f.write(
                "local threads = 0\nsetup = function(thread)\n  threads = threads + 1\n"
                "  thread:set('tid', string.char(96 + threads))\nend\n"
            )
            f.write(
                "local n = 0\nrequest = function()\n  n = n + 1\n"
                "  return wrk.format(nil, nil, nil, head .. 'request ' .. run .. tid .. ' number ' .. n .. ': ' .. tail)\n"
                "end\n"
            )
        script = f.name
    threads = 1 if connections < 4 else 2
    before = cpu_seconds(leash_pid) if leash_pid else None
    w_before = cpu_seconds(writer_pid) if writer_pid else None
    out = subprocess.run(
        pin(1)
        + ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = cpu_seconds(leash_pid) if leash_pid else None
    w_after = cpu_seconds(writer_pid) if writer_pid else None
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errs = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    cpu = None
    if before is not None and reqs:
        cpu = (after - before) / reqs * 1e6
    r = Result(name, connections, rps, p50, p99, reqs, errs, cpu)
    wcpu = None
    if w_before is not None and reqs:
        wcpu = r.extra["writer_cpu_us_per_req"] = round((w_after - w_before) / reqs * 1e6, 1)
    print(
        f"  {name:<34} c={connections:<3} {rps:>9.0f} req/s  p50 {p50:7.3f} ms  p99 {p99:7.3f} ms"
        + (f"  leash CPU {cpu:6.0f} µs/req" if cpu is not None else "")
        + (f" + writer {wcpu:4.0f}" if wcpu is not None else "")
        + (f"  ERRORS {errs}" if errs else ""),
        flush=True,
    )
    return r


def config_file(port: int, upstream_port: int, workdir: Path, name: str, modules: dict | None = None) -> Path:
    """A leash config for the benchmark: the fake upstream as ``openai``, full bodies stored."""
    cfg = {
        "gateway": {"host": "127.0.0.1", "port": port},
        "providers": {"openai": {"kind": "openai", "endpoint": f"http://127.0.0.1:{upstream_port}/v1"}},
        "storage": {"path": str(workdir / f"{name}.db"), "bodies": "full"},
    }
    if modules:
        cfg["modules"] = modules
    path = workdir / f"{name}.yaml"
    path.write_text(json.dumps(cfg))
    return path


class Leash:
    def __init__(self, upstream_port: int, workdir: Path, record: bool, modules: dict | None = None) -> None:
        self.port = free_port()
        path = config_file(self.port, upstream_port, workdir, f"bench-{self.port}", modules)
        cmd = pin(0) + [sys.executable, "-m", "leash_cli", "up", "--config", str(path)]
        if not record:
            cmd.append("--no-record")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(f"http://127.0.0.1:{self.port}/health")
        self.url = f"http://127.0.0.1:{self.port}/v1/openai/chat/completions"
        # the history writer process: on CPU 1, away from the gateway's core
        self.writer = next(iter(children(self.proc.pid)), None) if record else None
        if self.writer and pin(1):
            subprocess.run(["taskset", "-a", "-p", "-c", "1", str(self.writer)], stdout=subprocess.DEVNULL, check=True)
        self.db = path.with_suffix(".db")

    def stop(self) -> None:
        stop(self.proc, 30)


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (leash drains), then SIGKILL after `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--soak", type=int, default=0, help="seconds of RSS soak under load (e.g. 300)")
    ap.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON results")
    ap.add_argument(
        "--only",
        choices=("core", "modules"),
        help="run one part: the gateway and recording runs, or the 4 KB pipeline runs",
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds behind each of the two ratios")
    args = ap.parse_args()
    ensure_wrk()
    d = args.duration
    work = Path(tempfile.mkdtemp(prefix="leash-bench-"))
    up_port = free_port()
    upstream = subprocess.Popen(
        pin(1) + [sys.executable, str(HERE / "upstream.py"), "--port", str(up_port)], stdout=subprocess.DEVNULL
    )
    wait_port(up_port)
    direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    results: list[Result] = []
    summary: dict = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "duration_s": d}
    stream_body = {**PROMPT_300B, "stream": True}
    try:
        if args.only != "modules":
            print(f"body {len(json.dumps(PROMPT_300B))} B; leash on CPU 0, upstream and wrk on CPU 1", flush=True)
            leash = Leash(up_port, work, record=True)
            try:
                urllib.request.urlopen(
                    urllib.request.Request(
                        leash.url, data=json.dumps(PROMPT_300B).encode(), headers={"content-type": "application/json"}
                    )
                ).read()
                time.sleep(0.5)
                summary["idle_rss_mb"] = round(rss_mb(leash.proc.pid), 1)
                if leash.writer:
                    summary["writer_idle_rss_mb"] = round(rss_mb(leash.writer), 1)
                print(
                    f"leash idle RSS {summary['idle_rss_mb']} MB"
                    + (f" (+ writer process {summary['writer_idle_rss_mb']} MB)" if leash.writer else ""),
                    flush=True,
                )
                print("non-streaming chat completion:", flush=True)
                results.append(wrk(direct, PROMPT_300B, 16, d, "direct", None))
                results.append(
                    wrk(leash.url, PROMPT_300B, 16, d, "leash (recording)", leash.proc.pid, writer_pid=leash.writer)
                )
                results.append(wrk(direct, PROMPT_300B, 1, d, "direct", None))
                results.append(
                    wrk(leash.url, PROMPT_300B, 1, d, "leash (recording)", leash.proc.pid, writer_pid=leash.writer)
                )
                print("SSE, 20 events:", flush=True)
                results.append(wrk(direct, stream_body, 64, d, "direct stream", None))
                results.append(
                    wrk(
                        leash.url,
                        stream_body,
                        64,
                        d,
                        "leash stream (recording)",
                        leash.proc.pid,
                        writer_pid=leash.writer,
                    )
                )
                if args.soak:
                    print(f"soak: {args.soak} s at 16 connections, sampling RSS", flush=True)
                    samples = []
                    proc = subprocess.Popen(
                        pin(1)
                        + ["wrk", "-t", "1", "-c", "16", "-d", f"{args.soak}s", "-s", _lua(PROMPT_300B), leash.url],
                        stdout=subprocess.DEVNULL,
                    )
                    t0 = time.time()
                    while proc.poll() is None:
                        samples.append((round(time.time() - t0), round(rss_mb(leash.proc.pid), 1)))
                        time.sleep(10)
                    summary["soak_rss_mb"] = samples
                    print(f"  RSS over time (s, MB): {samples}", flush=True)
                summary["rss_after_load_mb"] = round(rss_mb(leash.proc.pid), 1)
                bare = Leash(up_port, work, record=False)
                try:
                    print(f"with and without recording, {args.rounds} alternating rounds:", flush=True)
                    summary["recording_rounds"] = alternate(
                        results,
                        args.rounds,
                        PROMPT_300B,
                        d,
                        False,
                        ("leash (recording)", leash),
                        ("leash (no recording)", bare),
                    )
                finally:
                    bare.stop()
            finally:
                leash.stop()
        if args.only != "core":
            print("pipeline, 4 KB prompt (no modules, then the default modules):", flush=True)
            big = {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "You are a careful reviewer."},
                    {"role": "user", "content": PROMPT_4KB_TEXT},
                ],
            }
            plain = Leash(up_port, work, record=True)
            mods = Leash(up_port, work, record=True, modules=DEFAULT_MODULES)
            try:
                summary["modules_rounds"] = alternate(
                    results,
                    args.rounds,
                    big,
                    d,
                    True,
                    ("leash 4KB, default modules", mods),
                    ("leash 4KB, no modules", plain),
                )
                summary["module_ms"] = module_percentiles(mods.db)  # fresh text every request
                # the same 4 KB message every time, as when an agent resends its history
                results.append(wrk(mods.url, big, 16, d, "leash 4KB repeated, default modules", mods.proc.pid))
            finally:
                plain.stop()
                mods.stop()
            # the same pair recording nothing: the writer process shares CPU 1 with wrk and the
            # upstream, and at the faster gateway's rate it holds that side back more
            plain = Leash(up_port, work, record=False)
            mods = Leash(up_port, work, record=False, modules=DEFAULT_MODULES)
            try:
                print("the same without recording:", flush=True)
                summary["modules_rounds_no_recording"] = alternate(
                    results,
                    args.rounds,
                    big,
                    d,
                    True,
                    ("leash 4KB, default modules, no rec", mods),
                    ("leash 4KB, no modules, no rec", plain),
                )
            finally:
                plain.stop()
                mods.stop()
            for name, q in summary["module_ms"].items():
                print(f"  {name:<20} p50 {q['p50']:.3f} ms  p95 {q['p95']:.3f} ms", flush=True)
    finally:
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    by: dict[tuple, Result] = {}
    for r in results:  # the first run of each name (the alternating rounds repeat two of them)
        by.setdefault((r.name, r.connections), r)
    if args.only != "modules":
        dir16, le16 = by[("direct", 16)], by[("leash (recording)", 16)]
        dir1, le1 = by[("direct", 1)], by[("leash (recording)", 1)]
        ds, ls = by[("direct stream", 64)], by[("leash stream (recording)", 64)]
        rec = summary.pop("recording_rounds")
        summary.update(
            leash_rps_16=round(le16.rps),
            direct_rps_16=round(dir16.rps),
            ratio_leash_vs_direct_16=round(le16.rps / dir16.rps, 3),
            added_p50_ms_1conn=round(le1.p50_ms - dir1.p50_ms, 3),
            added_p99_ms_1conn=round(le1.p99_ms - dir1.p99_ms, 3),
            leash_streams_per_s_64=round(ls.rps),
            direct_streams_per_s_64=round(ds.rps),
            recording_ratio=rec["median_ratio"],
            recording_round_ratios=rec["ratios"],
            recording_rps_16_median=rec["median_rps"][0],
            no_recording_rps_16_median=rec["median_rps"][1],
            leash_cpu_us_per_req=rec["median_cpu_us"][0],
            writer_cpu_us_per_req=rec["median_writer_cpu_us"],
            leash_cpu_us_per_req_no_recording=rec["median_cpu_us"][1],
            leash_cpu_us_per_stream=round(ls.leash_cpu_us_per_req or 0),
        )
    if args.only != "core":
        mods = summary.pop("modules_rounds")
        summary.update(
            modules_rps_4kb=mods["median_rps"][0],
            no_modules_rps_4kb=mods["median_rps"][1],
            modules_ratio_4kb=mods["median_ratio"],
            modules_round_ratios=mods["ratios"],
            modules_cpu_us_per_req_4kb=mods["median_cpu_us"][0],
            no_modules_cpu_us_per_req_4kb=mods["median_cpu_us"][1],
            modules_rps_4kb_repeated=round(by[("leash 4KB repeated, default modules", 16)].rps),
        )
        bare = summary.pop("modules_rounds_no_recording")
        summary.update(
            modules_rps_4kb_no_recording=bare["median_rps"][0],
            no_modules_rps_4kb_no_recording=bare["median_rps"][1],
            modules_ratio_4kb_no_recording=bare["median_ratio"],
            modules_round_ratios_no_recording=bare["ratios"],
            modules_cpu_us_per_req_4kb_no_recording=bare["median_cpu_us"][0],
            no_modules_cpu_us_per_req_4kb_no_recording=bare["median_cpu_us"][1],
        )
    print("\nsummary:")
    for k, v in summary.items():
        if k not in ("soak_rss_mb", "module_ms"):
            print(f"  {k:<34} {v}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"summary": summary, "runs": [asdict(r) for r in results]}, indent=2))


def alternate(results: list, rounds: int, body: dict, duration: int, unique: bool, a: tuple, b: tuple) -> dict:
    """Load gateway ``a`` then ``b``, ``rounds`` times (16 connections): per-round ratios
    of a's requests/s to b's, their median, and the median figures of each side."""
    import statistics

    (name_a, gw_a), (name_b, gw_b) = a, b
    pairs = []
    for _ in range(max(rounds, 1)):
        ra = wrk(gw_a.url, body, 16, duration, name_a, gw_a.proc.pid, unique=unique, writer_pid=gw_a.writer)
        rb = wrk(gw_b.url, body, 16, duration, name_b, gw_b.proc.pid, unique=unique, writer_pid=gw_b.writer)
        results += [ra, rb]
        pairs.append((ra, rb))
        print(f"    round ratio {ra.rps / rb.rps:.3f}", flush=True)
    ratios = [round(ra.rps / rb.rps, 3) for ra, rb in pairs]
    med = statistics.median

    def side(i: int, get) -> float:
        vals = [get(p[i]) for p in pairs if get(p[i]) is not None]
        return round(med(vals), 1) if vals else None

    return {
        "ratios": ratios,
        "median_ratio": round(med(ratios), 3),
        "median_rps": (round(side(0, lambda r: r.rps)), round(side(1, lambda r: r.rps))),
        "median_cpu_us": (side(0, lambda r: r.leash_cpu_us_per_req), side(1, lambda r: r.leash_cpu_us_per_req)),
        "median_writer_cpu_us": side(0, lambda r: r.extra.get("writer_cpu_us_per_req")),
    }


DEFAULT_MODULES = {
    "secrets-detector": {"action": "block"},
    "pii-detector": {"action": "log"},
    "prompt-injection": {"mode": "shadow"},
}


def module_percentiles(db: Path) -> dict:
    """Per-module and whole-pipeline p50/p95 (ms) from the history's module_timings."""
    import sqlite3
    import statistics

    time.sleep(0.5)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    per: dict[str, list[float]] = {}
    totals: list[float] = []
    for (raw,) in con.execute("SELECT module_timings FROM requests WHERE module_timings IS NOT NULL"):
        t = json.loads(raw)
        totals.append(sum(t.values()))
        for k, v in t.items():
            per.setdefault(k, []).append(v)
    con.close()
    out = {}
    for k, vals in [*per.items(), ("(pipeline total)", totals)]:
        if len(vals) >= 20:
            q = statistics.quantiles(vals, n=100)
            out[k] = {"p50": round(q[49], 4), "p95": round(q[94], 4), "n": len(vals)}
    return out


def _lua(body: dict) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        return f.name


if __name__ == "__main__":
    main()
