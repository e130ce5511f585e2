"""Instructions per request (valgrind's callgrind): the figure this machine cannot blur.

    python bench/instructions.py                  # recording vs not, then modules vs not (~6 minutes)
    python bench/instructions.py --only recording # or: --only modules

Requests/s on a shared 2-core machine move by 10-15 % from one minute to the
next; callgrind counts the instructions leash executes, all its threads
included, and gives the same count for the same work whatever else the
machine does.  It runs leash under callgrind (about 50 times slower), loads
it with wrk at 16 connections as bench/run.py does, zeroes the counters after
a warm-up, dumps them after ``--duration`` seconds and divides by the requests
wrk completed.  What it cannot see: time in the kernel, cache misses, and the
writer process (a child, not traced) — bench/run.py measures those.

Note that time-driven work (the 5 ms hand-over of history rows, the writer's
status reports) is spread over ~50 times fewer requests under callgrind than
at full speed, so the recording figure is an upper bound.  valgrind is
installed from Debian's packages when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (the benchmark's upstream, prompts, wrk and pinning)


def ensure_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    print("valgrind not found: installing it from Debian's packages (apt-get install -y valgrind)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if subprocess.call(sudo + ["apt-get", "install", "-y", "-q", "valgrind"], stdout=subprocess.DEVNULL) != 0:
        subprocess.call(sudo + ["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
        subprocess.check_call(sudo + ["apt-get", "install", "-y", "-q", "valgrind"], stdout=subprocess.DEVNULL)


def instructions(
    upstream_port: int,
    work: Path,
    name: str,
    body: dict,
    *,
    record: bool,
    modules: dict | None,
    unique: bool,
    duration: int,
) -> tuple[int, float]:
    """(requests, instructions per request) of one leash under callgrind."""
    port = bench.free_port()
    path = bench.config_file(port, upstream_port, work, name, modules)
    out = work / f"{name}.callgrind"
    cmd = bench.pin(0) + [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "leash_cli",
        "up",
        "--config",
        str(path),
    ]
    if not record:
        cmd.append("--no-record")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bench.wait_http(f"http://127.0.0.1:{port}/health", timeout=300)
        url = f"http://127.0.0.1:{port}/v1/openai/chat/completions"
        bench.wrk(url, body, 16, 5, f"{name} (warm-up)", None, unique=unique)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], stdout=subprocess.DEVNULL, check=True)
        r = bench.wrk(url, body, 16, duration, name, None, unique=unique)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], stdout=subprocess.DEVNULL, check=True)
        time.sleep(1)
    finally:
        bench.stop(proc, 120)  # (a slow drain under callgrind)
    total = None
    for f in sorted(work.glob(f"{name}.callgrind.*")):  # the dump after zeroing (not the one at exit)
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                break
        break
    if total is None or not r.requests:
        raise RuntimeError(f"no callgrind dump for {name}")
    per = total / r.requests
    print(f"  {name:<34} {r.requests:6d} requests  {per:12,.0f} instructions/request", flush=True)
    return r.requests, per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=20, help="seconds of load per measurement")
    ap.add_argument("--only", choices=("recording", "modules"))
    args = ap.parse_args()
    bench.ensure_wrk()
    ensure_valgrind()
    work = Path(tempfile.mkdtemp(prefix="leash-instructions-"))
    up = bench.free_port()
    upstream = subprocess.Popen(
        bench.pin(1) + [sys.executable, str(HERE / "upstream.py"), "--port", str(up)], stdout=subprocess.DEVNULL
    )
    bench.wait_port(up)
    big = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a careful reviewer."},
            {"role": "user", "content": bench.PROMPT_4KB_TEXT},
        ],
    }
    summary: dict = {}
    try:
        if args.only != "modules":
            print("300 B chat completion, with and without recording:", flush=True)
            _, rec = instructions(
                up,
                work,
                "recording",
                bench.PROMPT_300B,
                record=True,
                modules=None,
                unique=False,
                duration=args.duration,
            )
            _, bare = instructions(
                up,
                work,
                "no-recording",
                bench.PROMPT_300B,
                record=False,
                modules=None,
                unique=False,
                duration=args.duration,
            )
            summary.update(
                recording_instr_per_req=round(rec),
                no_recording_instr_per_req=round(bare),
                recording_instr_ratio=round(bare / rec, 3),
            )
        if args.only != "recording":
            print("4 KB prompt (a new text each request), default modules and none:", flush=True)
            _, mods = instructions(
                up,
                work,
                "modules",
                big,
                record=True,
                modules=bench.DEFAULT_MODULES,
                unique=True,
                duration=args.duration,
            )
            _, plain = instructions(
                up, work, "no-modules", big, record=True, modules=None, unique=True, duration=args.duration
            )
            summary.update(
                modules_instr_per_req=round(mods),
                no_modules_instr_per_req=round(plain),
                modules_instr_ratio=round(plain / mods, 3),
            )
    finally:
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print("\nsummary (a ratio is the share of instructions the gateway would run without the feature):")
    for k, v in summary.items():
        print(f"  {k:<28} {v}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "instructions.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
